"""Join operators: how rows of two inputs meet, as Kafka Streams joins them for ksqlDB.

Each operator takes the events of its left input (a source or another join) and of its
right source, and emits events to its parent:

* a stream event `(key, row, ts, rec)`: `row` is the joined row so far (every source of
  the subtree side by side, NULLs for a missing side), `key` the join key;
* a table change `(key, new row | None, old row | None, ts, rec)`, with the old row so a
  filter downstream can tell a retraction from nothing (Kafka Streams' Change with
  `sendOldValues`).

`rec` is the input record that caused the event (for error attribution and headers).
The rules are Kafka Streams' (`KStreamKStreamJoin`, `KStreamKTableJoin`,
`KTableKTable{Inner,Left,Right,Outer}Join`, `KTableKTableForeignKeyJoin`) as ksqlDB
builds them (`StreamStreamJoinBuilder`, `TableTableJoinBuilder`,
`ForeignKeyTableTableJoinBuilder`): read from their sources, no code copied.
"""

from __future__ import annotations

from typing import Any, Callable

from fraudstream.embedded.ksqldb.operators.join_state import (
    LONG_MAX,
    NO_TIMESTAMP,
    Changes,
    OuterStore,
    TableStore,
    WindowStore,
)
from fraudstream.embedded.ksqldb.expr.values import hashable

#: JoinWindows.of(): without GRACE PERIOD the grace is 24 h minus both window sides
DEPRECATED_DEFAULT_GRACE_MS = 24 * 3600 * 1000
#: StreamsConfig's default emit interval of held-back outer-join results (wall clock)
DEFAULT_OUTER_EMIT_INTERVAL_MS = 1000

StreamOut = Callable[[Any, tuple, int, Any], None]
ChangeOut = Callable[[Any, "tuple | None", "tuple | None", int, Any], None]


def _wrap64(v: int) -> int:
    """Java long arithmetic (Kafka Streams' overflow in `minTime + after + grace`)."""
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


class TableSource:
    """A table input of a join: its rows by primary key; emits each change with the old
    row. `get(key)` is the value getter joins look rows up with."""

    def __init__(self, store: TableStore, ts_slot: int) -> None:
        self.store = store
        self.ts_slot = ts_slot
        self.out: ChangeOut | None = None

    def update(self, key: Any, raw_key: Any, row: tuple | None, ts: int, rec: Any) -> None:
        old = self.store.put(hashable(key), raw_key, row)
        if self.out is not None:
            self.out(raw_key, row, old, ts, rec)

    def get(self, key: Any) -> tuple | None:
        return self.store.get(hashable(key))

    def row_ts(self, row: tuple) -> int:
        return row[self.ts_slot]


