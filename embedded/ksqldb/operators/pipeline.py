"""The pure operator layer: a compiled query turns input records into output records.

`QueryPipeline.process(batch)` takes records `(key, value, timestamp, partition, offset,
headers)` and returns `(outputs, errors)`: `OutputRecord`s for the sink topic and
`ErrorRecord`s for the processing log. It has no I/O, so the same object runs in the
conformance harness (in-memory topics) and inside the Kafka runtime's
consume/transform/produce loop. Its only state is a stream-table join's table: a plain
dict of the table's current rows by key (`table_rows`), fed by `update_table` with the
table topic's records; whoever feeds it owns its consistency (the harness feeds records
in file order, the runtime rebuilds it from the table topic on start).

For speed the whole per-record path — key/value decode, ROWTIME, WHERE, key and value
expressions, encode — is generated as one Python function per query and compiled once.
An expression that fails on a record sets that column to NULL and logs an error (as
ksqlDB does); a record that cannot be decoded, filtered or encoded is skipped and logged.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.expr.compiler import ExprCompiler, build_function
from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlStatementError, SerdeError
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry
from fraudstream.embedded.ksqldb.expr.values import hashable
from fraudstream.embedded.ksqldb.plan.nodes import PlannedQuery
from fraudstream.embedded.ksqldb.operators import evaluation
from fraudstream.embedded.ksqldb.operators.evaluation import emit_evaluation, emit_nested_errors
from fraudstream.embedded.ksqldb.operators.records import tombstone_row, ErrorRecord, OutputRecord
from fraudstream.embedded.ksqldb.operators.timestamps import TimestampExtractor
from fraudstream.embedded.ksqldb.serde import KeySerde, ValueSerde
from fraudstream.embedded.ksqldb.serde.headers import header_appender
from fraudstream.embedded.ksqldb.serde.windowed import windowed_key_decoder

_SAFE_NODES = (
    tree.ColumnRef, tree.NullLiteral, tree.BooleanLiteral, tree.IntegerLiteral, tree.StringLiteral,
    tree.DoubleLiteral, tree.DecimalLiteral, tree.IsNull,
)


def _reason(e: BaseException) -> str:
    msg = str(e)
    if isinstance(e, (SerdeError, EvaluationError)):
        return msg
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _safe(e: tree.Expr) -> bool:
    if isinstance(e, tree.IsNull):
        return _safe(e.expr)
    return isinstance(e, _SAFE_NODES)


def emit_key_decode(add: Callable[[str], None], nkey: int, table: bool = False,
                    windowed: bool = False) -> None:
    """Generated key decode: `k` is the tuple of key columns; a key that does not decode
    skips the record with a processing-log entry. A table's record without a key is
    skipped too (Kafka Streams' table source drops null keys; a multi-column key whose
    columns are NULL is still a key). A windowed source's key also gives `_wb`:
    (window start, window end, the key's window bytes) (`serde/windowed.py`)."""
    if table and nkey:
        add("        if rec[0] is None:")
        add("            errs.append(('deserialize key', 'Skipping a table record with a null key', rec))")
        add("            continue")
    if nkey:
        add("        try:")
        add("            k, _wb = _kdec(rec[0])" if windowed else "            k = _kdec(rec[0])")
        add("        except Exception as e:")
        add("            errs.append(('deserialize key', _reason(e), rec))")
        add("            continue")
    else:
        add("        k = ()")


#: the record's headers in generated code (tuples may omit them); `_for_messages`
#: rewrites it for confluent-kafka Message objects
REC_HEADERS = "(rec[5] if len(rec) > 5 else ())"
_MSG_HEADERS = "(rec.headers() or ())"


def emit_value_decode(add: Callable[[str], None], ns: dict[str, Any], source) -> None:
    """Generated value decode: `v` is the list of value columns then header columns (the
    source row layout); a value that does not decode skips the record with a log entry."""
    add("        try:")
    add("            v = _vdec(rec[1])")
    append = header_appender(source.schema.headers)
    if append is not None:
        ns["_hv"] = append
        add(f"            v = _hv(v, {REC_HEADERS})")
    add("        except Exception as e:")
    add("            errs.append(('deserialize value', _reason(e), rec))")
    add("            continue")


def emit_where(comp: ExprCompiler, where: tree.Expr, add: Callable[[str], None]) -> None:
    """Generated WHERE check (one per query path): an evaluation failure is logged and
    counts as false. The caller adds the body of the `if not _w:` branch it opens."""
    comp.clause = "WHERE"
    pred = comp.compile_predicate(where)
    emit_evaluation(add, "        ", "_w", pred, evaluation.WHERE.format(expr=where.sql()), comp.ns)
    add("        if not _w:")


def emit_flat_map(comp: ExprCompiler, flat_map, add: Callable[[str], None], lines: list[str]) -> int:
    """Generated table function calls over the row `r` (ksqlDB's KudtfFlatMapper): each
    call's list, then a loop over the longest one extending `r` with one element of each
    (NULL past a shorter list's end). A parameter that fails to evaluate is NULL, a call
    that fails or returns NULL contributes no rows; both are logged. Returns the index
    of the first line of the loop body, which the caller indents under the loop."""
    lists = []
    for n, tf in enumerate(flat_map.calls):
        name = tf.call.name.upper()
        args = []
        for m, a in enumerate(tf.call.args):
            code, _ = comp.compile(a)
            conv = tf.resolved.converters[m] if tf.resolved.converters else None
            if conv is not None:
                code = f"{comp.const(conv, '_cv')}({code})"
            var = f"_ta{n}_{m}"
            args.append(var)
            emit_evaluation(add, "        ", var, code, evaluation.TABLE_FUNCTION_PARAMETER.format(index=m), comp.ns)
        fn = comp.const(tf.resolved.impl, "_tf")
        out = f"_tl{n}"
        lists.append(out)
        add("        try:")
        add(f"            {out} = {fn}({', '.join(args)})")
        add(f"            if {out} is None:")
        add(f"                errs.append(('evaluate', 'Table function {name} returned null. This is invalid. "
            "Table functions should always return a valid list.', rec))")
        add(f"                {out} = ()")
        add("        except Exception as e:")
        add(f"            errs.append(('evaluate', 'Table function {name} threw an exception: ' + _reason(e), rec))")
        add(f"            {out} = ()")
    add("        _r0 = r")
    add(f"        for _ti in range(max({', '.join(f'len({x})' for x in lists)}, 0)):")
    body = len(lines)
    cells = ", ".join(f"({x}[_ti] if _ti < len({x}) else None)" for x in lists)
    add(f"        r = [*_r0, {cells}]")
    return body


class QueryPipeline:
    """A compiled persistent (or transient) query over one source topic (and the joined
    table's); keeps `contract.Pipeline`."""

    #: no changelogged state: a join's table is rebuilt from `table_topic`
    changelog = None

    def __init__(
        self,
        query_id: str,
        plan: PlannedQuery,
        registry: FunctionRegistry,
        key_in: KeySerde,
        value_in: ValueSerde,
        *,
        sink_topic: str | None = None,
        key_out: KeySerde | None = None,
        value_out: ValueSerde | None = None,
        source_timestamp: TimestampExtractor | None = None,
        sink_timestamp: TimestampExtractor | None = None,
        transient: bool = False,
        value_coercions: Sequence[Callable[[Any], Any] | None] | None = None,
        table_key_in: KeySerde | None = None,
        table_value_in: ValueSerde | None = None,
        table_timestamp: TimestampExtractor | None = None,
        window: tuple[str, int | None] | None = None,
    ) -> None:
        """`window`: (type, size) of a windowed source: its keys carry a window, which
        the row's WINDOWSTART/WINDOWEND slots hold and the output keys keep."""
        if plan.unsupported:
            raise KsqlStatementError(plan.unsupported)
        self.query_id = query_id
        self.plan = plan
        self.source_topic = plan.source.topic
        self.sink_topic = sink_topic
        self.transient = transient
        self.key_in = key_in
        self.value_in = value_in
        self.key_out = key_out
        self.value_out = value_out
        #: stream-table join: the table's current rows by key, each the right half of the
        #: joined row (key columns, value columns, ROWTIME, ROWPARTITION, ROWOFFSET). Fed
        #: only by `update_table`; the runtime rebuilds it by replaying the table topic.
        self.table_rows: dict[Any, tuple] = {}
        self.table_topic = plan.join.right.source.topic if plan.join is not None else None
        self._table_key_in = table_key_in
        self._table_value_in = table_value_in
        self._table_ts = table_timestamp.function() if table_timestamp is not None else None
        self._table_ts_slot = table_timestamp.slot if table_timestamp is not None else 0
        self.window = window
        self.generated_source = self._generate(
            registry, source_timestamp, sink_timestamp, value_coercions
        )
        self._columnar: "_ColumnarPath | None" = None
        if (not transient and source_timestamp is None and sink_timestamp is None and not value_coercions
                and window is None):
            self._columnar = _ColumnarPath.build(self, registry)
        #: counts for metrics / processing-log summaries
        self.processed = 0
        self.failed = 0

    # ------------------------------------------------------------------ codegen

    def _generate(self, registry, source_ts, sink_ts, value_coercions) -> str:
        plan = self.plan
        windowed = self.window is not None
        ns: dict[str, Any] = {
            "_kdec": (windowed_key_decoder(self.key_in.decode, *self.window) if self.window is not None
                      else self.key_in.decode),
            "_vdec": self.value_in.decode,
            "_reason": _reason,
            "_OR": OutputRecord,
            "_new": tuple.__new__,
        }
        comp = ExprCompiler(plan.scope, registry, ns)
        nkey = len(plan.source.schema.key)
        nval = len(plan.source.schema.value)
        null_values = "(" + "None, " * nval + ")"
        # a windowed source's row ends with WINDOWSTART, WINDOWEND; its output keys keep
        # the input's window bytes
        bounds = ", _wb[0], _wb[1]" if windowed else ""
        wsuf = " + _wb[2]" if windowed else ""
        lines = ["def _run(batch, _qid, _topic, _sink):", "    out = []", "    errs = []"]
        add = lines.append
        add("    for rec in batch:")
        emit_key_decode(add, nkey, table=plan.source.kind == "TABLE", windowed=windowed)
        emit_value_decode(add, ns, plan.source)
        add("        ts = rec[2]")

        key_exprs = plan.key_exprs
        value_exprs = plan.all_exprs if self.transient else plan.value_exprs
        is_table = plan.source.kind == "TABLE"

        key_slots = set(range(nkey))

        def key_only(e: tree.Expr) -> bool:
            for x in tree.walk(e):
                if isinstance(x, tree.ColumnRef):
                    slot = plan.scope.resolve(x)
                    if slot is None or slot.index not in key_slots:
                        return False
            return True

        # the output key is the input key unchanged: a NULL input key stays NULL
        passthrough = (plan.join is None and not plan.partitioned and nkey > 0 and len(key_exprs) == nkey and all(
            isinstance(e, tree.ColumnRef) for e in key_exprs
        ))
        ns["_ue"] = comp.ns.setdefault("_udf_errors", [])

        def emit_keys(indent: str, only_key_refs: bool = False) -> str:
            """Code computing the key tuple `kk` (errors → NULL key column)."""
            names = []
            for i, e in enumerate(key_exprs):
                code, _ = comp.compile(e)
                var = f"_k{i}"
                names.append(var)
                if only_key_refs and not key_only(e):
                    add(f"{indent}{var} = None")
                elif _safe(e):
                    add(f"{indent}{var} = {code}")
                else:
                    wording = evaluation.NEW_KEY if plan.partitioned else evaluation.SELECT
                    emit_evaluation(add, indent, var, code, wording.format(expr=e.sql()), comp.ns)
            return "(" + "".join(n + ", " for n in names) + ")"

        # ---- NULL value: streams pass it through (unless filtered), tables tombstone;
        # a stream-table join ignores it (ksqlDB: a NULL stream value does not trigger the join)
        add("        if v is None:")
        if self.transient and is_table and plan.join is None:
            # a push query over a table streams its changes: a deleted row as a tombstone
            # row (key columns kept, NULL elsewhere)
            add(f"            r = [*k, *{null_values}, None, None, None{bounds}]")
            ns["_tomb"] = tombstone_row
            ns["_kpos"] = frozenset(plan.project.key_positions)
            tvals = []
            for i, e in enumerate(plan.all_exprs):
                if i in plan.project.key_positions:
                    code, _ = comp.compile(e)
                    tvals.append(code)
                else:
                    tvals.append("None")
            add("            out.append(_tomb([" + ", ".join(tvals) + "], _kpos))")
            add("            continue")
        elif self.transient or plan.join is not None:
            add("            continue")
        elif plan.where is not None and not is_table:
            add("            continue")
        else:
            add(f"            r = [*k, *{null_values}, ts, rec[3], rec[4]{bounds}]")
            kk = emit_keys("            ", only_key_refs=plan.partitioned)
            kenc = f"(None if rec[0] is None else _kenc({kk}){wsuf})" if passthrough else f"_kenc({kk}){wsuf}"
            add("            try:")
            add(f"                out.append(_new(_OR, (_sink, {kenc}, None, ts, " + REC_HEADERS + ")))")
            add("            except Exception as e:")
            add("                errs.append(('serialize', _reason(e), rec))")
            add("            continue")
        if nkey:
            add(f"        r = [*k, *v, ts, rec[3], rec[4]{bounds}]")
        else:
            add("        r = v")
            add("        r += (ts, rec[3], rec[4])")

        if source_ts is not None:
            ns["_src_ts"] = source_ts.function()
            rowtime_slot = nkey + nval
            add("        try:")
            add(f"            ts = _src_ts(r[{source_ts.slot}])")
            add(f"            r[{rowtime_slot}] = ts")
            add("        except Exception as e:")
            add("            errs.append(('timestamp', _reason(e), rec))")
            add("            continue")

        if plan.join is not None:
            self._emit_lookup(comp, ns, add)
            add("        r += _rr")
            add("        r += (_jkv,)")

        if plan.where is not None:
            emit_where(comp, plan.where, add)
            if is_table and not self.transient:
                kk = emit_keys("            ")
                add("            try:")
                add(f"                out.append(_new(_OR, (_sink, _kenc({kk}){wsuf}, None, ts, " + REC_HEADERS + ")))")
                add("            except Exception as e:")
                add("                errs.append(('serialize', _reason(e), rec))")
            add("            continue")

        # table functions: the rest of the body runs once per element (ksqlDB's flatMap)
        loop_body = emit_flat_map(comp, plan.flat_map, add, lines) if plan.flat_map is not None else None

        comp.clause = "SELECT"
        kk = emit_keys("        ") if not self.transient else "()"
        vals = []
        for i, e in enumerate(value_exprs):
            code, _ = comp.compile(e)
            conv = value_coercions[i] if value_coercions else None
            if conv is not None:
                code = f"{comp.const(conv, '_vc')}({code})"
            var = f"_v{i}"
            vals.append(var)
            if _safe(e) and conv is None:
                add(f"        {var} = {code}")
            else:
                emit_evaluation(add, "        ", var, code, evaluation.SELECT.format(expr=e.sql()), comp.ns)
        row = "[" + ", ".join(vals) + "]"
        if self.transient:
            emit_nested_errors(add, "        ")
            add(f"        out.append({row})")
        else:
            if sink_ts is not None:
                ns["_sink_ts"] = sink_ts.function()
                add("        try:")
                # the slot counts the sink's key columns first, then its value columns
                nko = len(key_exprs)
                ts_var = f"_k{sink_ts.slot}" if sink_ts.slot < nko else vals[sink_ts.slot - nko]
                add(f"            ts = _sink_ts({ts_var})")
                add("        except Exception as e:")
                add("            errs.append(('timestamp', _reason(e), rec))")
                add("            continue")
            emit_nested_errors(add, "        ")
            kenc = f"(None if rec[0] is None else _kenc({kk}){wsuf})" if passthrough else f"_kenc({kk}){wsuf}"
            if not key_exprs:
                kenc = "None"
            add("        try:")
            add(f"            out.append(_new(_OR, (_sink, {kenc}, _venc({row}), ts, " + REC_HEADERS + ")))")
            add("        except Exception as e:")
            add("            errs.append(('serialize', _reason(e), rec))")
        if loop_body is not None:
            lines[loop_body:] = ["    " + line for line in lines[loop_body:]]
        add("    return out, errs")
        if not self.transient:
            assert self.key_out is not None and self.value_out is not None
            ns["_kenc"] = self.key_out.encode
            fast = getattr(self.value_out, "fast_encoder", lambda: None)()
            ns["_venc"] = fast or self.value_out.encode
        source = "\n".join(lines)
        self._run = build_function(source, ns, "_run")
        self._run_msg = build_function(_for_messages(source, "_run", "_run_msg"), ns, "_run_msg")
        return source

    def _emit_lookup(self, comp: ExprCompiler, ns: dict[str, Any], add: Callable[[str], None]) -> None:
        """Code joining the row `r` (left half built) with the table row of its join key."""
        jp = self.plan.join
        assert jp is not None
        ns["_tget"] = self.table_rows.get  # the dict is only ever mutated, never replaced
        ns["_rnull"] = (None,) * jp.right_width
        ns["_hk"] = hashable
        comp.clause = "JOIN ON"
        code, _ = comp.compile(jp.left_key)
        if _safe(jp.left_key):
            add(f"        _jkv = {code}")
        else:
            emit_evaluation(add, "        ", "_jkv", code, evaluation.JOIN_KEY.format(expr=jp.left_key.sql()), comp.ns)
        # `_jkv` is the join key (the result's key slot), `_jk` its form as a dict key
        add("        _jk = _hk(_jkv)" if jp.key_type.base in ("STRUCT", "ARRAY") else "        _jk = _jkv")
        # a NULL join key matches no row: INNER drops the record, LEFT keeps it with NULL
        # table columns (Kafka Streams >= 3.7, KIP-962)
        add("        _rr = None if _jk is None else _tget(_jk)")
        add("        if _rr is None:")
        if jp.kind == "INNER":
            add("            continue")
        else:
            add("            _rr = _rnull")

    # ------------------------------------------------------------------ table state

    def update_table(self, batch: Sequence[Sequence[Any]]) -> list[ErrorRecord]:
        """Apply records of the joined table's topic to `table_rows` (upsert; a NULL value
        deletes the key). Records `(key, value, timestamp, partition, offset[, headers])`.
        A record whose key or value cannot be read changes nothing and comes back as an
        error record; so does a record with a NULL key (a table row needs a key)."""
        kdec = self._table_key_in.decode  # type: ignore[union-attr]
        vdec = self._table_value_in.decode  # type: ignore[union-attr]
        rows = self.table_rows
        complex_key = self.plan.join is not None and self.plan.join.key_type.base in ("STRUCT", "ARRAY")
        ts_fn, ts_slot = self._table_ts, self._table_ts_slot
        hv = header_appender(self.plan.join.right.source.schema.headers) if self.plan.join is not None else None
        errs: list = []
        for rec in batch:
            try:
                k = kdec(rec[0])
            except Exception as e:  # noqa: BLE001 - bad data is reported, never raised
                errs.append(("deserialize key", _reason(e), rec))
                continue
            if not k or k[0] is None:
                errs.append(("table key", "A table row needs a key: record with a NULL key ignored", rec))
                continue
            key = hashable(k[0]) if complex_key else k[0]
            if rec[1] is None:
                rows.pop(key, None)
                continue
            try:
                v = vdec(rec[1])
                if hv is not None:
                    v = hv(v, rec[5] if len(rec) > 5 else ())
            except Exception as e:  # noqa: BLE001
                errs.append(("deserialize value", _reason(e), rec))
                continue
            if v is None:
                rows.pop(key, None)
                continue
            row = (*k, *v, rec[2], rec[3], rec[4])
            if ts_fn is not None:
                try:
                    ts = ts_fn(row[ts_slot])
                except Exception as e:  # noqa: BLE001
                    errs.append(("timestamp", _reason(e), rec))
                    continue
                row = (*k, *v, ts, rec[3], rec[4])
            rows[key] = row
        return self._errors(errs, self.table_topic)

    def update_table_messages(self, msgs: Sequence[Any]) -> list[ErrorRecord]:
        """`update_table` for confluent-kafka `Message` objects."""
        return self.update_table([(m.key(), m.value(), m.timestamp()[1], m.partition(), m.offset(),
                                   m.headers() or ()) for m in msgs])

    def reset_table(self) -> None:
        """Forget every table row (before the runtime rebuilds the state)."""
        self.table_rows.clear()

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        return []

    def load_changes(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        if records:
            raise ValueError(f"query {self.query_id} keeps no changelogged state")

    def reset_state(self) -> None:
        """Nothing to forget: the only state is the table (`reset_table`)."""

    @property
    def source_topics(self) -> list[str]:
        """Every topic this query reads: the stream's, then the joined table's."""
        return [self.source_topic] + ([self.table_topic] if self.table_topic else [])

    def process_topic(self, topic: str, batch: Sequence[Sequence[Any]]) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        """Records of one input topic: table records update the state (no output), stream
        records are processed (joined, projected)."""
        if topic == self.table_topic and topic != self.source_topic:
            return [], self.update_table(batch)
        return self.process(batch)

    # ------------------------------------------------------------------ running

    def process(self, batch: Sequence[Sequence[Any]]) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        """Transform a batch of input records; never raises for bad records.

        Records are tuples `(key, value, timestamp, partition, offset[, headers])`.
        """
        return self._process(batch, messages=False)

    def process_messages(self, msgs: Sequence[Any]) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        """Like `process`, for confluent-kafka `Message` objects (or anything with
        `key()`, `value()`, `timestamp()`, `partition()`, `offset()`): saves the runtime
        building a tuple per record."""
        return self._process(msgs, messages=True)

    def _process(self, batch: Sequence[Any], messages: bool) -> tuple[list[OutputRecord], list[ErrorRecord]]:
        res = None
        if self._columnar is not None and len(batch) >= _ColumnarPath.MIN_BATCH:
            res = self._columnar.run(batch, messages)
        if res is None:
            run = self._run_msg if messages else self._run
            res = run(batch, self.query_id, self.source_topic, self.sink_topic)
        outputs, errs = res
        self.processed += len(batch)
        return outputs, self._errors(errs)

    def process_rows(self, batch: Sequence[Sequence[Any]]) -> tuple[list[list], list[ErrorRecord]]:
        """Transient (push) queries: one list of column values per output row."""
        rows, errs = self._run(batch, self.query_id, self.source_topic, None)
        self.processed += len(batch)
        return rows, self._errors(errs)

    def _errors(self, errs: list, topic: str | None = None) -> list[ErrorRecord]:
        if not errs:
            return []
        topic = topic or self.source_topic
        self.failed += len(errs)
        out = []
        for stage, reason, rec in errs:
            if isinstance(rec, tuple):
                part = rec[3] if len(rec) > 3 else 0
                off = rec[4] if len(rec) > 4 else 0
                ts = rec[2] if len(rec) > 2 else 0
            else:
                part, off, ts = rec.partition(), rec.offset(), rec.timestamp()[1]
            out.append(ErrorRecord(self.query_id, stage, reason, topic, part, off, ts))
        return out


_MSG_ACCESSORS = {
    "rec[0]": "rec.key()", "rec[1]": "rec.value()", "rec[2]": "rec.timestamp()[1]",
    "rec[3]": "rec.partition()", "rec[4]": "rec.offset()",
}


def _for_messages(source: str, name: str, new_name: str) -> str:
    """The same generated loop reading confluent-kafka Message objects instead of tuples."""
    out = source.replace(REC_HEADERS, _MSG_HEADERS)
    out = re.sub(r"rec\[[0-4]\]", lambda m: _MSG_ACCESSORS[m.group(0)], out)
    return out.replace(f"def {name}(", f"def {new_name}(", 1)


class _ColumnarPath:
    """Batch path for DELIMITED → AVRO queries: Arrow parses the batch, runs of DOUBLE
    columns copied to the output are encoded for the whole batch with NumPy, and only
    the columns that expressions use are turned into Python values.

    Same compiled expressions, same results as the per-record path (which remains the
    reference): whenever the batch is not plain (a NULL value, a record the CSV parser
    rejects, ...) `run` returns None and the caller processes it record by record.
    """

    MIN_BATCH = 16

    def __init__(self) -> None:
        self.reader = None
        self.fn = None
        self.runs: list[list[int]] = []  # source value column index per run position
        self.needed: list[int] = []
        self.source = ""

    @classmethod
    def build(cls, pipe: "QueryPipeline", registry) -> "_ColumnarPath | None":
        from fraudstream.embedded.ksqldb.serde.avro import AvroValueSerde
        from fraudstream.embedded.ksqldb.serde.avro_fast import build_record_encoder
        from fraudstream.embedded.ksqldb.serde.delimited import ColumnarDelimitedReader, DelimitedValueSerde

        plan = pipe.plan
        src = plan.source
        if src.kind != "STREAM" or not isinstance(pipe.value_in, DelimitedValueSerde) or plan.flat_map is not None:
            return None
        vout = pipe.value_out
        if not isinstance(vout, AvroValueSerde) or vout.physical or vout.unwrapped or vout._codec is None:
            return None
        value_cols = src.schema.value
        if src.schema.headers or not ColumnarDelimitedReader.supports(value_cols):
            return None
        nkey = len(src.schema.key)
        nval = len(value_cols)

        def value_double_col(e: tree.Expr) -> int | None:
            if isinstance(e, tree.ColumnRef):
                slot = plan.scope.resolve(e)
                if slot is not None and nkey <= slot.index < nkey + nval and slot.type.base == "DOUBLE":
                    return slot.index - nkey
            return None

        exprs = plan.value_exprs
        runs: list[tuple[int, int]] = []
        i = 0
        while i < len(exprs):
            if value_double_col(exprs[i]) is not None:
                j = i
                while j < len(exprs) and value_double_col(exprs[j]) is not None:
                    j += 1
                if j - i >= 2:
                    runs.append((i, j))
                i = j
            else:
                i += 1
        if not runs:
            return None
        in_run = {p for a, b in runs for p in range(a, b)}
        self = cls()
        self.reader = ColumnarDelimitedReader(value_cols, pipe.value_in.delimiter)
        self.runs = [[value_double_col(exprs[p]) for p in range(a, b)] for a, b in runs]  # type: ignore[misc]

        # which source value columns expressions need as Python values
        others = [e for p, e in enumerate(exprs) if p not in in_run] + list(plan.key_exprs)
        if plan.where is not None:
            others.append(plan.where)
        if plan.join is not None:
            others.append(plan.join.left_key)
        needed: set[int] = set()
        for e in others:
            for x in tree.walk(e):
                if isinstance(x, tree.ColumnRef):
                    slot = plan.scope.resolve(x)
                    if slot is not None and nkey <= slot.index < nkey + nval:
                        needed.add(slot.index - nkey)
        self.needed = sorted(needed)

        ns: dict[str, Any] = {"_kdec": pipe.key_in.decode, "_reason": _reason,
                              "_kenc": pipe.key_out.encode, "_OR": OutputRecord,
                              "_new": tuple.__new__, "_sink": pipe.sink_topic}
        ns["_venc"] = build_record_encoder(vout.columns, vout._header, runs)
        comp = ExprCompiler(plan.scope, registry, ns)
        slot_code: dict[int, str] = {}
        for j in range(nkey):
            slot_code[j] = f"k[{j}]"
        for c in self.needed:
            slot_code[nkey + c] = f"_c{c}[i]"
        slot_code[nkey + nval] = "ts"
        slot_code[nkey + nval + 1] = "rec[3]"
        slot_code[nkey + nval + 2] = "rec[4]"
        if plan.join is not None:
            # the table's half of the joined row comes from the looked-up row `_rr`
            for j in range(plan.join.right_width):
                slot_code[plan.join.right_offset + j] = f"_rr[{j}]"
            slot_code[plan.join.key_slot] = "_jkv"
        comp.slot_code = slot_code
        ns["_ue"] = comp.ns.setdefault("_udf_errors", [])

        lines = ["def _run_col(batch, cols, segs):", "    out = []", "    errs = []"]
        add = lines.append
        for c in self.needed:
            add(f"    _c{c} = cols[{c}]")
        for k in range(len(runs)):
            add(f"    _g{k} = segs[{k}]")
        add("    for i in range(len(batch)):")
        add("        rec = batch[i]")
        emit_key_decode(add, nkey)
        add("        ts = rec[2]")
        if plan.join is not None:
            # the same lookup code as the per-record path, the table row kept in `_rr`
            pipe._emit_lookup(comp, ns, add)
        if plan.where is not None:
            emit_where(comp, plan.where, add)
            add("            continue")
        comp.clause = "SELECT"
        keys = []
        for n, e in enumerate(plan.key_exprs):
            code, _ = comp.compile(e)
            emit_evaluation(add, "        ", f"_k{n}", code, evaluation.SELECT.format(expr=e.sql()), comp.ns)
            keys.append(f"_k{n}")
        vals = []
        for p, e in enumerate(exprs):
            if p in in_run:
                continue
            code, _ = comp.compile(e)
            var = f"_v{p}"
            vals.append(var)
            if _safe(e):
                add(f"        {var} = {code}")
            else:
                emit_evaluation(add, "        ", var, code, evaluation.SELECT.format(expr=e.sql()), comp.ns)
        emit_nested_errors(add, "        ")
        kk = "(" + "".join(k + ", " for k in keys) + ")"
        segargs = "".join(f", _g{k}[i]" for k in range(len(runs)))
        add("        try:")
        kenc = f"_kenc({kk})" if keys else "None"
        add(f"            out.append(_new(_OR, (_sink, {kenc}, _venc([{', '.join(vals)}]{segargs}), ts, " + REC_HEADERS + ")))")
        add("        except Exception as e:")
        add("            errs.append(('serialize', _reason(e), rec))")
        add("    return out, errs")
        self.source = "\n".join(lines)
        self.fn = build_function(self.source, ns, "_run_col")
        self.fn_msg = build_function(_for_messages(self.source, "_run_col", "_run_col_msg"), ns, "_run_col_msg")
        return self

    def run(self, batch: Sequence[Any], messages: bool = False):
        import numpy as np

        from fraudstream.embedded.ksqldb.serde.avro_fast import double_run_block, opt_double

        values = [m.value() for m in batch] if messages else [rec[1] for rec in batch]
        if None in values:
            return None
        table = self.reader.read(values)  # type: ignore[union-attr]
        if table is None:
            return None
        n = len(batch)
        cols: dict[int, list] = {c: table.column(c).to_pylist() for c in self.needed}
        segs = []
        for run in self.runs:
            chunks = [table.column(c) for c in run]
            arrays = [np.asarray(ch.to_numpy(zero_copy_only=False), dtype=np.float64) for ch in chunks]
            block, width = double_run_block(arrays)
            seg = [block[i * width:(i + 1) * width] for i in range(n)]
            if any(ch.null_count for ch in chunks):
                nulls = np.zeros(n, dtype=bool)
                for ch in chunks:
                    if ch.null_count:
                        nulls |= np.asarray(ch.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                pyvals = [ch.to_pylist() for ch in chunks]
                for i in np.flatnonzero(nulls):
                    seg[i] = b"".join(b"\x00" if pv[i] is None else opt_double(pv[i]) for pv in pyvals)
            segs.append(seg)
        fn = self.fn_msg if messages else self.fn
        return fn(batch, cols, segs)  # type: ignore[misc]
