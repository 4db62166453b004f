"""The state of join operators, as plain data that writes its own changelog.

Kafka Streams keeps a join's state in stores that ksqlDB changelogs; these classes hold
the same state in dicts and lists, and record which entries changed so the pipeline can
hand them out as changelog records (`take`), written in the batch's transaction, and
read them back (`load`) to restore exactly the committed state.

* `WindowStore`: one side of a stream-stream join — the records seen within the join
  window, by join key, in timestamp order (Kafka Streams' window store with duplicates
  retained). A record is visible while its timestamp is above the store's observed stream
  time minus the retention (before + after + grace), as `WindowStore.fetch` does.
* `OuterStore`: the left/outer join records not joined yet, held back until their window
  closes (Kafka Streams' "spurious results" fix, KIP-633 grace), in the order Kafka
  Streams iterates its outer store: timestamp, then side (right before left), then key.
* `TableStore`: a table's rows by primary key (a table source of a table-table or
  stream-table join, or the left table of a foreign-key join).

Changelog keys are tuples `(store id, kind, ...)`; values are `state_codec` data.
"""

from __future__ import annotations

import bisect
import heapq
from typing import Any, Iterator

#: Kafka's "no timestamp" (-1) and Java's Long.MAX_VALUE, the initial stream/min times
NO_TIMESTAMP = -1
LONG_MAX = 2**63 - 1


def order_key(key: Any) -> Any:
    """Sort key for join keys as Kafka Streams orders serialized keys (unsigned bytes):
    integers as their two's-complement bit pattern, strings by their UTF-8 bytes."""
    if isinstance(key, bool):
        return (1, int(key))
    if isinstance(key, int):
        return (1, key & 0xFFFFFFFFFFFFFFFF)
    if isinstance(key, str):
        return (2, key.encode("utf-8"))
    return (3, repr(key))


class Changes:
    """Entries changed since the last `take`: changelog key → value (None: deleted)."""

    def __init__(self) -> None:
        self.dirty: dict[tuple, Any] = {}

    def put(self, key: tuple, value: Any) -> None:
        self.dirty[key] = value

    def take(self) -> list[tuple[tuple, Any]]:
        out = list(self.dirty.items())
        self.dirty.clear()
        return out


class WindowStore:
    """Records of one join side: join key → [(timestamp, seq, row, raw key)]."""

    def __init__(self, store_id: str, retention: int, changes: Changes) -> None:
        self.id = store_id
        self.retention = retention
        self.changes = changes
        self.by_key: dict[Any, list[tuple[int, int, tuple, Any]]] = {}
        self.observed = NO_TIMESTAMP
        self.seq = 0
        self._expiry: list[tuple[int, int, Any]] = []  # (ts, seq, key) min-heap

    def put(self, key: Any, raw_key: Any, ts: int, row: tuple) -> None:
        """Store a record; one older than the retention is dropped (expired segment)."""
        self.observed = max(self.observed, ts)
        if ts <= self.observed - self.retention:
            return
        self.seq += 1
        entry = (ts, self.seq, row, raw_key)
        records = self.by_key.setdefault(key, [])
        if not records or records[-1][:2] <= entry[:2]:
            records.append(entry)
        else:
            bisect.insort(records, entry, key=lambda e: (e[0], e[1]))
        heapq.heappush(self._expiry, (ts, self.seq, key))
        self.changes.put((self.id, "w", key, ts, self.seq), (row, raw_key))
        self.changes.put((self.id, "t"), (self.observed, self.seq))

    def fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, int, tuple, Any]]:
        """Visible records of `key` with timestamps in [t_from, t_to], in timestamp order."""
        records = self.by_key.get(key)
        if not records:
            return []
        lo = max(t_from, self.observed - self.retention + 1)
        return [e for e in records if lo <= e[0] <= t_to]

    def expire(self) -> None:
        """Forget records no fetch can return any more (changelog tombstones)."""
        horizon = self.observed - self.retention
        heap = self._expiry
        while heap and heap[0][0] <= horizon:
            ts, seq, key = heapq.heappop(heap)
            records = self.by_key.get(key)
            if records:
                records[:] = [e for e in records if e[1] != seq]
                if not records:
                    del self.by_key[key]
            self.changes.put((self.id, "w", key, ts, seq), None)

    # ---- changelog
    def load(self, key: tuple, value: Any) -> None:
        if key[1] == "t":
            self.observed, self.seq = value
            return
        _sid, _kind, jkey, ts, seq = key
        records = self.by_key.setdefault(jkey, [])
        records[:] = [e for e in records if e[1] != seq]
        if value is not None:
            row, raw_key = value
            bisect.insort(records, (ts, seq, tuple(row), raw_key), key=lambda e: (e[0], e[1]))
            heapq.heappush(self._expiry, (ts, seq, jkey))
        if not records:
            del self.by_key[jkey]

    def reset(self) -> None:
        self.by_key.clear()
        self._expiry.clear()
        self.observed = NO_TIMESTAMP
        self.seq = 0