class StreamStreamJoin:
    """KStreamKStreamJoin over both sides, with ksqlDB's roles: INNER, LEFT and OUTER join
    left (this) to right (other); RIGHT joins right (this) to left (other) with the same
    WITHIN window. Each side keeps a `WindowStore`; with GRACE PERIOD, left/outer records
    without a match wait in the `OuterStore` until their window closes (no spurious
    results), otherwise they are emitted at once with NULLs for the other side."""

    def __init__(self, store_id: str, kind: str, before: int, after: int, grace: int | None,
                 left_width: int, right_width: int, changes: Changes,
                 clock: Callable[[], int], emit_interval: Callable[[], int]) -> None:
        self.kind = kind
        self.before, self.after = before, after
        self.spurious_fix = grace is not None
        self.grace = grace if grace is not None else max(DEPRECATED_DEFAULT_GRACE_MS - 2 * before, 0)
        retention = before + after + self.grace
        self.left_nulls = (None,) * left_width
        self.right_nulls = (None,) * right_width
        self.stores = {
            "L": WindowStore(store_id + "L", retention, changes),
            "R": WindowStore(store_id + "R", retention, changes),
        }
        #: the "this" side of the Kafka Streams join (its processor's window is
        #: [ts - before, ts + after]; the other side's is [ts - after, ts + before])
        self.this = "R" if kind == "RIGHT" else "L"
        self.outer = {"L": kind in ("LEFT", "OUTER"), "R": kind in ("RIGHT", "OUTER")}
        self.outer_store = (OuterStore(store_id + "O", changes)
                            if self.spurious_fix and (self.outer["L"] or self.outer["R"]) else None)
        self.changes = changes
        self.time_id = (store_id + "T", "t")
        self.stream_time = NO_TIMESTAMP
        self.min_time = LONG_MAX
        self.next_emit = 0
        self.clock = clock
        self.emit_interval = emit_interval
        self.out: StreamOut | None = None

    # ---- inputs
    def left(self, key: Any, row: tuple, ts: int, rec: Any) -> None:
        self._process("L", key, row, ts, rec)

    def right(self, key: Any, row: tuple, ts: int, rec: Any) -> None:
        self._process("R", key, row, ts, rec)

    def _windows(self, side: str) -> tuple[int, int]:
        """(before, after) of this side's processor."""
        return (self.before, self.after) if side == self.this else (self.after, self.before)

    def _joined(self, side: str, row: tuple, other: tuple | None) -> tuple:
        if side == "L":
            return row + (other if other is not None else self.right_nulls)
        return (other if other is not None else self.left_nulls) + row

    def _process(self, side: str, key: Any, row: tuple, ts: int, rec: Any) -> None:
        out = self.out
        assert out is not None
        other = "R" if side == "L" else "L"
        if key is not None:
            # KStreamJoinWindow: every record with a key enters its side's window store
            self.stores[side].put(hashable(key), key, ts, row)
        if ts > self.stream_time:
            self.stream_time = ts
            self.changes.put(self.time_id, (self.stream_time, self.min_time))
        if key is None:
            # KIP-962: an outer side's record with a NULL key joins nothing, at once
            if self.outer[side]:
                out(key, self._joined(side, row, None), ts, rec)
            return
        if ts == self.stream_time and self.outer_store is not None:
            self._emit_closed(side, rec)
        before, after = self._windows(side)
        t_from, t_to = max(0, ts - before), max(0, ts + after)
        hk = hashable(key)
        matches = self.stores[other].fetch(hk, t_from, t_to)
        this_side = side == self.this
        for o_ts, _seq, o_row, _raw in matches:
            if self.outer_store is not None:
                self.outer_store.remove(o_ts, not this_side, hk)
            out(key, self._joined(side, row, o_row), max(ts, o_ts), rec)
        if not matches and self.outer[side]:
            if self.outer_store is None or t_to < self.stream_time:
                out(key, self._joined(side, row, None), ts, rec)
            else:
                self.min_time = min(self.min_time, ts)
                self.changes.put(self.time_id, (self.stream_time, self.min_time))
                self.outer_store.put(ts, this_side, hk, key, row)

    def _emit_closed(self, side: str, rec: Any) -> None:
        """emitNonJoinedOuterRecords: emit (and forget) the held-back records whose
        window closed, at most once per emit interval of wall-clock time."""
        store = self.outer_store
        assert store is not None and self.out is not None
        _before, after = self._windows(side)
        if _wrap64(self.min_time + after + self.grace) >= self.stream_time:
            return
        now = self.clock()
        if now < self.next_emit:
            return
        self.next_emit = now + self.emit_interval()
        self.min_time = LONG_MAX
        left_open = right_open = False
        done = []
        for (ts, this_side, hk), values in store.in_order():
            self.min_time = ts
            if left_open and right_open:
                break
            # the this-side looks back `after`, the other side `before`
            look_back = self.after if this_side else self.before
            if self.min_time + look_back + self.grace >= self.stream_time:
                if this_side:
                    left_open = True
                else:
                    right_open = True
                continue
            rec_side = self.this if this_side else ("L" if self.this == "R" else "R")
            for row, raw_key in values:
                self.out(raw_key, self._joined(rec_side, row, None), ts, rec)
            done.append((ts, this_side, hk))
        for k in done:
            store.remove(*k)
        self.changes.put(self.time_id, (self.stream_time, self.min_time))

    def expire(self) -> None:
        for s in self.stores.values():
            s.expire()

    # ---- changelog
    def load(self, key: tuple, value: Any) -> bool:
        sid = key[0]
        if key == self.time_id:
            self.stream_time, self.min_time = value
            return True
        for s in self.stores.values():
            if sid == s.id:
                s.load(key, value)
                return True
        if self.outer_store is not None and sid == self.outer_store.id:
            self.outer_store.load(key, value)
            return True
        return False

    def reset(self) -> None:
        for s in self.stores.values():
            s.reset()
        if self.outer_store is not None:
            self.outer_store.reset()
        self.stream_time = NO_TIMESTAMP
        self.min_time = LONG_MAX
        self.next_emit = 0


