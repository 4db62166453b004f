"""The engine wired to a real cluster: the object the REST server talks to.

Statements run under one lock (the engine is single-threaded by design); the runtime is
the engine's command log: a distributed statement is appended to the command topic before
it takes effect, and its query starts only after that (ksqlDB's order: if the append
fails, nothing runs that a restart would not bring back). Persistent queries run in
threads of their own; on start the command topic is replayed, and only the queries still
alive after the replay are started, so a query that was terminated or dropped earlier
never processes a record again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fraudstream.clients.topic_reader import TopicReadError, read_to_end
from fraudstream.clients.kafka_config import check_connection
from fraudstream.embedded.ksqldb.errors import KsqlError, KsqlStatementError, SchemaRegistryUnavailable
from fraudstream.embedded.ksqldb.execution.engine import Command, Engine, PersistentQuery, PullQuery, TransientQuery
from fraudstream.embedded.ksqldb.runtime.admin import KafkaTopicAdmin
from fraudstream.embedded.ksqldb.runtime.command_topic import CommandTopic, command_topic_name
from fraudstream.embedded.ksqldb.runtime.print_topic import PrintRunner
from fraudstream.embedded.ksqldb.runtime.push import PushQueryRunner
from fraudstream.embedded.ksqldb.runtime.query_runner import QueryRunner
from fraudstream.embedded.ksqldb.runtime.registry import HttpSchemaRegistry
from fraudstream.embedded.ksqldb.runtime.writer import KafkaRecordWriter
from fraudstream.embedded.ksqldb.sql import tree

log = logging.getLogger("fraudstream.embedded.ksqldb.runtime")


@contextmanager
def nesting_is_a_statement_error(sql: str) -> Iterator[None]:
    """Failures of a request that are not server errors, as `KsqlError`s (4xx answers).

    A statement nested deeper than Python's limits (thousands of parentheses, NOTs or `+`
    terms; Python's compiler stops at 200 nested parentheses in the generated code) is
    the client's mistake: a statement error, not a 500. Every stage (parse, type check,
    code generation) recurses over the tree, so this is caught once here rather than in
    each; validation runs before anything is applied. A registry that does not answer is
    reported with its reason (it is a BaseException inside the engine, see errors.py)."""
    try:
        yield
    except SchemaRegistryUnavailable as exc:  # the statement may be fine: say what is missing
        raise KsqlError(exc.message) from None
    except SyntaxError as exc:  # Python's compile() of the generated code: "too many nested parentheses"
        if "nested" not in str(exc):
            raise
        raise KsqlStatementError("Statement is nested too deeply to be processed (hundreds of levels of "
                                 "parentheses or operators); simplify the expression", sql.strip()[:2000]) from None
    except RecursionError:
        raise KsqlStatementError("Statement is nested too deeply to be processed (thousands of levels of "
                                 "parentheses or operators); simplify the expression", sql.strip()[:2000]) from None


@dataclass
class PullResult:
    """A pull query's answer: the rows, and how many records failed (processing log)."""

    query: PullQuery
    rows: list[list]
    errors: int

    @property
    def query_id(self) -> str:
        return self.query.query_id


