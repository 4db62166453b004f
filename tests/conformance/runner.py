"""Runs one QTT case through the engine in-process, like ksqlDB's `TestExecutor`.

Per run: fresh in-memory topics and schema registry, the topics and schemas the case
declares, the statements executed (as one request, so `line L:C` positions match the
corpus), each input serialised for its topic and pushed, in file order, through every
query reading that topic (a join query reads its stream's and its table's topics;
outputs feed downstream queries in turn), then the expected outputs, the expected
exception and the `post` conditions are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.execution.engine import Engine
from fraudstream.embedded.ksqldb.errors import EvaluationError, KsqlError, KsqlParseError, KsqlStatementError
from fraudstream.embedded.ksqldb.expr.functions import FunctionRegistry, Resolved, Udf, default_registry
from fraudstream.embedded.ksqldb.expr.functions.registry import no_match
from fraudstream.embedded.ksqldb.execution.memory import InMemorySchemaRegistry, InMemoryTopicAdmin
from fraudstream.embedded.ksqldb.catalog.metastore import DataSource
from fraudstream.embedded.ksqldb.serde.windowed import window_bytes
from fraudstream.embedded.ksqldb.sql.parser import parse, parse_table_elements
from fraudstream.embedded.ksqldb.operators.records import InputRecord, OutputRecord
from fraudstream.embedded.ksqldb.catalog.schema import KEY
from fraudstream.embedded.ksqldb.catalog.sqltypes import BOOLEAN, INTEGER, STRING

from tests.conformance import matching, protobuf_records, udfs
from tests.conformance.loader import Run


@dataclass
class Result:
    name: str
    status: str  # passed | failed | skipped
    reason: str = ""


# ------------------------------------------------------------------ test-only UDFs


def _test_functions() -> FunctionRegistry:
    """ksqlDB's QTT registers a few test UDFs; these mirror their documented behaviour."""
    reg = default_registry().copy()

    def when(name: str, rtype):
        def resolve(types):
            if len(types) != 2:
                raise no_match(name, types)

            def impl(value, ok):
                if not ok:
                    raise EvaluationError(f"{name} was evaluated although it should not be")
                return value

            return Resolved(types[0] or rtype, impl, null_propagating=False)

        return Udf(name, resolve)

    def bad_udf():
        # upstream's three overloads: (INT) always throws, (BOOLEAN) throws when true,
        # (STRING) returns NULL on every other call (counted per call site)
        def resolve(types):
            if len(types) != 1:
                raise no_match("BAD_UDF", types)
            t = types[0]
            if t is not None and t.base in ("INTEGER", "BIGINT"):
                def blow_up(arg):
                    raise EvaluationError("boom!")

                return Resolved(STRING, blow_up, null_propagating=False)
            if t is not None and t.base == "STRING":
                calls = [0]

                def every_other(arg):
                    calls[0] += 1
                    return None if calls[0] % 2 == 1 else arg

                return Resolved(STRING, every_other, null_propagating=False)

            def impl(should_throw):
                if should_throw:
                    raise EvaluationError("BAD_UDF was asked to throw")
                return 0

            return Resolved(INTEGER, impl, null_propagating=False)

        return Udf("BAD_UDF", resolve)

    udfs.register(reg)
    reg.register(when("WHENCONDITION", BOOLEAN))
    reg.register(when("WHENRESULT", INTEGER))
    reg.register(bad_udf())
    return reg


TEST_FUNCTIONS = _test_functions()

#: a topic's declared format → the registry's schemaType of its declared schema
SCHEMA_TYPES = {"AVRO": "AVRO", "JSON": "JSON", "JSON_SR": "JSON", "PROTOBUF": "PROTOBUF"}


# ------------------------------------------------------------------ expected exceptions


def exception_matches(expected: dict[str, Any], err: Exception) -> str | None:
    """None when `err` satisfies `expectedException`, else the reason it does not."""
    typ = expected.get("type", "")
    msg = expected.get("message", "")
    short = typ.rsplit(".", 1)[-1]
    if short == "ParseFailedException":
        ok_type = isinstance(err, KsqlParseError)
    elif short == "KsqlStatementException":
        ok_type = isinstance(err, KsqlStatementError)
    elif short == "KsqlException":
        ok_type = isinstance(err, KsqlError)
    else:
        ok_type = False  # runtime StreamsException: the engine never stops a query
    text = str(getattr(err, "unlogged_details", None) or getattr(err, "message", err))
    if not ok_type:
        return f"expected {short}, got {type(err).__name__}: {text}"
    if msg and msg not in text:
        return f"message mismatch:\n  expected substring: {msg!r}\n  actual: {text!r}"
    return None


