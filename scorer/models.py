"""The models the scorer uses now, and the watcher that brings the next ones in.

`ModelWatcher` follows the compacted `fraud_models` topic in a background thread
(assigned partitions, no consumer group, nothing committed, read-committed) and keeps the
state of the configured model name (`fraudstream.clients.models_topic.ModelsState`): every
published version and the roles record (`fraudstream.core.model_roles`). Whenever the
roles change it prepares the champion and, if there is one, the challenger *off* the
scoring thread (decode, load the Keras model, choose the forward pass; a version already
prepared is reused, so promoting the challenger or rolling back to the last champion
costs nothing), then hands the pair over as one `ModelSet`. The scoring loop calls
`take()` between transactions, so a change happens exactly at a batch boundary: every
batch is scored by one champion (and at most one challenger), whose versions go into
each score.

A version that cannot be used (does not decode, wrong features, Keras load error) is
logged and counted and the current pair stays; a tombstone on the roles (model
withdrawn) is logged and the current pair stays too, because scoring with the last good
model is better than stopping the stream: withdraw by publishing a replacement.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from confluent_kafka import KafkaException

from fraudstream.clients.kafka_config import consumer_config
from fraudstream.clients.models_topic import ModelsState
from fraudstream.clients.topic_reader import TopicReadError, read_range, watermarks
from fraudstream.core.model_bundle import SCORE_KINDS, ModelBundle
from fraudstream.scorer import forward_cache, inference
from fraudstream.scorer.errors import ModelError

log = logging.getLogger("fraudstream.scorer.models")


@dataclass
class ScoringModel:
    """A bundle plus the forward pass chosen for it."""

    bundle: ModelBundle
    forward: inference.ForwardPass
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return int(self.bundle.version)

    @property
    def threshold(self) -> float:
        return float(self.bundle.threshold)

    @property
    def feature_names(self) -> list[str]:
        return self.bundle.feature_names

    def score(self, x: np.ndarray) -> np.ndarray:
        """The bundle's score of raw rows, as `ModelBundle.scores` defines it. Autoencoder:
        mean squared reconstruction error (standardise in float64, feed float32 to the
        model, error over standardised features). Hybrid: the calibrated fraud
        probability, NumPy only (`fraudstream.core.hybrid`)."""
        return self.score_with_errors(x)[0]

    def score_with_errors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, per-feature squared errors (n, features)): an autoencoder's score is the
        mean of a row's squared errors, which is what an explanation splits into shares; a
        hybrid's errors are those of its autoencoder (its trees' inputs)."""
        n = len(self.feature_names)
        if len(x) == 0:
            return np.empty(0, dtype=np.float64), np.empty((0, n), dtype=np.float64)
        hybrid = self.bundle.hybrid
        if hybrid is not None:
            x64 = np.asarray(x, dtype=np.float64)
            return hybrid.predict(x64, (x64 - self.bundle.scaler_mean) / self.bundle.scaler_scale)
        z = ((np.asarray(x, dtype=np.float64) - self.bundle.scaler_mean) / self.bundle.scaler_scale).astype(np.float32)
        recon = self.forward(z)
        diff = z.astype(np.float64) - recon
        return np.einsum("ij,ij->i", diff, diff) / diff.shape[1], diff * diff

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, mode: str = "auto", batch_size: int = 500) -> "ScoringModel":
        if bundle.score_kind not in SCORE_KINDS:
            raise ModelError(f"model {bundle.name!r} v{bundle.version}: score kind {bundle.score_kind!r} is unknown "
                             f"to this scorer (it computes {', '.join(SCORE_KINDS)})")
        if bundle.hybrid is not None:  # NumPy only: no Keras model to load or time
            return cls(bundle, inference.TREES)
        if mode in ("auto", "numpy"):
            cached = forward_cache.load(bundle)  # prepared before: no TensorFlow needed
            if cached is not None:
                return cls(bundle, cached, {"cached": 0.0})
        try:
            model = bundle.load_keras_model()
        except Exception as exc:
            raise ModelError(f"model {bundle.name!r} v{bundle.version}: {exc}") from exc
        n = len(bundle.feature_names)
        shape = getattr(model, "input_shape", None)
        if shape is not None and (len(shape) != 2 or shape[-1] != n):
            raise ModelError(f"model {bundle.name!r} v{bundle.version} takes input {shape}, "
                             f"but the bundle names {n} features")
        forward, timings = inference.choose(model, n, mode=mode, batch_size=batch_size)
        if isinstance(forward, inference.NumpyForward):
            forward_cache.save(bundle, forward)
        return cls(bundle, forward, timings)