class KafkaRuntime:
    def __init__(self, bootstrap_servers: str, schema_registry_url: str | None = None,
                 service_id: str = "default_", config: dict[str, Any] | None = None,
                 batch_size: int = 5000) -> None:
        self.bootstrap = bootstrap_servers
        self.service_id = service_id
        self.batch_size = batch_size
        self.admin = KafkaTopicAdmin(bootstrap_servers)
        self.registry = HttpSchemaRegistry(schema_registry_url) if schema_registry_url else None
        self.writer = KafkaRecordWriter(bootstrap_servers)
        engine_config = {"ksql.service.id": service_id, **(config or {})}
        self.engine = Engine(self.admin, self.registry, self.writer, config=engine_config,
                             command_log=self)
        self.engine.add_listener(self)
        self.lock = threading.RLock()
        self.runners: dict[str, QueryRunner] = {}
        self.push_queries: dict[str, PushQueryRunner] = {}
        self._replaying = False
        self._pending: dict[str, PersistentQuery] = {}
        self.processing_log_topic = f"{service_id}ksql_processing_log"
        self.commands: CommandTopic | None = None
        self.state = "INITIALIZING"
        self.started_at = time.time()
        self.replay_failures: list[str] = []
        self._cluster_id = ""

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        # a wrong password or a failed TLS handshake: one line now, not a timeout later
        check_connection(self.bootstrap, self.admin.timeout)
        self.admin.create_topic(self.processing_log_topic, 1, 1)
        self.commands = CommandTopic(self.bootstrap, command_topic_name(self.service_id), self.admin)
        with self.lock:
            self._replaying = True
            try:
                for cmd in self.commands.read_all():
                    self._replay(cmd)
            finally:
                self._replaying = False
            for query in list(self._pending.values()):
                self._launch(query)
            self._pending.clear()
        self.state = "READY"

    def _replay(self, cmd) -> None:
        """One command of the command topic; a registry that does not answer is waited
        for (with backoff), since skipping the command would lose its query for good."""
        delay, waited = 0.5, 0.0
        while True:
            try:
                self.engine.execute(cmd.statement_text + ";", dict(cmd.properties))
                return
            except SchemaRegistryUnavailable as exc:
                if waited == 0.0 or waited >= 30.0 and int(waited) % 30 < delay:
                    log.warning("replaying command %s waits for the schema registry (%.0fs): %s",
                                cmd.sequence, waited, exc.message)
                time.sleep(delay)
                waited += delay
                delay = min(5.0, delay * 2)
            except Exception as exc:  # a source deleted behind our back, and similar
                msg = f"replaying command {cmd.sequence} failed: {exc}"
                self.replay_failures.append(msg)
                log.error(msg)
                return

    def shutdown(self) -> None:
        self.state = "TERMINATING"
        for runner in list(self.push_queries.values()):
            runner.close()
        for runner in list(self.runners.values()):
            runner.stop_event.set()
        for runner in list(self.runners.values()):
            runner.stop()
        self.writer.close()
        self.state = "TERMINATED"

    # ---- engine listener -------------------------------------------------------------
    def query_started(self, query: PersistentQuery) -> None:
        if self._replaying:
            self._pending[query.query_id] = query
        else:
            self._launch(query)

    def query_terminated(self, query: PersistentQuery) -> None:
        self._pending.pop(query.query_id, None)
        runner = self.runners.pop(query.query_id, None)
        if runner is not None:
            runner.stop()
            if runner.changelog is not None and query.state != "REPLACED":
                # the query's internal state topic goes with it, as in ksqlDB
                try:
                    self.admin.delete_topic(runner.changelog.topic)
                except Exception as exc:  # noqa: BLE001 - the query is gone either way
                    log.warning("could not delete %s: %s", runner.changelog.topic, exc)

    def query_paused(self, query: PersistentQuery) -> None:
        """PAUSE: the runner stops; its changelog and committed offsets stay for RESUME."""
        self._pending.pop(query.query_id, None)
        runner = self.runners.pop(query.query_id, None)
        if runner is not None:
            runner.stop()

    def query_resumed(self, query: PersistentQuery) -> None:
        if query.query_id in self.runners:
            return
        if self._replaying:
            self._pending[query.query_id] = query
        else:
            self._launch(query)

    def _launch(self, query: PersistentQuery) -> None:
        runner = QueryRunner(query, self.bootstrap, self.service_id, self.processing_log_topic,
                             batch_size=self.batch_size)
        self.runners[query.query_id] = runner
        runner.start()

    # ---- command log -----------------------------------------------------------------
    def append(self, commands: list[Command]) -> None:
        """The engine's command log: to the command topic, except while replaying it."""
        if self._replaying or self.commands is None:
            return
        self.commands.append(commands)

    # ---- requests --------------------------------------------------------------------
    def execute(self, sql: str, properties: dict[str, Any] | None = None) -> list[dict]:
        """Engine statements (CREATE, C*AS, INSERT, DROP, TERMINATE) under the lock."""
        with self.lock, nesting_is_a_statement_error(sql):
            return self.engine.execute(sql, properties if properties is not None else {})

    def query_stats(self, query_id: str):
        """The counters of a running persistent query, or None."""
        runner = self.runners.get(query_id)
        return runner.stats if runner is not None else None

    def _push_runner(self, query: TransientQuery) -> PushQueryRunner:
        runner = PushQueryRunner(query, self.bootstrap)
        self.push_queries[query.query_id] = runner
        return runner

    def print_topic(self, sql: str, properties: dict[str, Any] | None = None) -> PrintRunner | None:
        """`/query`'s PRINT: a reader of the topic (None when `sql` is not one PRINT);
        ksqlDB's message when the topic does not exist."""
        with nesting_is_a_statement_error(sql):
            statements = self.engine.parse(sql)
        if len(statements) != 1 or not isinstance(statements[0], tree.PrintTopic):
            return None
        stmt = statements[0]
        info = self.admin.describe_topic(stmt.topic)
        if info is None:
            alternatives = [t.name for t in self.admin.list_topics() if t.name.lower() == stmt.topic.lower()]
            hint = "".join(f"\n\tprint {name};" for name in alternatives)
            raise KsqlError(
                f"Could not find topic '{stmt.topic}', or the KSQL user does not have permissions to list "
                "the topic. Topic names are case-sensitive." + ("\nDid you mean:" + hint if hint else ""))
        props = {**self.engine.config, **(properties or {})}
        reset = str(props.get("auto.offset.reset") or props.get("ksql.streams.auto.offset.reset") or "latest")
        return PrintRunner(stmt, self.bootstrap, self.registry, list(range(info.partitions)), reset)

    def query(self, sql: str, properties: dict[str, Any] | None = None) -> PushQueryRunner | PullResult:
        """A `/query` or `/query-stream` SELECT: a running push query, or a pull query's
        answer (its source topic read from the beginning to its end offsets of now)."""
        with self.lock, nesting_is_a_statement_error(sql):
            query = self.engine.create_query(sql, properties or {})
        if isinstance(query, TransientQuery):
            return self._push_runner(query)
        records = ((m.key(), m.value(), m.timestamp()[1], m.partition(), m.offset(), tuple(m.headers() or ()))
                   for batch in read_to_end(self.bootstrap, query.source_topic) for m in batch)
        try:
            rows, errors = query.run(records)
        except SchemaRegistryUnavailable as exc:
            raise KsqlError(exc.message) from None
        except TopicReadError as exc:
            raise KsqlError(f"Pull query {query.query_id} could not read {query.source_topic!r}: {exc}") from exc
        return PullResult(query, rows, len(errors))

    def finish_push(self, runner: PushQueryRunner) -> None:
        runner.close()
        self.push_queries.pop(runner.query_id, None)

    def close_push(self, query_id: str) -> bool:
        runner = self.push_queries.get(query_id)
        if runner is None:
            return False
        runner.close()
        return True

    def row_inserter(self, target: str):
        """A callable inserting one JSON row into `target` (for /inserts-stream)."""
        from fraudstream.embedded.ksqldb.runtime.inserts import make_inserter, resolve_target

        with self.lock:
            source = resolve_target(self.engine.metastore.sources, target)

        def execute(sql: str) -> None:
            with self.lock, nesting_is_a_statement_error(sql):
                self.engine.execute(sql, {})

        return make_inserter(execute, source)

    def cluster_id(self) -> str:
        """The Kafka cluster id for /info, asked once (a cluster never changes its id)."""
        if not self._cluster_id:
            try:
                self._cluster_id = self.admin.admin.list_topics(timeout=5).cluster_id or ""
            except Exception:  # broker unreachable: /info still answers, without the id
                return ""
        return self._cluster_id
