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

from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.operators import state_codec
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, build_function
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.values import hashable
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.operators.pipeline import (
    _q,
    _reason,
    _safe,
    emit_key_decode,
    emit_value_decode,
    emit_where,
)
from fraudstream.embedded.ksqldb.plan.nodes import PlannedQuery
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord, OutputRecord, headers_of
from fraudstream.embedded.ksqldb.serde import KeySerde, ValueSerde

DEFAULT_GRACE_MS = 24 * 3600 * 1000


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
        sink_topic: str,
        key_out: KeySerde,
        value_out: ValueSerde,
        source_timestamp: TimestampExtractor | None = None,
        from_rows: bool = False,
    ) -> None:
        """`from_rows`: fed joined rows by a `JoinPipeline` (`process_rows`) instead of
        records (GROUP BY over a join); no serdes then."""
        assert plan.aggregate is not None
        self.query_id = query_id
        self.plan = plan
        self.agg = plan.aggregate
        self.source_topic = plan.source.topic
        self.sink_topic = sink_topic
        self.key_in, self.value_in = key_in, value_in
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
        self.grace = (w.grace_ms if w.grace_ms is not None else DEFAULT_GRACE_MS) if w is not None else 0
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
            add("        try:")
            add(f"            {var} = {code}")
            add("        except Exception as e:")
            add(f"            errs.append(('evaluate', 'Error computing GROUP BY expression {_q(e.sql())}: ' + _reason(e), rec))")
            add(f"            {var} = None")
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
                    add("        try:")
                    add(f"            {var} = {code}")
                    add("        except Exception as e:")
                    add(f"            errs.append(('evaluate', 'Error computing {_q(e.sql())}: ' + _reason(e), rec))")
                    add(f"            {var} = None")
            call_args.append("(" + "".join(v + ", " for v in avars) + ")")
        add("        if _ue:")
        add("            errs.extend(('evaluate', m, rec) for m in _ue)")
        add("            _ue.clear()")
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
        for prefix, exprs in (("_k", plan.key_exprs), ("_v", plan.value_exprs)):
            for i, e in enumerate(exprs):
                code, _ = comp.compile(e)
                var = f"{prefix}{i}"
                names.append(var)
                add("    try:")
                add(f"        {var} = {code}")
                add("    except Exception as e:")
                add("        errs.append('Error computing expression: ' + _reason(e))")
                add(f"        {var} = None")
        if self.agg.having is not None:
            comp.clause = "HAVING"
            pred = comp.compile_predicate(self.agg.having)
            add("    try:")
            add(f"        _h = bool({pred})")
            add("    except Exception as e:")
            add("        errs.append('Error evaluating HAVING: ' + _reason(e))")
            add("        _h = False")
        else:
            add("    _h = True")
        add("    if _ue:")
        add("        errs.extend(_ue)")
        add("        _ue.clear()")
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
        self.stream_time = -(2**63)
        self._dirty.clear()

    # ------------------------------------------------------------------ state

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
        if True:  # noqa: SIM108 - one body for the three kinds of aggregation
            if self.table_source:
                self._table_change(rec, sk, gkey, args, ts, outputs, errs)
                return
            if not windowed:
                self._change((None, gkey), args, None, ts, outputs, errs, rec)
                return
            if ts > self.stream_time:
                self.stream_time = ts
                self._dirty.add(("t",))
            for start in self._windows(ts):
                if start + self.size + self.grace <= self.stream_time:
                    errs.append(("window", f"late record: window [{start}, {start + self.size}) closed "
                                           f"(grace {self.grace} ms, stream time {self.stream_time})", rec))
                    continue
                self._change((start, gkey), args, None, ts, outputs, errs, rec)

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
                outputs: list | None, errs: list, rec) -> None:
        """Update one group (window start, grouping values) and emit its new row."""
        values_of_key = gk[1]
        if self._complex_key:
            gk = (gk[0], hashable(values_of_key))
        state = self.groups.get(gk)
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
        start = gk[0]
        row = [*values_of_key, *(c.result(a) for c, a in zip(self.calls, accs)),
               start, None if start is None else start + self.size]
        keys, values, passed, perrs = self._project(row)
        for m in perrs:
            errs.append(("evaluate", m, rec))
        self.groups[gk] = [accs, new_ts, passed, values_of_key]
        self._dirty.add(("g", gk))
        if outputs is None or (not passed and not passed_before):
            return
        try:
            kb = self._kenc(keys)
            if start is not None:
                kb = (kb or b"") + start.to_bytes(8, "big", signed=True)
            vb = self._venc(values) if passed else None
        except Exception as e:  # noqa: BLE001
            errs.append(("serialize", _reason(e), rec))
            return
        outputs.append(OutputRecord(self.sink_topic, kb, vb, new_ts, headers_of(rec)))

    def _expire(self) -> None:
        """Forget windows no record can reach any more (closed after their grace)."""
        horizon = self.stream_time - self.grace - self.size
        if len(self.groups) < 1024:
            return
        for gk in [gk for gk in self.groups if gk[0] is not None and gk[0] <= horizon]:
            del self.groups[gk]
            self._dirty.add(("g", gk))

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
                value = state_codec.encode(self.stream_time)
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
                self.stream_time = data
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
