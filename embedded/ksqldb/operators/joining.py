"""The join pipeline: stream-stream, table-table and n-way joins as ksqlDB runs them.

`JoinPipeline` keeps `contract.Pipeline`. It decodes each source's records into rows
(generated code per source: key, value, headers, ROWTIME from a TIMESTAMP column),
pushes them through the join operators of the plan's join tree
(`join_operators.py`, one per `JoinNode`) and hands the root's events to the sink:

* a stream result: WHERE, then the projection, one output record per joined row;
* a table result (table-table joins): each change is filtered and projected as Kafka
  Streams' KTable filter does with old values — a row that stops passing WHERE (or
  disappears) is retracted with a tombstone, a change that passes neither before nor
  after emits nothing.

Records of several topics are processed in timestamp order across partitions (each
partition's own order kept), as a Kafka Streams task picks the partition whose next
record has the lowest timestamp. All state (window stores, held-back outer-join
records, table rows, stream time) is changelogged: `take_changes` after each batch,
`load_changes` to restore (`runtime/changelog_state.py` writes and reads them in the
batch's transaction). The stream-table join of one stream and one table stays on the
faster `QueryPipeline`, which rebuilds its table from the table topic instead.
"""

from __future__ import annotations

import heapq
import time
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, build_function
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.operators import evaluation
from fraudstream.embedded.ksqldb.operators.evaluation import emit_evaluation, emit_nested_errors
from fraudstream.embedded.ksqldb.operators import state_codec
from fraudstream.embedded.ksqldb.operators.join_operators import (
    DEFAULT_OUTER_EMIT_INTERVAL_MS,
    ForeignKeyJoin,
    StreamStreamJoin,
    StreamTableJoin,
    TableSource,
    TableTableJoin,
)
from fraudstream.embedded.ksqldb.operators.join_state import Changes, SubscriptionStore, TableStore
from fraudstream.embedded.ksqldb.operators.pipeline import (
    _reason,
    _safe,
    emit_key_decode,
    emit_value_decode,
)
from fraudstream.embedded.ksqldb.operators.records import ErrorRecord, OutputRecord, headers_of, tombstone_row
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.expr.values import hashable
from fraudstream.embedded.ksqldb.plan.joins import JoinNode
from fraudstream.embedded.ksqldb.plan.nodes import DataSourceNode, PlannedQuery, SourceNode
from fraudstream.embedded.ksqldb.serde import KeySerde, ValueSerde
from fraudstream.embedded.ksqldb.serde.windowed import window_bytes, windowed_key_decoder
from fraudstream.embedded.ksqldb.sql import tree

Outputs = tuple[list[OutputRecord], list[ErrorRecord]]
#: changelog keys of the aggregation fed by the join start with this byte
_AGG = b"A"


class SourceInput:
    """How one source of the join is read: its topic, serdes and timestamp column."""

    def __init__(self, key_in: KeySerde, value_in: ValueSerde,
                 timestamp: TimestampExtractor | None = None,
                 window: tuple[str, int | None] | None = None) -> None:
        self.key_in = key_in
        self.value_in = value_in
        self.timestamp = timestamp
        #: (type, size) of a windowed source: its keys carry a window
        self.window = window


