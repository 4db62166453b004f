"""The REST query files against a running KSQL server over HTTP, as ksqlDB's
RestQueryTranslationTest runs them against its test server.

Per case: the topics the case names are created on the broker (schemas registered in
the registry), the statements before the first `SELECT ` go to `POST /ksql` as one
request, the inputs are produced to the broker, the harness waits until every persistent
query has consumed its source topics (upstream's waitForPersistentQueriesToProcessInputs:
each query's consumer group has committed up to where nothing is left to read), then each
SELECT goes to `POST /query` (v1 JSON) and the streamed answer is matched as in process
(`rest_runner`). A push query that has not reached its LIMIT when the server stops
sending within `PUSH_WAIT_S` is closed and its rows so far are the response. After the
case every query is terminated, every source dropped and the case's topics and
subjects deleted, so the next case starts from an empty server.

A local engine mirrors the statements only to know each input topic's formats (as
upstream's TopicInfoCache asks its server's metastore); every response comes from the
server. Two things upstream's harness does cannot be done against a real registry and
librdkafka: registering a schema under a fixed id (cases naming `valueSchemaId` fail)
and producing a record with timestamp 0 (librdkafka reads 0 as "now").
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.clients.topic_reader import read_to_end
from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.execution.engine import Engine
from fraudstream.embedded.ksqldb.operators.records import OutputRecord
from fraudstream.embedded.ksqldb.runtime.registry import HttpSchemaRegistry
from fraudstream.embedded.ksqldb.server.statements import StatementHandler

from tests.conformance.loader import Run
from tests.conformance.rest_runner import SERVER_CONFIG, RestCaseRunner
from tests.conformance.runner import TEST_FUNCTIONS, Result

V1_JSON = "application/vnd.ksql.v1+json"
#: how long a push query may stay silent before its rows so far are taken as its answer
PUSH_WAIT_S = 8.0
#: how long the persistent queries get to consume the inputs
CATCH_UP_S = 60.0


@dataclass
class Server:
    ksql_url: str
    bootstrap: str
    registry_url: str


class HttpError(KsqlError):
    """A request the server refused: its body and status are the response to match."""

    def __init__(self, body: dict, status: int) -> None:
        super().__init__(str(body.get("message", body)))
        self.response = (body, status)


class _Registry(HttpSchemaRegistry):
    """The server's registry; a case's fixed schema ids cannot be imported into it, so a
    schema gets the id the registry gives (cases that name ids fail on that)."""

    def register(self, subject: str, schema: str, schema_type: str = "AVRO", schema_id: int | None = None,
                 references: tuple = ()) -> int:
        del schema_id, references  # ids and references: the server registry hands out its own
        return super().register(subject, schema, schema_type)


class HttpCaseRunner(RestCaseRunner):
    def __init__(self, run: Run, server: Server) -> None:
        super().__init__(run)
        # the mirror encodes inputs with the server's registry, so their schema ids are real
        self.registry = _Registry(server.registry_url)
        self.engine = Engine(self.admin, self.registry, writer=self, functions=TEST_FUNCTIONS,
                             config={**self.engine.config})
        self.server = server
        self.http = httpx.Client(base_url=server.ksql_url, timeout=60)
        self.kafka = AdminClient({"bootstrap.servers": server.bootstrap})
        self.created: list[str] = []

    def _props(self) -> dict[str, Any]:
        return {**SERVER_CONFIG, **self.props}

    # ---------------------------------------------------------------- topics

    def _setup_topics(self) -> None:
        super()._setup_topics()  # the mirror's topics (schemas go to the server's registry)
        for info in self.admin.list_topics():
            self._create_topic(info.name, info.partitions)

    def _create_topic(self, name: str, partitions: int) -> None:
        """Created fresh; a topic the previous case deleted may still be on its way out."""
        deadline = time.monotonic() + 30
        while True:
            fut = self.kafka.create_topics([NewTopic(name, partitions, 1)])[name]
            try:
                fut.result(30)
                self.created.append(name)
                return
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise
                if "TOPIC_ALREADY_EXISTS" in str(exc) and name not in self.created:
                    self._delete_topics([name])
                time.sleep(0.5)

    def _delete_topics(self, names: list[str]) -> None:
        if not names:
            return
        for fut in self.kafka.delete_topics(names, operation_timeout=30).values():
            try:
                fut.result(30)
            except KafkaException:
                pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = set(names) & set(self.kafka.list_topics(timeout=10).topics)
            if not left:
                return
            time.sleep(0.2)

    # ---------------------------------------------------------------- requests

    def ksql_request(self, sql: str) -> list[dict]:
        deadline = time.monotonic() + 5
        while True:
            r = self.http.post("/ksql", json={"ksql": sql, "streamsProperties": self._props()})
            body = r.json(parse_float=Decimal)
            # upstream retries while a new topic's metadata has not reached the server
            if r.status_code == 200 or "does not exist" not in str(body.get("message", "")) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if r.status_code != 200:
            raise HttpError(body, r.status_code)
        try:  # the local mirror, for the input topics' formats only
            StatementHandler(self.engine).handle(sql, dict(self.props))
        except KsqlError:
            pass
        return body

    def produce_inputs(self) -> None:
        inputs = self.case.get("inputs") or []
        if not inputs:
            return
        # Java's default partitioner (murmur2 of the key), as upstream's producer places records
        producer = Producer({"bootstrap.servers": self.server.bootstrap, "enable.idempotence": True,
                             "partitioner": "murmur2_random"})
        for rec in inputs:
            topic = rec["topic"]
            kb, vb = self._encode(self._reader_source(topic), rec, topic)
            producer.produce(topic, value=vb, key=kb, timestamp=int(rec.get("timestamp", 0)))
        if producer.flush(30) != 0:
            raise RuntimeError("inputs not delivered within 30 s")
        self._wait_for_queries()

    def _wait_for_queries(self) -> None:
        """Every persistent query's group has committed up to where its read-committed
        reader finds nothing more."""
        queries = self.http.post("/ksql", json={"ksql": "SHOW QUERIES;"}).json()[0]["queries"]
        if not queries:
            return
        deadline = time.monotonic() + CATCH_UP_S
        while time.monotonic() < deadline:
            if all(self._caught_up(q) for q in queries):
                return
            time.sleep(0.3)
        raise RuntimeError(f"persistent queries did not consume their inputs within {CATCH_UP_S:.0f} s")

    def _caught_up(self, query: dict) -> bool:
        groups = [g.group_id for g in self.kafka.list_consumer_groups().result(10).valid
                  if g.group_id.endswith(f"query_{query['id']}")]
        if not groups:
            return False
        consumer = Consumer({"bootstrap.servers": self.server.bootstrap, "group.id": groups[0],
                             "enable.auto.commit": False, "isolation.level": "read_committed"})
        try:
            sources = self._source_topics(query)
            parts = [TopicPartition(t, p) for t in sources
                     for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
            committed = consumer.committed(parts, timeout=10)
            for tp in committed:
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
                position = tp.offset if tp.offset >= 0 else low
                if position >= high:
                    continue
                # records (not only transaction markers) left after the committed offset?
                consumer.assign([TopicPartition(tp.topic, tp.partition, position)])
                msgs = consumer.consume(1, timeout=0.5)
                if any(m.error() is None for m in msgs):
                    return False
            return True
        finally:
            consumer.close()

    def _source_topics(self, query: dict) -> list[str]:
        """The topics the query reads, from the local mirror's query of the same statement."""
        mirror = next((q for q in self.engine.queries.values()
                       if q.statement_text.strip() == str(query.get("queryString", "")).strip()), None)
        names = mirror.source_topics if mirror is not None else []
        existing = self.kafka.list_topics(timeout=10).topics
        return [t for t in names if t in existing]

    def query(self, sql: str) -> list[dict]:
        rows: list[dict] = []
        with self.http.stream("POST", "/query", headers={"Accept": V1_JSON},
                              json={"ksql": sql, "streamsProperties": self._props()},
                              timeout=httpx.Timeout(60, read=PUSH_WAIT_S)) as r:
            try:
                text = b"".join(r.iter_bytes()).decode()
            except httpx.ReadTimeout:
                text = None
            if r.status_code != 200:
                raise HttpError(json.loads(text or "{}", parse_float=Decimal), r.status_code)
        if text is None:  # a push query still waiting for rows: what it sent so far
            return rows
        items = json.loads(text, parse_float=Decimal)
        return items if isinstance(items, list) else [items]

    def _check_outputs(self) -> str | None:
        for topic in {r["topic"] for r in self.case.get("outputs") or []}:
            self.topics[topic] = [
                OutputRecord(topic, m.key(), m.value(), m.timestamp()[1], tuple(m.headers() or ()))
                for batch in read_to_end(self.server.bootstrap, topic) for m in batch]
        return super()._check_outputs()

    # ---------------------------------------------------------------- the case

    def cleanup(self) -> None:
        self.http.post("/ksql", json={"ksql": "TERMINATE ALL;"})
        for kind in ("TABLES", "STREAMS"):
            listing = self.http.post("/ksql", json={"ksql": f"SHOW {kind};"}).json()
            for source in listing[0].get(kind.lower(), []) if isinstance(listing, list) else []:
                if source["name"].startswith("KSQL_PROCESSING_LOG"):
                    continue
                self.http.post("/ksql", json={"ksql": f"DROP {kind[:-1]} IF EXISTS `{source['name']}`;"})
        topics = [t for t in self.kafka.list_topics(timeout=10).topics
                  if not t.startswith("_") and "ksql_processing_log" not in t]
        self._delete_topics(topics)
        for subject in httpx.get(f"{self.server.registry_url}/subjects", timeout=30).json():
            httpx.delete(f"{self.server.registry_url}/subjects/{subject}", timeout=30)
            httpx.delete(f"{self.server.registry_url}/subjects/{subject}?permanent=true", timeout=30)
        self.http.close()


def run_http_case(run: Run, server: Server) -> Result:
    if run.skip_reason:
        return Result(run.name, "skipped", run.skip_reason)
    runner = HttpCaseRunner(run, server)
    try:
        return runner.execute()
    finally:
        runner.cleanup()