class OuterStore:
    """Outer-join records waiting for their window to close:
    (timestamp, is this-side, key) → [(row, raw key)]."""

    def __init__(self, store_id: str, changes: Changes) -> None:
        self.id = store_id
        self.changes = changes
        self.entries: dict[tuple[int, bool, Any], list[tuple[tuple, Any]]] = {}

    def put(self, ts: int, this_side: bool, key: Any, raw_key: Any, row: tuple) -> None:
        k = (ts, this_side, key)
        values = self.entries.setdefault(k, [])
        values.append((row, raw_key))
        self.changes.put((self.id, "o", ts, this_side, key), list(values))

    def remove(self, ts: int, this_side: bool, key: Any) -> None:
        if self.entries.pop((ts, this_side, key), None) is not None:
            self.changes.put((self.id, "o", ts, this_side, key), None)

    def in_order(self) -> Iterator[tuple[tuple[int, bool, Any], list[tuple[tuple, Any]]]]:
        """Entries in Kafka Streams' iteration order: timestamp, side (other side before
        this side: the side flag serialises as 0/1), key bytes."""
        for k in sorted(self.entries, key=lambda k: (k[0], k[1], order_key(k[2]))):
            yield k, self.entries[k]

    def load(self, key: tuple, value: Any) -> None:
        _sid, _kind, ts, this_side, jkey = key
        if value is None:
            self.entries.pop((ts, this_side, jkey), None)
        else:
            self.entries[(ts, this_side, jkey)] = [(tuple(row), raw) for row, raw in value]

    def reset(self) -> None:
        self.entries.clear()


class TableStore:
    """A table's rows: key → (row, raw key). `put` returns the old row."""

    def __init__(self, store_id: str, changes: Changes) -> None:
        self.id = store_id
        self.changes = changes
        self.rows: dict[Any, tuple[tuple, Any]] = {}

    def get(self, key: Any) -> tuple | None:
        found = self.rows.get(key)
        return None if found is None else found[0]

    def put(self, key: Any, raw_key: Any, row: tuple | None) -> tuple | None:
        old = self.rows.get(key)
        if row is None:
            if old is not None:
                del self.rows[key]
                self.changes.put((self.id, "r", key), None)
        else:
            self.rows[key] = (row, raw_key)
            self.changes.put((self.id, "r", key), (row, raw_key))
        return None if old is None else old[0]

    def load(self, key: tuple, value: Any) -> None:
        jkey = key[2]
        if value is None:
            self.rows.pop(jkey, None)
        else:
            row, raw = value
            self.rows[jkey] = (tuple(row), raw)

    def reset(self) -> None:
        self.rows.clear()


class SubscriptionStore:
    """A foreign-key join's subscriptions: foreign key → {left primary key}, so a change
    of a right row reaches every left row that points at it (Kafka Streams' prefix scan
    of its subscription store)."""

    def __init__(self, store_id: str, changes: Changes) -> None:
        self.id = store_id
        self.changes = changes
        self.by_fk: dict[Any, dict[Any, Any]] = {}

    def subscribe(self, fk: Any, pk: Any, raw_pk: Any) -> None:
        self.by_fk.setdefault(fk, {})[pk] = raw_pk
        self.changes.put((self.id, "s", fk, pk), raw_pk)

    def unsubscribe(self, fk: Any, pk: Any) -> None:
        pks = self.by_fk.get(fk)
        if pks is not None and pks.pop(pk, None) is not None:
            if not pks:
                del self.by_fk[fk]
            self.changes.put((self.id, "s", fk, pk), None)

    def subscribers(self, fk: Any) -> list[Any]:
        """Raw primary keys subscribed to `fk`, in key order (a prefix scan's order)."""
        pks = self.by_fk.get(fk, {})
        return [pks[k] for k in sorted(pks, key=order_key)]

    def load(self, key: tuple, value: Any) -> None:
        _sid, _kind, fk, pk = key
        if value is None:
            pks = self.by_fk.get(fk)
            if pks is not None:
                pks.pop(pk, None)
                if not pks:
                    del self.by_fk[fk]
        else:
            self.by_fk.setdefault(fk, {})[pk] = value

    def reset(self) -> None:
        self.by_fk.clear()