def _decoder(leaf: DataSourceNode, inp: SourceInput,
             used: set[int]) -> Callable[[Sequence[Any]], tuple[list, list]]:
    """Generated batch decode of one source: records → [(index, key tuple, row or None
    (a table's tombstone), ts, rec)], errors. A stream's NULL value triggers no join.
    Slots no expression of the query reads (`used` holds the others, query-wide
    indexes) are left NULL: the join state keeps, and changelogs, only what is read."""
    src = leaf.source
    nkey, nval = len(src.schema.key), len(src.schema.value)
    is_table = src.kind == "TABLE"
    windowed = inp.window is not None
    kdec = windowed_key_decoder(inp.key_in.decode, *inp.window) if inp.window is not None else inp.key_in.decode
    ns: dict[str, Any] = {"_kdec": kdec, "_vdec": inp.value_in.decode, "_reason": _reason}
    lines = ["def _decode(batch):", "    out = []", "    errs = []", "    for i, rec in enumerate(batch):"]
    add = lines.append
    emit_key_decode(add, nkey, windowed=windowed)
    if is_table:
        add("        if not k or k[0] is None:")
        add("            errs.append(('table key', 'A table row needs a key: record with a NULL key ignored', rec))")
        add("            continue")
    emit_value_decode(add, ns, src)
    add("        ts = rec[2]")
    add("        if v is None:")
    add("            out.append((i, k, None, ts, rec))" if is_table else "            pass")
    add("            continue")
    add("        r = [*k, *v, ts, rec[3], rec[4], _wb[0], _wb[1]]" if windowed else
        "        r = [*k, *v, ts, rec[3], rec[4]]")
    if inp.timestamp is not None:
        ns["_src_ts"] = inp.timestamp.function()
        add("        try:")
        add(f"            ts = _src_ts(r[{inp.timestamp.slot}])")
        add(f"            r[{nkey + nval}] = ts")
        add("        except Exception as e:")
        add("            errs.append(('timestamp', _reason(e), rec))")
        add("            continue")
    kept = ", ".join(f"r[{j}]" if leaf.offset + j in used else "None" for j in range(leaf.width))
    add(f"        out.append((i, k, ({kept},), ts, rec))")
    add("    return out, errs")
    return build_function("\n".join(lines), ns, "_decode")


def used_slots(plan: PlannedQuery) -> set[int]:
    """Every slot of the query's row an expression reads, plus each source's ROWTIME
    (the join operators read timestamps from rows) and window bounds."""
    exprs: list[tree.Expr] = list(plan.key_exprs) + list(plan.value_exprs)
    if plan.where is not None:
        exprs.append(plan.where)
    node = plan.join
    while node is not None:
        exprs += [node.left_key, node.right_key]
        node = node.left if isinstance(node.left, JoinNode) else None
    if plan.aggregate is not None:
        exprs += list(plan.aggregate.group_exprs)
        exprs += [a for call in plan.aggregate.calls for a in call.args]
    used: set[int] = set()
    for e in exprs:
        for x in tree.walk(e):
            if isinstance(x, tree.ColumnRef):
                slot = plan.scope.resolve(x)
                if slot is not None:
                    used.add(slot.index)
    for leaf in plan.sources:
        used.add(leaf.columns.columns["ROWTIME"].index)
        if leaf.windowed:  # a windowed source joins on its window too
            used |= {leaf.columns.columns[n].index for n in ("WINDOWSTART", "WINDOWEND")}
    return used


def _expr_function(e: tree.Expr, scope, registry: FunctionRegistry, offset: int, what: str):
    """`row → value` for an expression over a subtree's row starting at `offset`; an
    evaluation failure gives None plus a message."""
    ns: dict[str, Any] = {"_reason": _reason}
    comp = ExprCompiler(scope, registry, ns)
    if offset:
        comp.slot_code = _ShiftedSlots(offset)  # type: ignore[assignment]
    comp.clause = "JOIN ON"
    code, _ = comp.compile(e)
    ns["_ue"] = comp.ns.setdefault("_udf_errors", [])
    lines = ["def _key(r, errs):"]
    emit_evaluation(lines.append, "    ", "v", code, evaluation.JOIN_KEY.format(expr=what), ns, record=None)
    emit_nested_errors(lines.append, "    ", record=None)
    lines.append("    return v")
    src = "\n".join(lines)
    return build_function(src, ns, "_key")


class _ShiftedSlots(dict):
    """slot index → `r[index - offset]`: code over a row that starts at `offset`."""

    def __init__(self, offset: int) -> None:
        super().__init__()
        self.offset = offset

    def __getitem__(self, index: int) -> str:
        return f"r[{index - self.offset}]"

    def __contains__(self, index: object) -> bool:
        return True