class StreamTableJoin:
    """KStreamKTableJoin: each stream event looks its join key up in the table as it is
    now; INNER drops it without a row, LEFT joins NULLs (a NULL key too, KIP-962).
    Table changes only update the table (they trigger nothing)."""

    def __init__(self, kind: str, table: TableSource, right_width: int) -> None:
        self.kind = kind
        self.table = table
        self.nulls = (None,) * right_width
        self.out: StreamOut | None = None

    def left(self, key: Any, row: tuple, ts: int, rec: Any) -> None:
        assert self.out is not None
        found = None if key is None else self.table.get(key)
        if found is None:
            if self.kind == "INNER":
                return
            found = self.nulls
        self.out(key, row + found, ts, rec)


class TableTableJoin:
    """A primary-key join of two tables (the left may itself be a table join): every
    change of either side emits the changed join row, with Kafka Streams' rules per join
    type and side, and the result timestamp max(this record, the other side's row)."""

    def __init__(self, kind: str, left_get: Callable[[Any], tuple | None],
                 right: TableSource, left_width: int, right_width: int,
                 left_ts: Callable[[tuple], int]) -> None:
        self.kind = kind
        self.left_get = left_get
        self.right = right
        self.left_nulls = (None,) * left_width
        self.right_nulls = (None,) * right_width
        self.left_ts = left_ts
        self.out: ChangeOut | None = None

    def _join(self, left: tuple | None, right: tuple | None) -> tuple:
        return (left if left is not None else self.left_nulls) + (right if right is not None else self.right_nulls)

    def get(self, key: Any) -> tuple | None:
        """The join row of `key` now (value getter for a join above this one)."""
        left, right = self.left_get(key), self.right.get(key)
        kind = self.kind
        if kind == "INNER" and (left is None or right is None):
            return None
        if kind == "LEFT" and left is None:
            return None
        if kind == "RIGHT" and right is None:
            return None
        if left is None and right is None:
            return None
        return self._join(left, right)

    def row_ts(self, row: tuple) -> int:
        lts = self.left_ts(row)
        rts = row[len(self.left_nulls) + self.right.ts_slot]
        return max(t for t in (lts, rts) if t is not None)

    def left_change(self, key: Any, new: tuple | None, old: tuple | None, ts: int, rec: Any) -> None:
        other = self.right.get(key) if key is not None else None
        other_ts = None if other is None else self.right.row_ts(other)
        self._change(key, new, old, ts, rec, other, other_ts, this_is_left=True)

    def right_change(self, key: Any, new: tuple | None, old: tuple | None, ts: int, rec: Any) -> None:
        other = self.left_get(key) if key is not None else None
        other_ts = None if other is None else self.left_ts(other)
        self._change(key, new, old, ts, rec, other, other_ts, this_is_left=False)

    def _change(self, key, new, old, ts, rec, other, other_ts, this_is_left: bool) -> None:
        assert self.out is not None
        if key is None:
            return  # a table row needs a key: skipped
        kind = self.kind
        # which side's rows survive without a partner ("left" of the Kafka Streams join)
        this_outer = kind == "OUTER" or (kind == "LEFT" and this_is_left) or (kind == "RIGHT" and not this_is_left)
        other_outer = kind == "OUTER" or (kind == "LEFT" and not this_is_left) or (kind == "RIGHT" and this_is_left)

        def join(this_row):
            return self._join(this_row, other) if this_is_left else self._join(other, this_row)

        if other is None:
            if not this_outer or (new is None and old is None):
                return
            res_ts = ts
        else:
            res_ts = max(ts, other_ts) if other_ts is not None else ts
        if other is None:
            new_row = join(new) if new is not None else None
            old_row = join(old) if old is not None else None
        elif other_outer:
            # the other side survives without this one: this side's NULL still joins
            new_row, old_row = join(new), join(old)
        else:
            new_row = join(new) if new is not None else None
            old_row = join(old) if old is not None else None
        self.out(key, new_row, old_row, res_ts, rec)


