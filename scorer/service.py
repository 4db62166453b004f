"""The scorer service: model watcher + transactional loop + HTTP endpoints, one process.

Start-up order: HTTP endpoint (so /health answers and /ready says why it is not ready),
output schema registration, model watcher; then it waits for the first model — logging
that it waits, consuming nothing — and only then joins the consumer group, so no
partition sits assigned to an instance that cannot score. A newer model is swapped in by
`before_batch`, i.e. between two transactions. SIGTERM/SIGINT set `stop`: the batch in
flight finishes and commits, then the process exits 0.
"""

from __future__ import annotations

import logging
import threading
import time

from fraudstream.clients.dead_letters import topic_max_bytes
from fraudstream.core.errors import KafkaUnavailableError
from fraudstream.clients.topics import co_partitioned_count, partition_counts
from fraudstream.core.schemas import load as load_schema
from fraudstream.core.settings import TOPICS
from fraudstream.scorer.config import ScorerConfig
from fraudstream.scorer.drift import DriftPublisher, DriftTracker
from fraudstream.scorer.errors import SchemaRegistryError, ScorerError
from fraudstream.scorer.http import Health, HttpServer
from fraudstream.scorer.inference import single_threaded_blas
from fraudstream.scorer.loop import ScoringLoop
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelWatcher, ScoringModel
from fraudstream.scorer.processing import ScoringProcessor
from fraudstream.scorer.topics import ensure_topics
from fraudstream.scorer.wire import WireEncoder, WriterSchemas, register_value_schema, registry_client

log = logging.getLogger("fraudstream.scorer.service")