class JoinPipeline:
    """A compiled join query (any join the plan holds, but the two-source stream-table
    join `QueryPipeline` runs); keeps `contract.Pipeline`."""

    table_topic = None
    transient = False
    #: one changelog for every store of the query
    changelog = "Join-state-store"

    def __init__(
        self,
        query_id: str,
        plan: PlannedQuery,
        registry: FunctionRegistry,
        inputs: Sequence[SourceInput],
        *,
        sink_topic: str | None,
        key_out: KeySerde | None,
        value_out: ValueSerde | None,
        sink_timestamp: TimestampExtractor | None = None,
        value_coercions: Sequence[Callable[[Any], Any] | None] | None = None,
        emit_interval_ms: int = DEFAULT_OUTER_EMIT_INTERVAL_MS,
        clock: Callable[[], int] | None = None,
        aggregation: Any = None,
    ) -> None:
        """`aggregation`: an `AggregationPipeline(from_rows=True)` the joined rows feed
        (GROUP BY over a join) instead of the projection. Without `key_out`/`value_out`
        (a push query) the outputs are the projected rows, a deleted row a `TombstoneRow`."""
        root = plan.join
        assert root is not None
        self.query_id = query_id
        self.plan = plan
        self.root = root
        self.sink_topic = sink_topic
        self.leaves = plan.sources
        self.source_topic = self.leaves[0].source.topic
        self._topics = list(dict.fromkeys(s.source.topic for s in self.leaves))
        used = used_slots(plan)
        self._decoders = [_decoder(leaf, inp, used) for leaf, inp in zip(self.leaves, inputs)]
        self.registry = registry
        self.changes = Changes()
        #: wall clock (ms) for the emit interval of held-back outer-join records
        self.clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self.emit_interval_ms = emit_interval_ms
        self._stateful: list[Any] = []
        #: stores loaded and reset by id (table rows, foreign-key subscriptions and results)
        self._stores: list[Any] = []
        self._feeds: list[Callable[[Any, tuple | None, int, Any], None]] = [None] * len(self.leaves)  # type: ignore[list-item]
        self._errs: list = []
        self.is_table = root.result_kind == "TABLE"
        #: windowed sources: the join key carries the window, the output key keeps it
        self._window_type = self.leaves[0].source.window_type
        self._window_size = self.leaves[0].source.window_size
        self.rows_out = key_out is None
        self._kpos = frozenset(plan.project.key_positions)
        if key_out is not None and value_out is not None:
            self._kenc = key_out.encode
            fast = getattr(value_out, "fast_encoder", lambda: None)()
            self._venc = fast or value_out.encode
        if aggregation is None:
            self._where, self._project = self._generate_sink(registry, sink_timestamp, value_coercions)
            self.generated_source = self._sink_source
        else:
            self.generated_source = aggregation.generated_source
        self._out: list[OutputRecord] = []
        self.aggregation = aggregation
        self._agg_items: list[tuple] = []
        top = self._build(root)
        if aggregation is not None:
            top.out = self._table_to_aggregate if self.is_table else self._stream_to_aggregate
        elif self.is_table:
            top.out = self._table_sink
        else:
            top.out = self._stream_sink
        self.processed = 0
        self.failed = 0

    # ------------------------------------------------------------------ wiring

    def _build(self, node: JoinNode):
        """The operator of `node` with its inputs connected; returns it."""
        left, right = node.left, node.right
        lkind = left.result_kind if isinstance(left, JoinNode) else left.kind
        rkind = right.kind
        n = len(self._stateful)
        kl = self._side_key(node, left, node.left_key, 0)
        kr = self._side_key(node, right, node.right_key, right.offset)
        right_index = self.leaves.index(right)
        if lkind == "STREAM" and rkind == "STREAM":
            before, after = node.within or (0, 0)
            op = StreamStreamJoin(f"J{n}", node.kind, before, after, node.grace_ms, left.end,
                                  right.width, self.changes, lambda: self.clock(),
                                  lambda: self.emit_interval_ms)
            self._stateful.append(op)
            self._connect_stream(left, lambda key, row, ts, rec: op.left(kl(key, row, rec), row, ts, rec))
            self._feeds[right_index] = lambda key, row, ts, rec: op.right(kr(key, row, rec), row, ts, rec)
            return op
        if lkind == "STREAM":
            table = self._table_source(right, n)
            op = StreamTableJoin(node.kind, table, right.width)
            self._connect_stream(left, lambda key, row, ts, rec: op.left(kl(key, row, rec), row, ts, rec))
            return op
        if node.foreign_key:
            assert isinstance(left, DataSourceNode)
            left_src, right_src = self._table_source(left, n), self._table_source(right, n)
            subs = SubscriptionStore(f"S{self.leaves.index(left)}", self.changes)
            results = TableStore(f"F{self.leaves.index(left)}", self.changes)
            self._stores += [subs, results]
            fk = ForeignKeyJoin(node.kind, left_src, right_src, lambda row, rec: kl(None, row, rec),
                                left.end, right.width, subs, results)
            left_src.out, right_src.out = fk.left_change, fk.right_change
            return fk
        # table-table on the primary key
        table = self._table_source(right, n)
        if isinstance(left, JoinNode):
            child = self._build(left)
            left_get, left_ts = child.get, child.row_ts
        else:
            child = self._table_source(left, n + 1)
            left_get, left_ts = child.get, child.row_ts
        op = TableTableJoin(node.kind, left_get, table, left.end, right.width, left_ts)
        child.out = lambda key, new, old, ts, rec: op.left_change(
            self._change_key(node, key, new, old, kl, rec), new, old, ts, rec)
        table.out = op.right_change
        return op

    def _side_key(self, node: JoinNode, side: SourceNode, expr: tree.Expr, offset: int):
        """`(side's key, side's row, rec) → join key` of one side of `node`."""
        if isinstance(side, JoinNode) and node.left_key_is_key:
            return lambda key, row, rec: key
        fn = _expr_function(expr, self.plan.scope, self.registry, offset, expr.sql())
        errs = self._errs
        if isinstance(side, DataSourceNode) and side.windowed:
            # windowed sources join on their key and their window, as the join's key format
            # (the left source's) serialises it: a time window is only its start, read back
            # with the left window's size (TimeWindowedSerde), so time windows of different
            # sizes starting together match once both sides are re-keyed in that format
            ws = side.columns.columns["WINDOWSTART"].index - offset
            we = side.columns.columns["WINDOWEND"].index - offset
            size = self._window_size if self._window_type not in (None, "SESSION") else None

            def windowed_key_of(_key: Any, row: tuple, rec: Any) -> Any:
                msgs: list[str] = []
                v = fn(row, msgs)
                for m in msgs:
                    errs.append(("evaluate", m, rec))
                if v is None:
                    return None
                start = row[ws]
                return (v, start, row[we] if size is None or start is None else start + size)

            return windowed_key_of

        def key_of(_key: Any, row: tuple, rec: Any) -> Any:
            msgs: list[str] = []
            v = fn(row, msgs)
            for m in msgs:
                errs.append(("evaluate", m, rec))
            return v

        return key_of

    @staticmethod
    def _change_key(node: JoinNode, key: Any, new, old, kl, rec) -> Any:
        """The join key of a left table change: its primary key (or the child join's key)
        unless the join is on another expression of the left row."""
        if node.left_key_is_key or not isinstance(node.left, JoinNode):
            return key
        row = new if new is not None else old
        return None if row is None else kl(key, row, rec)

    def _connect_stream(self, side: SourceNode, fn) -> None:
        if isinstance(side, JoinNode):
            self._build(side).out = fn
        else:
            self._feeds[self.leaves.index(side)] = fn

    def _table_source(self, leaf: DataSourceNode, n: int) -> TableSource:
        store = TableStore(f"T{self.leaves.index(leaf)}", self.changes)
        self._stores.append(store)
        ts_slot = len(leaf.source.schema.key) + len(leaf.source.schema.value)
        src = TableSource(store, ts_slot)
        self._feeds[self.leaves.index(leaf)] = lambda key, row, ts, rec: src.update(key, key, row, ts, rec)
        return src

    # ------------------------------------------------------------------ sink

    def _generate_sink(self, registry: FunctionRegistry, sink_ts: TimestampExtractor | None,
                       coercions) -> tuple[Callable, Callable]:
        plan = self.plan
        ns: dict[str, Any] = {"_reason": _reason}
        comp = ExprCompiler(plan.scope, registry, ns)
        ns["_ue"] = comp.ns.setdefault("_udf_errors", [])
        lines = ["def _where(r, rec, errs):"]
        if plan.where is not None:
            comp.clause = "WHERE"
            pred = comp.compile_predicate(plan.where)
            emit_evaluation(lines.append, "    ", "w", pred, evaluation.WHERE.format(expr=plan.where.sql()), ns)
            emit_nested_errors(lines.append, "    ")
            lines.append("    return bool(w)")
        else:
            lines.append("    return True")
        lines += ["", "def _project(r, rec, errs):"]
        comp.clause = "SELECT"
        names = []
        for prefix, exprs in (("_k", plan.key_exprs), ("_v", plan.value_exprs)):
            for i, e in enumerate(exprs):
                code, _ = comp.compile(e)
                conv = coercions[i] if coercions and prefix == "_v" else None
                if conv is not None:
                    code = f"{comp.const(conv, '_vc')}({code})"
                var = f"{prefix}{i}"
                names.append(var)
                if _safe(e) and conv is None:
                    lines.append(f"    {var} = {code}")
                else:
                    emit_evaluation(lines.append, "    ", var, code, evaluation.SELECT.format(expr=e.sql()), ns)
        emit_nested_errors(lines.append, "    ")
        keys = "(" + "".join(f"_k{i}, " for i in range(len(plan.key_exprs))) + ")"
        vals = "[" + ", ".join(f"_v{i}" for i in range(len(plan.value_exprs))) + "]"
        lines.append(f"    return {keys}, {vals}")
        source = "\n".join(lines)
        self._sink_source = source
        build_function(source, ns, "_where")
        self._sink_ts = None
        if sink_ts is not None:
            self._sink_ts = (sink_ts.slot, sink_ts.function())
        return ns["_where"], ns["_project"]

    def _ts_of(self, keys: tuple, values: list, ts: int, rec: Any) -> int | None:
        if self._sink_ts is None:
            return ts
        slot, fn = self._sink_ts
        v = keys[slot] if slot < len(keys) else values[slot - len(keys)]
        try:
            return fn(v)
        except Exception as e:  # noqa: BLE001 - the record is dropped and reported
            self._errs.append(("timestamp", _reason(e), rec))
            return None

    def _encode(self, keys: tuple, values: list, ts: int, rec: Any, suffix: bytes = b"",
                deleted: bool = False) -> None:
        """Emit one result: a record (`deleted`: a tombstone) or, for a push query, the row."""
        if self.rows_out:
            self._out.append(tombstone_row(values, self._kpos) if deleted else values)  # type: ignore[arg-type]
            return
        try:
            kb = self._kenc(keys) if keys else None
            if suffix:
                kb = (kb or b"") + suffix
            vb = None if deleted else self._venc(values)
        except Exception as e:  # noqa: BLE001
            self._errs.append(("serialize", _reason(e), rec))
            return
        self._out.append(OutputRecord(self.sink_topic, kb, vb, ts, headers_of(rec)))

    def _stream_sink(self, key: Any, row: tuple, ts: int, rec: Any) -> None:
        suffix = b""
        if self._window_type is not None and key is not None:
            key, start, end = key
            suffix = window_bytes(self._window_type, start, end)
        r = row + (key,)
        errs = self._errs
        if not self._where(r, rec, errs):
            return
        keys, values = self._project(r, rec, errs)
        out_ts = self._ts_of(keys, values, ts, rec)
        if out_ts is not None:
            self._encode(keys, values, out_ts, rec, suffix)

    def _table_sink(self, key: Any, new: tuple | None, old: tuple | None, ts: int, rec: Any) -> None:
        """KTableFilter with old values, then the projection: a tombstone retracts a row
        that passed before; nothing is emitted when neither side passes."""
        errs = self._errs
        new_r = None if new is None else new + (key,)
        old_r = None if old is None else old + (key,)
        new_ok = new_r is not None and self._where(new_r, rec, errs)
        old_ok = old_r is not None and self._where(old_r, rec, [])
        if not new_ok and not old_ok:
            if new is None and old is None and self.plan.where is None:
                # a change with neither row (a delete of nothing) still reaches the sink
                self._encode(*self._key_only(key, rec), ts, rec, deleted=True)
            return
        if new_ok:
            keys, values = self._project(new_r, rec, errs)
            out_ts = self._ts_of(keys, values, ts, rec)
            if out_ts is not None:
                self._encode(keys, values, out_ts, rec)
            return
        keys, values = self._project(old_r, rec, [])
        self._encode(keys, values, ts, rec, deleted=True)

    def _stream_to_aggregate(self, key: Any, row: tuple, ts: int, rec: Any) -> None:
        self._agg_items.append((rec, None, row + (key,), ts))

    def _table_to_aggregate(self, key: Any, new: tuple | None, old: tuple | None, ts: int, rec: Any) -> None:
        # the aggregation takes a changed row's old contribution back itself (by source key)
        self._agg_items.append((rec, hashable(key), None if new is None else new + (key,), ts))

    def _key_only(self, key: Any, rec: Any) -> tuple[tuple, list]:
        """The projection of a change without rows, for its key: the join key (a
        foreign-key join's key is the left table's primary key, in the left table's key
        columns)."""
        row = [None] * self.root.key_slot + [key]
        if self.root.foreign_key:
            values = key if isinstance(key, tuple) else (key,)
            row[:len(values)] = values
        return self._project(tuple(row), rec, [])

    # ------------------------------------------------------------------ running

    @property
    def source_topics(self) -> list[str]:
        return list(self._topics)

    def process(self, batch: Sequence[Sequence[Any]]) -> Outputs:
        """Records of the first source's topic (see `process_topic` for the others)."""
        return self.process_topic(self.source_topic, batch)

    def process_topic(self, topic: str, batch: Sequence[Sequence[Any]]) -> Outputs:
        items = self._decode(topic, batch)
        return self._run([(n, d) for _, n, d in items], len(batch))

    def _decode(self, topic: str, batch: Sequence[Any]) -> list[tuple[int, int, tuple]]:
        """(record index, source index, (key, row, ts, rec)) for each source on `topic`."""
        items: list[tuple[int, int, tuple]] = []
        for n, leaf in enumerate(self.leaves):
            if leaf.source.topic == topic:
                decoded, errs = self._decoders[n](batch)
                self._errs.extend(errs)
                items += [(d[0], n, d[1:]) for d in decoded]
        items.sort(key=lambda x: (x[0], x[1]))
        return items

    def process_messages(self, msgs: Sequence[Any]) -> Outputs:
        """confluent-kafka Messages of any source topic: each partition's records in
        order, partitions interleaved by lowest next timestamp."""
        by_part: dict[tuple[str, int], list] = {}
        for m in msgs:
            rec = (m.key(), m.value(), m.timestamp()[1], m.partition(), m.offset(), tuple(m.headers() or ()))
            by_part.setdefault((m.topic(), m.partition()), []).append(rec)
        queues = []
        for (topic, _p), recs in by_part.items():
            items = self._decode(topic, recs)
            if items:
                queues.append(items)
        ordered = []
        heap = [(q[0][2][2], qi, 0) for qi, q in enumerate(queues)]  # (key, row, ts, rec)
        heapq.heapify(heap)
        while heap:
            _ts, qi, pos = heapq.heappop(heap)
            _i, n, d = queues[qi][pos]
            ordered.append((n, d))
            if pos + 1 < len(queues[qi]):
                heapq.heappush(heap, (queues[qi][pos + 1][2][2], qi, pos + 1))
        return self._run(ordered, len(msgs))

    def _run(self, items: list, count: int) -> Outputs:
        self._out = out = []
        feeds = self._feeds
        for n, (k, row, ts, rec) in items:
            try:
                key = (k[0] if len(k) == 1 else k) if k else None
                feeds[n](key, row, ts, rec)
            except Exception as e:  # noqa: BLE001 - an engine bug must not stop the query
                self._errs.append(("join", f"Error joining: {_reason(e)}", rec))
        for op in self._stateful:
            op.expire()
        if self._agg_items:
            agg_out, agg_errs = self.aggregation.process_rows(self._agg_items)
            self._agg_items = []
            out.extend(agg_out)
            self._errs.extend(agg_errs)
        self.processed += count
        errs, self._errs[:] = list(self._errs), []
        return out, self._errors(errs)

    def _errors(self, errs: list) -> list[ErrorRecord]:
        if not errs:
            return []
        self.failed += len(errs)
        out = []
        for stage, reason, rec in errs:
            if isinstance(rec, tuple):
                part = rec[3] if len(rec) > 3 else 0
                off = rec[4] if len(rec) > 4 else 0
                ts = rec[2] if len(rec) > 2 else 0
            else:
                part, off, ts = rec.partition(), rec.offset(), rec.timestamp()[1]
            out.append(ErrorRecord(self.query_id, stage, reason, self.source_topic, part, off, ts))
        return out

    # ------------------------------------------------------------------ state

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        out = [(state_codec.encode(k), None if v is None else state_codec.encode(v))
               for k, v in self.changes.take()]
        if self.aggregation is not None:
            # the aggregation's entries, told apart by a prefix no JSON text starts with
            out += [(_AGG + k, v) for k, v in self.aggregation.take_changes()]
        return out

    def load_changes(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        stores = {s.id: s for s in self._stores}
        if self.aggregation is not None:
            self.aggregation.load_changes([(kb[1:], vb) for kb, vb in records if kb[:1] == _AGG])
            records = [(kb, vb) for kb, vb in records if kb[:1] != _AGG]
        for kb, vb in records:
            key = state_codec.decode(kb)
            value = None if vb is None else state_codec.decode(vb)
            store = stores.get(key[0])
            if store is not None:
                store.load(key, value)
                continue
            for op in self._stateful:
                if op.load(key, value):
                    break
        self.changes.take()

    def reset_state(self) -> None:
        if self.aggregation is not None:
            self.aggregation.reset_state()
        for s in self._stores:
            s.reset()
        for op in self._stateful:
            op.reset()
        self.changes.take()

    def update_table(self, batch: Sequence[Sequence[Any]]) -> list[ErrorRecord]:
        raise ValueError(f"query {self.query_id} keeps every table in its changelog")

    def update_table_messages(self, msgs: Sequence[Any]) -> list[ErrorRecord]:
        raise ValueError(f"query {self.query_id} keeps every table in its changelog")

    def reset_table(self) -> None:
        """No table rebuilt from a topic: every state is changelogged (`reset_state`)."""


__all__ = ["JoinPipeline", "SourceInput"]