class ForeignKeyJoin:
    """KTable-KTable foreign-key join (KIP-213, ksqlDB's ForeignKeyTableTableJoinBuilder):
    each left row joins the right row its foreign-key expression names; the result is
    keyed and materialized by the left primary key. A left change subscribes the row to
    its (new) foreign key and answers with the right row (or NULLs / a tombstone), with
    Kafka Streams' instructions for a changed, NULL or deleted foreign key; a right
    change answers every subscribed left row. Responses are computed at once here, so
    the left row they answer is always the current one (Kafka Streams' hash check)."""

    def __init__(self, kind: str, left: TableSource, right: TableSource,
                 fk_of: Callable[[tuple, Any], Any], left_width: int, right_width: int,
                 subscriptions: Any, results: TableStore) -> None:
        self.left_join = kind == "LEFT"
        self.left = left
        self.right = right
        self.fk_of = fk_of
        self.left_nulls = (None,) * left_width
        self.right_nulls = (None,) * right_width
        self.subs = subscriptions
        self.results = results
        self.out: ChangeOut | None = None

    def get(self, key: Any) -> tuple | None:
        return self.results.get(hashable(key))

    def row_ts(self, row: tuple) -> int:
        lts = row[self.left.ts_slot]
        right = row[len(self.left_nulls):]
        rts = right[self.right.ts_slot] if right != self.right_nulls else None
        return max(t for t in (lts, rts) if t is not None)

    # ---- the left table
    def left_change(self, pk: Any, new: tuple | None, old: tuple | None, ts: int, rec: Any) -> None:
        fk_of = self.fk_of
        new_fk = None if new is None else fk_of(new, rec)
        if self.left_join:
            if old is not None:
                old_fk = fk_of(old, rec)
                if old_fk is not None and hashable(new_fk) != hashable(old_fk):
                    self._unsubscribe(old_fk, pk)
                    self._respond(pk, None, ts, old_fk, rec)
                self._subscribe_and_respond(new_fk, pk, ts, rec, only_if_found=False)
            elif new is not None:
                self._subscribe_and_respond(new_fk, pk, ts, rec, only_if_found=False)
            return
        if old is not None:
            old_fk = fk_of(old, rec)
            if old_fk is None:
                return  # skipped: NULL foreign key
            if new is not None:
                if new_fk is None:
                    return
                if hashable(new_fk) != hashable(old_fk):
                    self._unsubscribe(old_fk, pk)  # no answer: the new key's answer follows
                self._subscribe_and_respond(new_fk, pk, ts, rec, only_if_found=False)
            else:
                self._unsubscribe(old_fk, pk)
                self._respond(pk, None, ts, old_fk, rec)
        elif new is not None and new_fk is not None:
            self._subscribe_and_respond(new_fk, pk, ts, rec, only_if_found=True)

    def _subscribe_and_respond(self, fk: Any, pk: Any, ts: int, rec: Any, only_if_found: bool) -> None:
        if fk is not None:
            self.subs.subscribe(hashable(fk), hashable(pk), pk)
        found = None if fk is None else self.right.get(fk)
        if found is None and only_if_found:
            return
        self._respond(pk, found, ts, fk, rec)

    def _unsubscribe(self, fk: Any, pk: Any) -> None:
        self.subs.unsubscribe(hashable(fk), hashable(pk))

    def _respond(self, pk: Any, right_row: tuple | None, ts: int, fk: Any, rec: Any) -> None:
        """SubscriptionJoin's timestamp (the right row's, if newer), then ResponseJoin."""
        other = None if fk is None else self.right.get(fk)
        res_ts = ts if other is None else max(ts, self.right.row_ts(other))
        self._result(pk, right_row, res_ts, rec)

    def _result(self, pk: Any, right_row: tuple | None, ts: int, rec: Any) -> None:
        assert self.out is not None
        current = self.left.get(pk)
        if right_row is None and (not self.left_join or current is None):
            result = None
        else:
            result = ((current if current is not None else self.left_nulls)
                      + (right_row if right_row is not None else self.right_nulls))
        old = self.results.put(hashable(pk), pk, result)
        self.out(pk, result, old, ts, rec)

    # ---- the right table
    def right_change(self, fk: Any, new: tuple | None, old: tuple | None, ts: int, rec: Any) -> None:
        if fk is None:
            return
        for pk in self.subs.subscribers(hashable(fk)):
            self._result(pk, new, ts, rec)