class ScorerService:
    def __init__(self, cfg: ScorerConfig, stop: threading.Event | None = None) -> None:
        self.cfg = cfg
        self.stop = stop or threading.Event()
        self.metrics = ScorerMetrics()
        self.health = Health(model_name=cfg.model_name)
        self.http: HttpServer | None = None
        self.watcher: ModelWatcher | None = None
        self.processor: ScoringProcessor | None = None
        self.loop: ScoringLoop | None = None
        self.model: ScoringModel | None = None
        self.challenger: ScoringModel | None = None
        self.drift = DriftTracker(self.metrics, cfg.instance_id, cfg.drift_window, cfg.drift_interval_s)
        self.drift_publisher: DriftPublisher | None = None
        # Called after each committed transaction with (messages, output); tests and the
        # benchmark observe batches through it.
        self.on_commit = None

    # ---- pieces ---------------------------------------------------------------------------
    def start_http(self) -> int | None:
        if self.cfg.metrics_port < 0:
            return None
        self.http = HttpServer(self.metrics.registry, self.health, self.cfg.metrics_host, self.cfg.metrics_port)
        port = self.http.start()
        log.info("metrics on http://%s:%d/metrics, health on /health and /ready", self.cfg.metrics_host, port,
                 extra={"event": "http_started", "port": port, "host": self.cfg.metrics_host})
        return port

    def _swap_model(self) -> None:
        assert self.watcher is not None and self.processor is not None
        if self.watcher.failure is not None:
            raise ScorerError(f"the model watcher stopped: {self.watcher.failure}")
        pair = self.watcher.take()
        if pair is None:
            return
        new, challenger = pair.champion, pair.challenger
        try:
            self.processor.set_model(new, challenger)
        except ValueError as exc:  # a challenger reading other features: shadow nothing
            log.error("challenger refused: %s", exc, extra={"event": "model_rejected"})
            self.metrics.model_errors.inc()
            challenger = None
            self.processor.set_model(new, None)
        old, old_challenger = self.model, self.challenger
        self.challenger = challenger
        m = self.metrics
        m.challenger_version.set(challenger.version if challenger else 0)
        if challenger is not old_challenger and (challenger is None or old_challenger is None
                                                 or challenger.version != old_challenger.version):
            log.info("shadow-scoring with challenger %s (was %s)",
                     f"v{challenger.version}" if challenger else "none",
                     f"v{old_challenger.version}" if old_challenger else "none",
                     extra={"event": "challenger_swapped", "version": challenger.version if challenger else None,
                            "previous": old_challenger.version if old_challenger else None, "seq": pair.seq})
        if old is not None and old.version == new.version:
            return
        self.model = new
        self.drift.set_model(new)
        m.model_version.set(new.version)
        m.model_swaps.inc()
        for path in ("numpy", "call", "predict", "trees"):
            m.inference_info.labels(path).set(1 if path == new.forward.name else 0)
        self.health.model_version = new.version
        self.health.inference = new.forward.name
        log.info("scoring with model %r v%d (was %s), %s forward pass", new.bundle.name, new.version,
                 f"v{old.version}" if old else "none", new.forward.name,
                 extra={"event": "model_swapped", "version": new.version,
                        "previous": old.version if old else None, "inference": new.forward.name})

    def _wait_for_model(self) -> bool:
        assert self.watcher is not None
        self.health.state = "waiting_for_model"
        self.health.detail = f"no model {self.cfg.model_name!r} in {self.cfg.models_topic!r} yet"
        started = time.monotonic()
        next_log = 1.0  # a model that is there loads within about a second: say nothing then
        while not self.stop.is_set():
            self.health.beat()
            if self.watcher.failure is not None:
                raise ScorerError(f"the model watcher stopped: {self.watcher.failure}")
            if self.watcher.wait_first(0.2):
                self.health.detail = ""
                return True
            waited = time.monotonic() - started
            if waited >= next_log:
                log.info("waiting for model %r on topic %r (%.0fs so far); scoring nothing until it exists",
                         self.cfg.model_name, self.cfg.models_topic, waited,
                         extra={"event": "waiting_for_model", "model": self.cfg.model_name,
                                "waited_s": round(waited, 1)})
                next_log = waited + self.cfg.model_wait_log_s
        return False

    def _until_available(self, what: str, step) -> bool:
        """Run a start-up step, retrying with backoff while `what` does not answer (a
        restarted broker or registry is waited for, not a reason to exit); a refusal
        (a 4xx from the registry, a topic that cannot be created) still fails at once.
        False when stopped while waiting."""
        started = time.monotonic()
        delay, next_log = 0.2, 0.0
        while not self.stop.is_set():
            try:
                step()
                return True
            except (KafkaUnavailableError, SchemaRegistryError) as exc:
                if not _unavailable(exc):
                    raise
                waited = time.monotonic() - started
                self.health.state = "waiting_for_dependency"
                self.health.detail = f"{what} does not answer: {exc}"
                if waited >= next_log:
                    log.warning("%s does not answer (%.0fs so far): %s; retrying", what, waited, exc,
                                extra={"event": "dependency_unavailable", "dependency": what,
                                       "waited_s": round(waited, 1)})
                    next_log = waited + 10.0
                self.health.beat()
                self.stop.wait(delay)
                delay = min(5.0, delay * 2)
        return False

    def _stopped_early(self) -> int:
        log.info("stopped while waiting for a dependency", extra={"event": "stopped"})
        self.health.state = "stopped"
        return 0

    def _committed(self, msgs: list, out) -> None:
        """After each committed transaction: drift counts the batch, then the observer."""
        self.drift.observe(out.features)
        if self.on_commit is not None:
            self.on_commit(msgs, out)

    def _between_batches(self) -> None:
        """Before every consume: a newer model, and drift exported when it is due (also
        while no events arrive, so the gauges never show a stale window as current)."""
        self._swap_model()
        self.drift.tick()

    # ---- run ------------------------------------------------------------------------------
    def run(self) -> int:
        cfg = self.cfg
        try:
            single_threaded_blas()
            self.start_http()
            if not self._until_available("Kafka", lambda: ensure_topics(cfg.bootstrap_servers,
                                                                         [cfg.output_topic, cfg.dlq_topic])):
                return self._stopped_early()
            if not cfg.dlq_max_bytes:
                cfg.dlq_max_bytes = topic_max_bytes(cfg.bootstrap_servers, cfg.dlq_topic)

            partitions = scores_partitions(cfg)
            partitions[cfg.shadow_topic] = partitions[cfg.output_topic]  # compared by ID with the scores
            ensure_topics(cfg.bootstrap_servers, [cfg.output_topic, cfg.shadow_topic, cfg.dlq_topic,
                                                  cfg.drift_topic], partitions=partitions)
            client = registry_client(cfg.schema_registry_url)
            schema = load_schema("fraud_score")
            schema_id = shadow_id = 0

            def register() -> None:
                nonlocal schema_id, shadow_id
                schema_id = register_value_schema(client, cfg.output_topic, schema)
                shadow_id = register_value_schema(client, cfg.shadow_topic, schema)

            if not self._until_available("the schema registry", register):
                return self._stopped_early()
            self.processor = ScoringProcessor(WriterSchemas(client),
                                              WireEncoder(schema, schema_id, raw_tail="EXPLANATION"),
                                              shadow_encoder=WireEncoder(schema, shadow_id, raw_tail="EXPLANATION"))
            self.drift_publisher = DriftPublisher(cfg.bootstrap_servers, client, cfg.drift_topic, cfg.instance_id)
            self.drift.publish = self.drift_publisher
            self.watcher = ModelWatcher(cfg.bootstrap_servers, cfg.models_topic, cfg.model_name, mode=cfg.inference,
                                        batch_size=cfg.batch_size, on_error=lambda _: self.metrics.model_errors.inc())
            self.watcher.start()
            if not self._wait_for_model():
                log.info("stopped before any model arrived", extra={"event": "stopped"})
                self.health.state = "stopped"
                return 0
            self._swap_model()
            self.health.detail = ""
            self.loop = ScoringLoop(cfg, self.processor, self.metrics, self.health, self.stop,
                                          before_batch=self._between_batches, on_commit=self._committed)
            self.loop.run()
            self.health.state = "stopped"
            log.info("stopped after %d committed batches", self.loop.committed_batches,
                     extra={"event": "stopped", "batches": self.loop.committed_batches})
            return 0
        except BaseException:
            self.health.state = "failed"
            raise
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            if self.drift_publisher is not None:
                self.drift_publisher.close()
            if self.http is not None:
                self.http.stop()


def _unavailable(exc: BaseException) -> bool:
    """Did the service not answer (retry), rather than answer with a refusal (fail)?"""
    if isinstance(exc, KafkaUnavailableError):
        return True
    cause = exc.__cause__
    while cause is not None and getattr(cause, "http_status_code", None) is None and cause.__cause__ is not None:
        cause = cause.__cause__
    status = getattr(cause, "http_status_code", None)
    return status is None or status >= 500


def scores_partitions(cfg: ScorerConfig) -> dict[str, int]:
    """Partitions for the scores topic if it has to be created: those of the labels topic
    when it exists (ksqlDB joins only co-partitioned topics), else the input's."""
    counts = partition_counts(cfg.bootstrap_servers)
    return {cfg.output_topic: co_partitioned_count(counts, [TOPICS.labels, cfg.input_topic])}