# ------------------------------------------------------------------ the run


def _headers(spec: list[dict] | None) -> tuple[tuple[str, bytes | None], ...]:
    """A QTT record's `headers`: [{"KEY": k, "VALUE": base64 or null}, ...]."""
    import base64

    return tuple(
        (h["KEY"], None if h.get("VALUE") is None else base64.b64decode(h["VALUE"]))
        for h in spec or ()
    )


def split_windowed_key(key: bytes | None, sink: DataSource) -> tuple[bytes, tuple[int, int]] | None:
    """(inner key, (window start, window end)) of a windowed key, None if too short."""
    if sink.window_type == "SESSION":
        if key is None or len(key) < 16:
            return None
        end = int.from_bytes(key[-16:-8], "big", signed=True)
        return key[:-16], (int.from_bytes(key[-8:], "big", signed=True), end)
    if key is None or len(key) < 8 or sink.window_size is None:
        return None
    start = int.from_bytes(key[-8:], "big", signed=True)
    return key[:-8], (start, start + sink.window_size)


def _java_string_hash(s: str) -> int:
    """String.hashCode over UTF-16 code units, as an unsigned 32-bit value."""
    data = s.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def java_hashmap_order(keys: list[str]) -> list[str]:
    """The iteration order of a java.util.HashMap<String, ?> filled with `keys` in this
    order: by bucket (the spread hash masked by the table size, which doubles past a 0.75
    load factor from 16), then insertion order within a bucket."""
    size = 16
    while len(keys) > size * 0.75:
        size *= 2

    def bucket(k: str) -> int:
        h = _java_string_hash(k)
        return (h ^ (h >> 16)) & (size - 1)

    return [k for _, _, k in sorted((bucket(k), i, k) for i, k in enumerate(keys))]


class _Topics:
    def __init__(self) -> None:
        self.records: dict[str, list[OutputRecord]] = {}