@dataclass
class ModelSet:
    """What scores the next batches: the champion (`fraud_scores`) and the challenger
    (`fraud_scores_shadow`, or None), as one roles record (`seq`) named them."""

    champion: ScoringModel
    challenger: ScoringModel | None
    seq: int
    reason: str = ""


class ModelWatcher:
    """Follows `topic` for the roles and versions of model `name` and prepares each new pair."""

    KEEP = 4  # prepared models kept: champion, challenger and the champions to roll back to

    def __init__(self, bootstrap: str, topic: str, name: str, mode: str = "auto", batch_size: int = 500,
                 on_error: Callable[[str], None] | None = None, poll_s: float = 0.5) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.name = name
        self.mode = mode
        self.batch_size = batch_size
        self.on_error = on_error or (lambda reason: None)
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._ready: ModelSet | None = None
        self._have_first = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = ModelsState(name)
        self._prepared: dict[int, ScoringModel] = {}
        self._failed: set[int] = set()
        self._handed: tuple | None = None  # (champion, challenger) of the last pair prepared
        self.failure: BaseException | None = None

    # ---- used by the scoring loop -----------------------------------------------------
    def take(self) -> ModelSet | None:
        """The pair prepared since the last call, once; None if nothing changed."""
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    def wait_first(self, timeout: float) -> bool:
        return self._have_first.wait(timeout)

    # ---- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scorer-models", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._follow()
        except BaseException as exc:  # pragma: no cover - surfaced through .failure
            self.failure = exc
            log.exception("model watcher failed", extra={"event": "model_watcher_failed"})

    def _follow(self) -> None:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(consumer_config(self.bootstrap, f"fraudstream-scorer-models-{uuid.uuid4().hex[:8]}", {
            "enable.auto.commit": False,  # never commits
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "fetch.message.max.bytes": 64 * 1024 * 1024,
            "enable.partition.eof": False,
        }))
        try:
            partitions = self._wait_topic(consumer)
            if partitions is None:
                return
            ends = self._catch_up(consumer, partitions)
            if ends is None:
                return
            # Then follow from the end offsets the catch-up stopped at; prepare after
            # each poll that changed something.
            consumer.assign([TopicPartition(self.topic, p, ends[p]) for p in partitions])
            while not self._stop.is_set():
                if self._apply(consumer.consume(num_messages=100, timeout=self.poll_s)):
                    self._prepare()
        finally:
            consumer.close()

    def _catch_up(self, consumer, partitions: list[int]) -> dict[int, int] | None:
        """Read up to the end offsets of now, then prepare the pair the roles name.
        Returns those end offsets; None when stopped first."""
        while not self._stop.is_set():
            self.state = ModelsState(self.name)
            try:
                ranges = watermarks(consumer, self.topic, partitions)
                for batch in read_range(consumer, self.topic, ranges, batch_size=100, timeout=60.0,
                                        poll_s=self.poll_s, stop=self._stop.is_set):
                    self._apply(batch)
            except (TopicReadError, KafkaException) as exc:
                log.warning("reading %s: %s; starting over", self.topic, exc, extra={"event": "model_topic_error"})
                time.sleep(1.0)
                continue
            if self._stop.is_set():
                return None
            self._prepare()
            return {p: high for p, (_low, high) in ranges.items()}
        return None

    def _apply(self, msgs: list) -> bool:
        """Fold `msgs` into the state; True when one of them concerned our model."""
        changed = False
        for msg in msgs:
            err = msg.error()
            if err is not None:
                log.warning("reading %s: %s", self.topic, err, extra={"event": "model_topic_error"})
                continue
            where = f"partition {msg.partition()} offset {msg.offset()}"
            try:
                mine = self.state.apply(msg.key(), msg.value(), where)
            except Exception as exc:  # a roles record or legacy bundle that does not decode
                self._reject(f"the record at {where} of {self.topic!r} does not decode: {exc}")
                continue
            if mine and msg.value() is None and msg.key() == self.name.encode("utf-8"):
                log.warning("model %r was withdrawn (tombstone at %s); scoring goes on with the current "
                            "model", self.name, where, extra={"event": "model_withdrawn"})
            changed = changed or mine
        return changed

    def _wait_topic(self, consumer) -> list[int] | None:
        waited = 0.0
        while not self._stop.is_set():
            try:
                md = consumer.list_topics(topic=self.topic, timeout=10)
            except KafkaException as exc:  # the broker is away: wait for it like for the topic
                log.warning("models topic %r: %s; retrying", self.topic, exc, extra={"event": "model_topic_error"})
                time.sleep(1.0)
                waited += 1.0
                continue
            t = md.topics.get(self.topic)
            if t is not None and t.error is None and t.partitions:
                return sorted(t.partitions)
            if waited == 0.0 or int(waited) % 30 == 0:
                log.info("waiting for the models topic %r to exist", self.topic,
                         extra={"event": "waiting_for_model_topic", "topic": self.topic})
            time.sleep(1.0)
            waited += 1.0
        return None

    def _model(self, version: int) -> ScoringModel | None:
        """The prepared model of `version`, preparing it if needed; None if it cannot be used."""
        if version in self._prepared:
            return self._prepared[version]
        if version in self._failed or version not in self.state.bundles:
            if version not in self.state.bundles:
                self._reject(f"model {self.name!r} v{version} is named by the roles but not published")
            return None
        where = self.state.where.get(version, "?")
        t0 = time.perf_counter()
        try:
            bundle = ModelBundle.from_bytes(self.state.bundles[version])
            ready = ScoringModel.from_bundle(bundle, mode=self.mode, batch_size=self.batch_size)
        except Exception as exc:
            self._failed.add(version)
            self._reject(f"model {self.name!r} v{version} at {where} of {self.topic!r} cannot be used: {exc}")
            return None
        log.info("model %r v%d ready (%s, %s forward pass, prepared in %.2fs)", bundle.name, bundle.version,
                 bundle.kind, ready.forward.name, time.perf_counter() - t0,
                 extra={"event": "model_ready", "version": bundle.version, "inference": ready.forward.name,
                        "kind": bundle.kind,
                        "timings_ms": {k: round(v * 1e3, 4) for k, v in ready.timings.items()}})
        self._prepared[version] = ready
        return ready

    def _prepare(self) -> None:
        roles = self.state.roles
        if roles is None or roles.champion is None:
            return
        pair = (roles.champion, roles.challenger)
        if pair == self._handed:
            return
        champion = self._model(roles.champion)
        if champion is None:
            return  # the current pair stays (rejected and counted)
        challenger = self._model(roles.challenger) if roles.challenger is not None else None
        self._handed = pair
        keep = {roles.champion, roles.challenger, *roles.previous[-(self.KEEP - 2):]}
        for version in [v for v in self._prepared if v not in keep]:
            del self._prepared[version]
        with self._lock:
            self._ready = ModelSet(champion, challenger, roles.seq, roles.reason)
        self._have_first.set()

    def _reject(self, reason: str) -> None:
        log.error(reason, extra={"event": "model_rejected"})
        self.on_error(reason)
