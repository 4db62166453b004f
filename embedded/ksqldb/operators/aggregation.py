"""The aggregation operator: GROUP BY [WINDOW TUMBLING|HOPPING] [HAVING] → table changelog.

Same contract as `pipeline.QueryPipeline` (records in, `OutputRecord`s and
`ErrorRecord`s out, no I/O), with ksqlDB's per-record emission: every input record that
changes an aggregate produces the group's new row at once (no caching), keyed by the
grouping values (plus the window start for a windowed key, Kafka Streams' layout: inner
key bytes + 8-byte big-endian window start).

State is plain data; every change to it is also handed out as a changelog record
(`take_changes`), which the runtime writes in the same transaction as the outputs and
reads back (`load_changes`) to restore exactly the committed state:

* `groups`: `{(window start | None, grouping values): [accumulators, timestamp, passed,
  grouping values]}`
  where `passed` says whether the last emitted row passed HAVING (a row that stops
  passing is retracted with a tombstone once; one that never passed emits nothing, as
  ksqlDB's table filter does);
* `source_rows` (table source only): `{source key: (grouping values, arguments)}`, the
  contribution each source row made, taken back (`undo`) when the row changes or is
  deleted; a row that stays in its group is taken back and re-added in one step with
  one output (Kafka Streams ≥ 3.5, KIP-904);
* `stream_time`: the highest timestamp seen, which closes windows after their grace
  period (default 24 h, as in ksqlDB); a record for a closed window is reported and
  skipped.

The per-record extraction (decode, ROWTIME, WHERE, grouping values, aggregate arguments)
is generated code like the stateless path; the aggregation itself is plain Python.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.operators import state_codec
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, build_function
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.values import hashable
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.operators.pipeline import (
    _reason,
    _safe,
    emit_key_decode,
    emit_value_decode,
    emit_where,
)
from fraudstream.embedded.ksqldb.operators import evaluation
from fraudstream.embedded.ksqldb.operators.evaluation import emit_evaluation, emit_nested_errors
from fraudstream.embedded.ksqldb.plan.nodes import PlannedQuery
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord, OutputRecord, headers_of, tombstone_row
from fraudstream.embedded.ksqldb.serde import KeySerde, ValueSerde

#: ksqlDB's default grace when the WINDOW clause has no GRACE PERIOD: 24 h minus the
#: window size (StreamAggregateBuilder.defaultGrace; the gap for SESSION windows)
DEFAULT_GRACE_BASE_MS = 24 * 3600 * 1000
#: Kafka Streams' default wall-clock interval between EMIT FINAL passes
DEFAULT_FINAL_EMIT_INTERVAL_MS = 1000
NO_TIMESTAMP = -1


class AggregationPipeline:
    """A compiled GROUP BY query over one source topic (stream or table); keeps
    `contract.Pipeline`."""

    transient = False
    table_topic = None
    #: its state store, as ksqlDB names the aggregation's changelog
    changelog = "Aggregate-Aggregate-Materialize"

    def __init__(
        self,
        query_id: str,
        plan: PlannedQuery,
        registry: FunctionRegistry,
        key_in: KeySerde | None,
        value_in: ValueSerde | None,
        *,
        sink_topic: str | None,
        key_out: KeySerde | None,
        value_out: ValueSerde | None,
        source_timestamp: TimestampExtractor | None = None,
        from_rows: bool = False,
        emit_interval_ms: int = DEFAULT_FINAL_EMIT_INTERVAL_MS,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """`from_rows`: fed joined rows by a `JoinPipeline` (`process_rows`) instead of
        records (GROUP BY over a join); no serdes then. Without `key_out`/`value_out` (a
        push query) the outputs are the projected rows themselves, a retracted row as a
        `TombstoneRow`."""
        assert plan.aggregate is not None
        self.query_id = query_id
        self.plan = plan
        self.agg = plan.aggregate
        self.source_topic = plan.source.topic
        self.sink_topic = sink_topic
        self.key_in, self.value_in = key_in, value_in
        #: push query: rows out, not records (see `_emit`)
        self.rows_out = key_out is None
        self._kpos = frozenset(plan.project.key_positions)
        if key_out is not None and value_out is not None:
            self._kenc = key_out.encode
            fast = getattr(value_out, "fast_encoder", lambda: None)()
            self._venc = fast or value_out.encode
        self.calls = [c.aggregator for c in self.agg.calls]
        #: grouping values that are structs/arrays need a hashable form as dict keys
        self._complex_key = any(t.base in ("STRUCT", "ARRAY", "MAP") for t in self.agg.group_types)
        self.table_source = self.agg.table_source
        w = self.agg.window
        self.window_kind = w.kind if w is not None else None
        self.size = w.size_ms if w is not None else 0
        self.advance = (w.advance_ms or w.size_ms) if w is not None else 0
        self.grace = 0
        if w is not None:
            self.grace = w.grace_ms if w.grace_ms is not None else max(DEFAULT_GRACE_BASE_MS - w.size_ms, 0)
        #: SESSION windows: the inactivity gap (`size`); the sessions of each group by
        #: hashable grouping values, rebuilt from `groups` on restore
        self.sessions: dict[Any, set[tuple[int, int]]] = {}
        #: EMIT FINAL: a window's row is emitted once, when it closes (Kafka Streams'
        #: EmitStrategy.onWindowClose), at most once per interval of wall-clock time
        self.final = plan.emit == "FINAL" and w is not None
        self.last_emit_close = NO_TIMESTAMP
        self.next_emit = 0
        self.emit_interval_ms = emit_interval_ms
        self.clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        #: aggregation state (see the module docstring)
        self.groups: dict[tuple, list] = {}
        self.source_rows: dict[Any, tuple] = {}
        self.stream_time = -(2**63)
        self._dirty: set[tuple] = set()
        self.processed = 0
        self.failed = 0
        self.from_rows = from_rows
        self.generated_source = self._generate_extract(registry, source_timestamp)
        self._project = self._generate_project(registry)

    # ------------------------------------------------------------------ codegen

    def _generate_extract(self, registry: FunctionRegistry, source_ts: TimestampExtractor | None) -> str:
        plan = self.plan
        ns: dict[str, Any] = {"_reason": _reason, "_hk": hashable}
        comp = ExprCompiler(plan.scope, registry, ns)
        ns["_ue"] = comp.ns.setdefault("_udf_errors", [])
        nkey = len(plan.source.schema.key)
        nval = len(plan.source.schema.value)
        table = self.table_source
        add = None
        if self.from_rows:
            # joined rows (the join's key slot last): (rec, source key, row | None, ts)
            lines = ["def _extract(batch):", "    out = []", "    errs = []", "    for rec, sk, r, ts in batch:"]
            add = lines.append
            add("        if r is None:")
            add("            out.append((rec, sk, None, None, ts))" if table else "            pass")
            add("            continue")
        else:
            assert self.key_in is not None and self.value_in is not None
            ns["_kdec"], ns["_vdec"] = self.key_in.decode, self.value_in.decode
            lines = ["def _extract(batch):", "    out = []", "    errs = []", "    for rec in batch:"]
            add = lines.append
            emit_key_decode(add, nkey, table=table)
            add("        sk = _hk(k)" if table else "        sk = None")
            emit_value_decode(add, ns, plan.source)
            add("        ts = rec[2]")
            add("        if v is None:")
            # a stream's NULL value has nothing to aggregate; a table's is a deletion
            add("            out.append((rec, sk, None, None, ts))" if table else "            pass")
            add("            continue")
            add("        r = [*k, *v, ts, rec[3], rec[4]]")
        if source_ts is not None:
            ns["_src_ts"] = source_ts.function()
            add("        try:")
            add(f"            ts = _src_ts(r[{source_ts.slot}])")
            add(f"            r[{nkey + nval}] = ts")
            add("        except Exception as e:")
            add("            errs.append(('timestamp', _reason(e), rec))")
            add("            continue")
        gone = "out.append((rec, sk, None, None, ts))" if table else "pass"
        if plan.where is not None:
            emit_where(comp, plan.where, add)
            add(f"            {gone}")
            add("            continue")
        comp.clause = "GROUP BY"
        gvars = []
        for i, e in enumerate(self.agg.group_exprs):
            code, _ = comp.compile(e)
            var = f"_g{i}"
            gvars.append(var)
            emit_evaluation(add, "        ", var, code, evaluation.GROUP_BY.format(index=i), ns)
        if gvars:
            add(f"        if {' or '.join(v + ' is None' for v in gvars)}:")
            add("            errs.append(('evaluate', 'A GROUP BY expression is NULL: the record is excluded from the aggregation', rec))")
            add(f"            {gone}")
            add("            continue")
        comp.clause = "SELECT"
        call_args = []
        for j, call in enumerate(self.agg.calls):
            avars = []
            for m, e in enumerate(call.args):
                code, _ = comp.compile(e)
                var = f"_a{j}_{m}"
                avars.append(var)
                if _safe(e):
                    add(f"        {var} = {code}")
                else:
                    emit_evaluation(add, "        ", var, code, evaluation.SELECT.format(expr=e.sql()), ns)
            call_args.append("(" + "".join(v + ", " for v in avars) + ")")
        emit_nested_errors(add, "        ")
        gkey = "(" + "".join(v + ", " for v in gvars) + ")"
        add(f"        out.append((rec, sk, {gkey}, ({', '.join(call_args)}{',' if len(call_args) == 1 else ''}), ts))")
        add("    return out, errs")
        source = "\n".join(lines)
        self._extract = build_function(source, ns, "_extract")
        return source

    def _generate_project(self, registry: FunctionRegistry) -> Callable[[list], tuple]:
        """(key values, value list, HAVING passed, error messages) of an aggregated row."""
        plan = self.plan
        ns: dict[str, Any] = {"_reason": _reason}
        comp = ExprCompiler(self.agg.agg_scope, registry, ns)
        ns["_ue"] = comp.ns.setdefault("_udf_errors", [])
        lines = ["def _project(r):", "    errs = []"]
        add = lines.append
        names = []
        for prefix, exprs, cols in (("_k", plan.key_exprs, plan.key_columns),
                                    ("_v", plan.value_exprs, plan.value_columns)):
            for i, (e, col) in enumerate(zip(exprs, cols)):
                code, _ = comp.compile(e)
                var = f"{prefix}{i}"
                names.append(var)
                # the expression is over the aggregated row: name the column it computes
                emit_evaluation(add, "    ", var, code, evaluation.SELECT.format(expr=col.name), ns, record=None)
        if self.agg.having is not None:
            comp.clause = "HAVING"
            pred = comp.compile_predicate(self.agg.having)
            emit_evaluation(add, "    ", "_h", f"bool({pred})", evaluation.WHERE.format(expr="HAVING"), ns,
                            fallback="False", record=None)
        else:
            add("    _h = True")
        emit_nested_errors(add, "    ", record=None)
        keys = "(" + "".join(f"_k{i}, " for i in range(len(plan.key_exprs))) + ")"
        vals = "[" + ", ".join(f"_v{i}" for i in range(len(plan.value_exprs))) + "]"
        add(f"    return {keys}, {vals}, _h, errs")
        return build_function("\n".join(lines), ns, "_project")

    # ------------------------------------------------------------------ running

    @property
    def source_topics(self) -> list[str]:
        return [self.source_topic]

    def process(self, batch: Sequence[Sequence[Any]]) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        """Aggregate a batch; one output record per group change, in input order."""
        outputs: list[OutputRecord] = []
        items, errs = self._extract(batch)
        self._apply(items, outputs, errs)
        self.processed += len(batch)
        return outputs, self._errors(errs)

    def process_rows(self, items: Sequence[tuple]) -> tuple[list[OutputRecord], list]:
        """`from_rows` mode: joined rows `(rec, source key, row | None, ts)` in event order;
        returns outputs and raw error tuples (the join pipeline reports them)."""
        outputs: list[OutputRecord] = []
        extracted, errs = self._extract(items)
        self._apply(extracted, outputs, errs)
        return outputs, errs

    def process_messages(self, msgs: Sequence[Any]) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        return self.process([(m.key(), m.value(), m.timestamp()[1], m.partition(), m.offset()) for m in msgs])

    def process_topic(self, topic: str, batch: Sequence[Sequence[Any]]) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        return self.process(batch)

    def update_table(self, batch: Sequence[Sequence[Any]]) -> list[ErrorRecord]:
        raise ValueError(f"query {self.query_id} reads no joined table")

    def update_table_messages(self, msgs: Sequence[Any]) -> list[ErrorRecord]:
        raise ValueError(f"query {self.query_id} reads no joined table")

    def reset_table(self) -> None:
        """No joined table: the state is changelogged (`reset_state`)."""

    def reset_state(self) -> None:
        self.groups.clear()
        self.source_rows.clear()
        self.sessions.clear()
        self.stream_time = -(2**63)
        self.last_emit_close = NO_TIMESTAMP
        self.next_emit = 0
        self._dirty.clear()

    # ------------------------------------------------------------------ state

    def _bounds(self, w: Any) -> tuple[int, int]:
        """(start, end) of a window: a time window is its start, a session (start, end)."""
        return w if isinstance(w, tuple) else (w, w + self.size)

    def _window_bytes(self, w: Any) -> bytes:
        """The window part of a windowed key as Kafka Streams writes it: a time window's
        8-byte start; a session's 8-byte end then 8-byte start."""
        start, end = self._bounds(w)
        if self.window_kind == "SESSION":
            return end.to_bytes(8, "big", signed=True) + start.to_bytes(8, "big", signed=True)
        return start.to_bytes(8, "big", signed=True)

    def _windows(self, ts: int) -> list[int]:
        if self.window_kind == "TUMBLING":
            return [ts - ts % self.size]
        start = max(0, ts - self.size + self.advance) // self.advance * self.advance
        out = []
        while start <= ts:
            out.append(start)
            start += self.advance
        return out

    def _apply(self, items: list, outputs: list | None, errs: list) -> None:
        windowed = self.window_kind is not None
        for item in items:
            try:
                self._apply_one(item, windowed, outputs, errs)
            except Exception as e:  # noqa: BLE001 - an engine bug must not stop the query
                errs.append(("aggregate", f"Error aggregating: {_reason(e)}", item[0]))
        if windowed:
            self._expire()

    def _apply_one(self, item: tuple, windowed: bool, outputs: list | None, errs: list) -> None:
        rec, sk, gkey, args, ts = item
        if self.table_source:
            self._table_change(rec, sk, gkey, args, ts, outputs, errs)
            return
        if not windowed:
            self._change((None, gkey), args, None, ts, outputs, errs, rec)
            return
        if ts > self.stream_time:
            self.stream_time = ts
            self._dirty.add(("t",))
        updates = None if self.final else outputs
        if self.window_kind == "SESSION":
            self._session(gkey, args, ts, updates, errs, rec)
        else:
            for start in self._windows(ts):
                if start + self.size + self.grace <= self.stream_time:
                    errs.append(("window", f"late record: window [{start}, {start + self.size}) closed "
                                           f"(grace {self.grace} ms, stream time {self.stream_time})", rec))
                    continue
                self._change((start, gkey), args, None, ts, updates, errs, rec)
        if self.final and outputs is not None:
            self._emit_final(outputs, errs, rec)

    def _session(self, gkey: tuple, args: tuple, ts: int, outputs: list | None, errs: list, rec) -> None:
        """KStreamSessionWindowAggregate: the record's session [ts, ts] merges every
        session of its group within the inactivity gap; merged sessions are retracted
        (tombstones) and the merged one emitted, timestamped with its end."""
        gap = self.size
        hg = hashable(gkey) if self._complex_key else gkey
        close = self.stream_time - self.grace - gap
        found = sorted(w for w in self.sessions.get(hg, ()) if w[1] >= ts - gap and w[0] <= ts + gap)
        start = min([ts] + [w[0] for w in found])
        end = max([ts] + [w[1] for w in found])
        if end < close:
            errs.append(("window", f"late record: session [{start}, {end}] closed (gap {gap} ms, grace "
                                   f"{self.grace} ms, stream time {self.stream_time})", rec))
            return
        accs = tuple(c.init for c in self.calls)
        try:
            for w in found:
                old = self.groups[(w, hg)][0]
                accs = tuple(c.merge(a, o) for c, a, o in zip(self.calls, accs, old))  # type: ignore[misc]
        except Exception as e:  # noqa: BLE001 - a failing merge skips the record
            errs.append(("aggregate", f"Error aggregating: {_reason(e)}", rec))
            return
        if (start, end) != (ts, ts):
            for w in found:
                self._remove((w, hg), outputs, errs, rec)
        self._change(((start, end), gkey), args, None, end, outputs, errs, rec, base=accs)

    def _remove(self, gk: tuple, outputs: list | None, errs: list, rec) -> None:
        """Forget a group's window (a merged session): a tombstone if its row was out."""
        state = self.groups.pop(gk, None)
        if state is None:
            return
        self._dirty.add(("g", gk))
        w, hg = gk
        sessions = self.sessions.get(hg)
        if sessions is not None:
            sessions.discard(w)
            if not sessions:
                del self.sessions[hg]
        if outputs is None or not state[2]:
            return
        row = self._row(state[3], state[0], w)
        keys, values, _passed, _perrs = self._project(row)
        self._emit(outputs, errs, rec, keys, values, w, self._bounds(w)[1], deleted=True)

    def _row(self, values_of_key: tuple, accs: tuple, w: Any) -> list:
        start, end = (None, None) if w is None else self._bounds(w)
        return [*values_of_key, *(c.result(a) for c, a in zip(self.calls, accs)), start, end]

    def _emit(self, outputs: list, errs: list, rec, keys: tuple, values: list, w: Any, ts: int,
              deleted: bool = False) -> None:
        """One changed row of the table: a record (`deleted`: a tombstone) or, for a push
        query, the row."""
        if self.rows_out:
            outputs.append(tombstone_row(values, self._kpos) if deleted else values)
            return
        try:
            kb = self._kenc(keys)
            if w is not None:
                kb = (kb or b"") + self._window_bytes(w)
            vb = None if deleted else self._venc(values)
        except Exception as e:  # noqa: BLE001
            errs.append(("serialize", _reason(e), rec))
            return
        outputs.append(OutputRecord(self.sink_topic, kb, vb, ts, headers_of(rec)))

    def _emit_final(self, outputs: list, errs: list, rec) -> None:
        """maybeForwardFinalResult: after a record, emit the windows that closed since the
        last pass (by window start, then key; sessions by end) — throttled by wall clock."""
        session = self.window_kind == "SESSION"
        close = self.stream_time - self.grace - (self.size if session else 0)
        now = self.clock()
        if now < self.next_emit:
            return
        self.next_emit = now + self.emit_interval_ms
        if self.last_emit_close != NO_TIMESTAMP and self.last_emit_close >= close:
            return
        last = self.last_emit_close
        if session:
            upper = close - 1
            lower = max(0, last)
            if upper < 0 or upper < lower:
                return
            chosen = [(gk, st) for gk, st in self.groups.items() if lower <= gk[0][1] <= upper]
            order = lambda item: (item[0][0][1], item[2], item[0][0][0])  # noqa: E731
        else:
            upper = close - self.size
            if upper < 0:
                return
            lower = 0 if last == NO_TIMESTAMP else max(0, last - self.size) + 1
            if last != NO_TIMESTAMP and self._windows(upper) == self._windows(lower - 1):
                return
            chosen = [(gk, st) for gk, st in self.groups.items() if lower <= gk[0] <= upper]
            order = lambda item: (item[0][0], item[2])  # noqa: E731
        rows = []
        for gk, st in chosen:
            keys, values, passed, perrs = self._project(self._row(st[3], st[0], gk[0]))
            for m in perrs:
                errs.append(("evaluate", m, rec))
            if not passed:
                continue
            try:
                kb = b"" if self.rows_out else (self._kenc(keys) or b"")
            except Exception as e:  # noqa: BLE001
                errs.append(("serialize", _reason(e), rec))
                continue
            rows.append((gk, st, kb, keys, values))
        for gk, st, _kb, keys, values in sorted(rows, key=order):
            ts = self._bounds(gk[0])[1] if session else st[1]
            self._emit(outputs, errs, rec, keys, values, gk[0], ts)
        self.last_emit_close = close
        self._dirty.add(("t",))

    def _table_change(self, rec, sk, gkey, args, ts, outputs, errs) -> None:
        old = self.source_rows.pop(sk, None)
        if gkey is not None:
            self.source_rows[sk] = (gkey, args)
        self._dirty.add(("s", sk))
        if old is not None and gkey is not None and old[0] == gkey:
            self._change((None, gkey), args, old[1], ts, outputs, errs, rec)
            return
        if old is not None:
            self._change((None, old[0]), None, old[1], ts, outputs, errs, rec)
        if gkey is not None:
            self._change((None, gkey), args, None, ts, outputs, errs, rec)

    def _change(self, gk: tuple, add: tuple | None, undo: tuple | None, ts: int,
                outputs: list | None, errs: list, rec, base: tuple | None = None) -> None:
        """Update one group (window, grouping values) and emit its new row; `base`: the
        accumulators to start from (a merged session)."""
        values_of_key = gk[1]
        if self._complex_key:
            gk = (gk[0], hashable(values_of_key))
        state = None if base is not None else self.groups.get(gk)
        if base is not None:
            accs = base
        else:
            accs = state[0] if state is not None else tuple(c.init for c in self.calls)
        try:
            if undo is not None:
                accs = tuple(c.undo(acc, *a) for c, acc, a in zip(self.calls, accs, undo))  # type: ignore[misc]
            if add is not None:
                accs = tuple(c.add(acc, *a) for c, acc, a in zip(self.calls, accs, add))
        except Exception as e:  # noqa: BLE001 - a failing aggregate skips the record
            errs.append(("aggregate", f"Error aggregating: {_reason(e)}", rec))
            return
        new_ts = ts if state is None else max(ts, state[1])
        passed_before = state[2] if state is not None else False
        w = gk[0]
        keys, values, passed, perrs = self._project(self._row(values_of_key, accs, w))
        for m in perrs:
            errs.append(("evaluate", m, rec))
        self.groups[gk] = [accs, new_ts, passed, values_of_key]
        self._dirty.add(("g", gk))
        if isinstance(w, tuple):
            self.sessions.setdefault(gk[1], set()).add(w)
        if outputs is None or (not passed and not passed_before):
            return
        self._emit(outputs, errs, rec, keys, values, w, new_ts, deleted=not passed)

    def _expire(self) -> None:
        """Forget windows no record can reach any more (closed after their grace) and,
        with EMIT FINAL, already emitted."""
        if len(self.groups) < 1024:
            return
        if self.window_kind == "SESSION":
            horizon = self.stream_time - self.grace - self.size  # sessions ending before: closed
            if self.final:
                horizon = min(horizon, self.last_emit_close)
            gone = [gk for gk in self.groups if gk[0][1] < horizon]
        else:
            horizon = self.stream_time - self.grace - self.size  # windows starting at or before
            if self.final:
                horizon = min(horizon, self.last_emit_close - self.size)
            gone = [gk for gk in self.groups if gk[0] is not None and gk[0] <= horizon]
        for gk in gone:
            self._remove(gk, None, [], None)

    # ------------------------------------------------------------------ changelog

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        """The state entries changed since the last call, as changelog records
        `(key, value)` (value None: the entry is gone). Written with the outputs in the
        same transaction, they let the runtime restore exactly the committed state."""
        out = []
        for entry in self._dirty:
            kind = entry[0]
            if kind == "g":
                state = self.groups.get(entry[1])
                value = None if state is None else state_codec.encode(state)
            elif kind == "s":
                row = self.source_rows.get(entry[1])
                value = None if row is None else state_codec.encode(row)
            else:
                value = state_codec.encode((self.stream_time, self.last_emit_close))
            out.append((state_codec.encode(entry), value))
        self._dirty.clear()
        return out

    def load_changes(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Apply changelog records (in log order) to the state."""
        for key, value in records:
            entry = state_codec.decode(key)
            kind = entry[0]
            data = None if value is None else state_codec.decode(value)
            if kind == "g":
                if data is None:
                    self.groups.pop(entry[1], None)
                else:
                    accs, ts, passed, values = data
                    self.groups[entry[1]] = [tuple(accs), ts, passed, tuple(values)]
            elif kind == "s":
                if data is None:
                    self.source_rows.pop(entry[1], None)
                else:
                    self.source_rows[entry[1]] = (tuple(data[0]), tuple(tuple(a) for a in data[1]))
            elif data is not None:
                self.stream_time, self.last_emit_close = data
        self.sessions.clear()
        for w, hg in self.groups:
            if isinstance(w, tuple):
                self.sessions.setdefault(hg, set()).add(w)
        self._dirty.clear()

    def _errors(self, errs: list) -> list[ErrorRecord]:
        if not errs:
            return []
        self.failed += len(errs)
        out = []
        for stage, reason, rec in errs:
            part = rec[3] if len(rec) > 3 else 0
            off = rec[4] if len(rec) > 4 else 0
            out.append(ErrorRecord(self.query_id, stage, reason, self.source_topic, part, off, rec[2]))
        return out