class CaseRunner:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.case = run.case
        self.admin = InMemoryTopicAdmin()
        self.registry = InMemorySchemaRegistry()
        self.topics: dict[str, list[OutputRecord]] = {}
        self.engine = Engine(
            self.admin, self.registry, writer=self, functions=TEST_FUNCTIONS,
            config=dict(run.properties),
        )
        self.depth = 0

    # RecordWriter (INSERT INTO ... VALUES)
    def produce(self, topic: str, key, value, timestamp: int, headers: tuple = ()) -> None:
        self.deliver(OutputRecord(topic, key, value, timestamp, headers))

    #: partitions of a topic a CREATE with columns names without PARTITIONS; the
    #: TopologyTestDriver reads every record as partition 0, so 1 here (the REST harness,
    #: on a broker upstream, takes Topic.DEFAULT_PARTITIONS)
    CREATE_PARTITIONS = 1

    def _placement(self, rec: OutputRecord, offset: int) -> tuple[int, int]:
        """(partition, offset) of a record appended to its topic: the test driver's."""
        return 0, offset

    def deliver(self, rec: OutputRecord) -> None:
        records = self.topics.setdefault(rec.topic, [])
        offset = len(records)
        records.append(rec)
        self.depth += 1
        if self.depth > 50:
            raise RuntimeError("query cycle: records keep flowing between topics")
        try:
            inp = InputRecord(rec.key, rec.value, rec.timestamp, *self._placement(rec, offset), rec.headers)
            for q in list(self.engine.queries.values()):
                if rec.topic in q.source_topics and q.state == "RUNNING":
                    # a join query reads two topics: table records update its state,
                    # stream records are joined against the state as it is now
                    outs, _errs = q.pipeline.process_topic(rec.topic, [inp])
                    for o in outs:
                        self.deliver(o)
        finally:
            self.depth -= 1

    # ---------------------------------------------------------------- setup

    def _setup_topics(self) -> None:
        """Topics as upstream's TestCaseBuilderUtil.getAllTopics collects them: those the
        case declares, then those its CREATE statements name (with their PARTITIONS), then
        those its records name (1 partition)."""
        names: dict[str, int] = {}
        for t in self.case.get("topics", []) or []:
            names[t["name"]] = int(t.get("partitions", 1))
        stmts = []
        for sql in self.run.statements:  # one by one: a statement that does not parse names no topic
            try:
                stmts += parse(sql)
            except KsqlError:
                continue
        for s in stmts:
            if isinstance(s, tree.CreateSource):
                topic = s.properties.get("KAFKA_TOPIC")
                partitions = s.properties.get("PARTITIONS")
                if not isinstance(topic, str):
                    continue
                if partitions is not None:
                    try:
                        names.setdefault(topic, int(partitions))
                    except (TypeError, ValueError):
                        continue  # the statement itself reports the bad value
                elif s.elements is not None:
                    names.setdefault(topic, self.CREATE_PARTITIONS)
        for r in (self.case.get("inputs") or []) + (self.case.get("outputs") or []):
            names.setdefault(r["topic"], 1)
        for n, p in names.items():
            self.admin.create_topic(n, p, 1)
        # TestExecutor.maybeRegisterTopicSchemas: the declared schemas with an id first
        declared: dict[str, tuple[str, str]] = {}
        for t in self.case.get("topics", []) or []:
            for side in ("key", "value"):
                schema = t.get(f"{side}Schema")
                if schema is None:
                    continue
                # SerdeUtil.buildSchema: no format is Avro, JSON and JSON_SR are JSON Schema
                stype = SCHEMA_TYPES.get(str(t.get(f"{side}Format") or "AVRO").upper())
                if stype is None:
                    continue
                declared[f"{t['name']}-{side}"] = (
                    schema if stype == "PROTOBUF" else matching.schema_text(schema), stype)
                sid = t.get(f"{side}SchemaId")
                if sid is not None:
                    # the references first, each under its import name (TestExecutor)
                    refs = []
                    for ref in t.get(f"{side}SchemaReferences") or ():
                        self.registry.register(ref["name"], ref["schema"], str(ref.get("format") or stype))
                        refs.append({"name": ref["name"], "subject": ref["name"], "version": 1})
                    self.registry.register(f"{t['name']}-{side}", declared[f"{t['name']}-{side}"][0], stype,
                                           schema_id=int(sid), references=tuple(refs))
        # then TestExecutorUtil.initializeTopics: every topic's schema, the declared one or
        # the one its CREATE statement's columns give, in the iteration order of the
        # java.util.HashMap TestCaseBuilderUtil.getAllTopics collects them in (the ids
        # the registry hands out follow that order)
        derived = self._statement_schemas(stmts)
        for name in java_hashmap_order(list(names)):
            for side in ("key", "value"):
                subject = f"{name}-{side}"
                found = declared.get(subject) or derived.get(subject)
                if found is not None:
                    self.registry.register(subject, found[0], found[1])

    def _statement_schemas(self, stmts: list) -> dict[str, tuple[str, str]]:
        """The schemas ksqlDB's test driver derives from CREATE statements with columns
        (TestCaseBuilderUtil.createTopicFromCreateSource): those the engine itself
        registers for them, found by running the CREATEs against a scratch engine."""
        registry = InMemorySchemaRegistry()
        scratch = Engine(InMemoryTopicAdmin(), registry, functions=TEST_FUNCTIONS,
                         config=dict(self.run.properties))
        for s in stmts:
            if isinstance(s, tree.CreateSource) and s.elements:
                try:
                    scratch.execute_statement(s, {})
                except Exception:  # noqa: BLE001 - the real run reports it
                    continue
        out = {}
        for subject in registry.subjects():
            latest = registry.get_latest(subject)
            if latest is not None and latest.schema_type in SCHEMA_TYPES.values():
                out[subject] = (latest.schema, latest.schema_type)
        return out

    # ---------------------------------------------------------------- serialisation

    def _reader_source(self, topic: str) -> DataSource | None:
        found = [s for s in self.engine.metastore.sources.values() if s.topic == topic]
        if not found:
            return None
        readers = {n for q in self.engine.queries.values() for n in q.source_names}
        for s in found:
            if s.name in readers:
                return s
        return found[0]

    def _encode(self, source: DataSource | None, rec: dict[str, Any], topic: str) -> tuple[bytes | None, bytes | None]:
        if source is None:
            key = rec.get("key")
            value = rec.get("value")
            kb = None if key is None else matching.dump_json(key).encode()
            vb = None if value is None else (value if isinstance(value, str) else matching.dump_json(value)).encode()
            return kb, vb
        kb = self._encode_side(source, rec.get("key"), topic, True)
        w = rec.get("window")
        if w is not None:
            # a windowed source's key: inner key + the window (serde/windowed.py)
            kind = "SESSION" if w.get("type") == "session" else "TUMBLING"
            kb = (kb or b"") + window_bytes(kind, int(w["start"]), int(w["end"]))
        return kb, self._encode_side(
            source, rec.get("value"), topic, False
        )

    def _encode_side(self, source: DataSource, v: Any, topic: str, is_key: bool) -> bytes | None:
        if v is None:
            return None
        if is_key:
            cols = source.schema.key
            fmt = source.effective_key_format.name
            if not cols:
                return None
        else:
            cols = source.schema.value_only
            fmt = source.value_format.name
        if fmt == "JSON":
            return matching.dump_json(v).encode("utf-8")
        if fmt == "DELIMITED":
            return (v if isinstance(v, str) else matching.dump_json(v)).encode("utf-8")
        if fmt == "KAFKA":
            return matching.encode_kafka_primitive(v, cols[0].type)
        if fmt == "AVRO":
            return matching.encode_avro(v, self.registry, f"{topic}-{'key' if is_key else 'value'}")
        if fmt == "JSON_SR":
            return matching.encode_json_sr(v, self.registry, f"{topic}-{'key' if is_key else 'value'}")
        if fmt in ("PROTOBUF", "PROTOBUF_NOSR"):
            info = source.effective_key_format if is_key else source.value_format
            return protobuf_records.encode(v, self.registry, f"{topic}-{'key' if is_key else 'value'}", info, cols)
        if fmt == "NONE":
            return None
        raise matching.EncodeError(f"cannot encode input for format {fmt}")

    def _decode_side(self, source: DataSource | None, data: bytes | None, is_key: bool) -> Any:
        if data is None:
            return None
        if source is None:
            return data.decode("utf-8", "replace")
        if is_key:
            cols = source.schema.key
            fmt = source.effective_key_format.name
            if not cols:
                return None
        else:
            cols = source.schema.value_only
            fmt = source.value_format.name
        if fmt == "JSON":
            import json

            return json.loads(data, parse_float=Decimal)
        if fmt == "DELIMITED":
            return data.decode("utf-8")
        if fmt == "KAFKA":
            return matching.decode_kafka_primitive(data, cols[0].type)
        if fmt == "AVRO":
            return matching.decode_avro(data, self.registry)
        if fmt == "JSON_SR":
            return matching.decode_json_sr(data, self.registry)
        if fmt in ("PROTOBUF", "PROTOBUF_NOSR"):
            info = source.effective_key_format if is_key else source.value_format
            return protobuf_records.decode(data, self.registry, info, cols)
        return None

    # ---------------------------------------------------------------- checks

    def _check_outputs(self) -> str | None:
        expected_by_topic: dict[str, list[dict]] = {}
        for r in self.case.get("outputs") or []:
            expected_by_topic.setdefault(r["topic"], []).append(r)
        only_inserts = not (self.case.get("inputs") or [])
        for topic, expected in expected_by_topic.items():
            actual = self.topics.get(topic, [])
            if len(actual) != len(expected):
                shown = [self._describe_actual(topic, a) for a in actual]
                return (
                    f"topic {topic}: expected {len(expected)} records, got {len(actual)}\n"
                    f"  expected: {[self._short(e) for e in expected]}\n  actual:   {shown}"
                )
            sink = self._sink_source(topic)
            for i, (e, a) in enumerate(zip(expected, actual)):
                key_bytes = a.key
                if "window" in e:
                    # Kafka Streams' windowed keys: inner key + 8-byte window start (time
                    # windows), inner key + 8-byte end + 8-byte start (session windows)
                    w = e["window"]
                    kind = "session" if sink is not None and sink.window_type == "SESSION" else "time"
                    if sink is None or sink.window_type is None or w.get("type") != kind:
                        return f"topic {topic} record {i}: expected a {w.get('type')} window, sink is {kind}-windowed"
                    split = split_windowed_key(key_bytes, sink)
                    if split is None:
                        return f"topic {topic} record {i}: key {key_bytes!r} is not a windowed key"
                    key_bytes, bounds = split
                    if bounds != (int(w["start"]), int(w["end"])):
                        return (f"topic {topic} record {i}: window mismatch: expected [{w['start']}, {w['end']}], "
                                f"got [{bounds[0]}, {bounds[1]}]")
                try:
                    ak = self._decode_side(sink, key_bytes, True)
                    av = self._decode_side(sink, a.value, False)
                except Exception as ex:  # noqa: BLE001
                    return f"topic {topic} record {i}: cannot decode output: {ex}"
                if not matching.matches(e.get("key"), ak):
                    return f"topic {topic} record {i}: key mismatch: expected {e.get('key')!r}, got {ak!r}"
                if not matching.matches(e.get("value"), av):
                    return f"topic {topic} record {i}: value mismatch: expected {e.get('value')!r}, got {av!r}"
                if e.get("headers") is not None and tuple(a.headers or ()) != _headers(e["headers"]):
                    return (f"topic {topic} record {i}: headers mismatch: expected {e['headers']!r}, "
                            f"got {list(a.headers or ())!r}")
                if "timestamp" in e:
                    ts = int(e["timestamp"])
                    if not (ts == 0 and only_inserts) and ts != a.timestamp:
                        return f"topic {topic} record {i}: timestamp mismatch: expected {ts}, got {a.timestamp}"
        return None

    @staticmethod
    def _short(e: dict) -> str:
        return f"{e.get('key')!r}:{e.get('value')!r}"

    def _describe_actual(self, topic: str, a: OutputRecord) -> str:
        sink = self._sink_source(topic)
        key, window = a.key, ""
        split = split_windowed_key(key, sink) if sink is not None and sink.window_type else None
        if split is not None:
            key, (start, end) = split
            window = f"@[{start},{end}]"
        try:
            return f"{self._decode_side(sink, key, True)!r}{window}:{self._decode_side(sink, a.value, False)!r}"
        except Exception:  # noqa: BLE001
            return f"{a.key!r}:{a.value!r}"

    def _sink_source(self, topic: str) -> DataSource | None:
        found = [s for s in self.engine.metastore.sources.values() if s.topic == topic]
        writers = {q.sink_name for q in self.engine.queries.values()}
        for s in found:
            if s.name in writers:
                return s
        return found[0] if found else None

    def _check_post(self) -> str | None:
        post = self.case.get("post") or {}
        for spec in post.get("sources", []) or []:
            src = self.engine.metastore.get(spec["name"])
            if src is None:
                return f"post: source {spec['name']} does not exist"
            if "type" in spec and spec["type"].upper() != src.kind:
                return f"post: source {spec['name']} is a {src.kind}, expected {spec['type']}"
            if "schema" in spec:
                elements = parse_table_elements(spec["schema"])
                exp = [(el.name, el.type, "KEY" if el.constraint in ("KEY", "PRIMARY KEY") else "VALUE") for el in elements]
                act = [(c.name, c.type, "KEY" if c.namespace == KEY else "VALUE") for c in src.schema.columns]
                if exp != act:
                    return f"post: schema of {src.name}: expected {spec['schema']}, got {src.schema}"
            kf = spec.get("keyFormat")
            if kf:
                if "format" in kf and kf["format"].upper() != src.effective_key_format.name:
                    return f"post: key format of {src.name}: expected {kf['format']}, got {src.effective_key_format.name}"
                if kf.get("windowType") != src.window_type:
                    return f"post: window type of {src.name}: expected {kf.get('windowType')}, got {src.window_type}"
                if kf.get("windowSize") is not None and int(kf["windowSize"]) != src.window_size:
                    return f"post: window size of {src.name}: expected {kf['windowSize']}, got {src.window_size}"
            vf = spec.get("valueFormat")
            if vf and (vf if isinstance(vf, str) else vf.get("format", "")).upper() != src.value_format.name:
                return f"post: value format of {src.name}: expected {vf}, got {src.value_format.name}"
            if "keyFeatures" in spec and sorted(spec["keyFeatures"]) != src.key_features.as_list():
                return f"post: key features of {src.name}: expected {spec['keyFeatures']}, got {src.key_features.as_list()}"
            if "valueFeatures" in spec and sorted(spec["valueFeatures"]) != src.value_features.as_list():
                return f"post: value features of {src.name}: expected {spec['valueFeatures']}, got {src.value_features.as_list()}"
            if "isSource" in spec and bool(spec["isSource"]) != src.is_source:
                return f"post: isSource of {src.name}: expected {spec['isSource']}"
        topics = post.get("topics") or {}
        bl = topics.get("blacklist")
        if bl:
            rx = re.compile(bl)
            for t in self.admin.list_topics():
                if rx.fullmatch(t.name):
                    return f"post: topic {t.name} matches blacklist {bl}"
        for spec in topics.get("topics", []) or []:
            err = self._check_post_topic(spec)
            if err:
                return err
        return None

    def _check_post_topic(self, spec: dict) -> str | None:
        import json

        name = spec["name"]
        info = self.admin.describe_topic(name)
        if info is None:
            return f"post: topic {name} does not exist"
        src = self._sink_source(name)
        if "partitions" in spec and int(spec["partitions"]) != info.partitions:
            return f"post: topic {name} has {info.partitions} partitions, expected {spec['partitions']}"
        for side in ("key", "value"):
            fmt = spec.get(f"{side}Format")
            if fmt and src is not None:
                want = fmt["format"] if isinstance(fmt, dict) else fmt
                have = src.effective_key_format.name if side == "key" else src.value_format.name
                if want.upper() != have:
                    return f"post: topic {name} {side} format {have}, expected {want}"
                if isinstance(fmt, dict) and "features" in fmt:
                    feats = (src.key_features if side == "key" else src.value_features).as_list()
                    if sorted(fmt["features"]) != feats:
                        return f"post: topic {name} {side} features {feats}, expected {fmt['features']}"
            schema = spec.get(f"{side}Schema")
            if schema is not None:
                rs = self.registry.get_latest(f"{name}-{side}")
                if rs is None:
                    return f"post: no {side} schema registered for topic {name}"
                have = json.loads(rs.schema)
                want = json.loads(matching.schema_text(schema))
                if have != want:
                    return f"post: {side} schema of {name}:\n  expected {want}\n  actual   {have}"
        return None

    # ---------------------------------------------------------------- main

    def execute(self) -> Result:
        name = self.run.name
        if self.run.skip_reason:
            return Result(name, "skipped", self.run.skip_reason)
        try:
            self._setup_topics()
        except Exception as e:  # noqa: BLE001
            return Result(name, "failed", f"setup: {type(e).__name__}: {e}")
        expected_exc = self.case.get("expectedException")
        sql = "\n".join(self.run.statements)
        try:
            self.engine.execute(sql, {})
        except KsqlError as e:
            if expected_exc:
                why = exception_matches(expected_exc, e)
                return Result(name, "failed" if why else "passed", why or "")
            return Result(name, "failed", f"statement failed: {type(e).__name__}: {e}")
        except Exception as e:  # noqa: BLE001 - an engine bug must show, not abort the run
            return Result(name, "failed", f"engine error: {type(e).__name__}: {e}")
        for q in self.engine.queries.values():
            if hasattr(q.pipeline, "clock"):
                # TopologyTestDriver's wall clock does not move while records are piped
                q.pipeline.clock = lambda: 0
        try:
            for rec in self.case.get("inputs") or []:
                topic = rec["topic"]
                source = self._reader_source(topic)
                kb, vb = self._encode(source, rec, topic)
                ts = int(rec.get("timestamp", 0))
                self.deliver(OutputRecord(topic, kb, vb, ts, _headers(rec.get("headers"))))
        except Exception as e:  # noqa: BLE001
            if expected_exc:
                return Result(name, "failed", f"expected exception {expected_exc.get('message')!r}, got {type(e).__name__}: {e}")
            return Result(name, "failed", f"processing inputs: {type(e).__name__}: {e}")
        if expected_exc:
            return Result(name, "failed", f"expected exception not raised: {expected_exc.get('message')!r}")
        err = self._check_outputs() or self._check_post()
        return Result(name, "failed" if err else "passed", err or "")


def run_case(run: Run) -> Result:
    return CaseRunner(run).execute()
