"""The overview's figures: scores/s, alert rate and end-to-end latency from `fraud_scores`,
live precision/recall per model version from the KSQL table `fraud_label_quality`, and
the scorers' consumer lag per partition.

`ScoreSeries` is pure: the scores follower feeds it decoded records and it keeps
fixed-width time buckets (by SCORED_TS) over the last minutes, so a chart and the
percentiles cost a few hundred small arrays, not a pass over every score. Latency is
SCORED_TS - EVENT_TS per event (the pipeline's end-to-end time, producer to score);
each bucket keeps at most `samples` latencies (a uniform subsample when more arrive),
so percentiles stay cheap at any rate.

`Probe` runs in a thread of its own and asks KSQL and Kafka every few seconds; each
answer is kept with its time and error, so a page says "KSQL did not answer" rather than
going blank.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fraudstream.core.alerts import millis
from fraudstream.core.settings import TOPICS, Endpoints


@dataclass
class _Bucket:
    start_ms: int
    scores: int = 0
    alerts: int = 0
    by_model: Counter = field(default_factory=Counter)
    latencies: list = field(default_factory=list)
    seen_latencies: int = 0


@dataclass
class ScoreSeries:
    bucket_s: int = 5
    keep_s: int = 900
    samples: int = 500
    total: int = 0
    _buckets: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def add(self, records: list[dict]) -> None:
        width = self.bucket_s * 1000
        with self._lock:
            for rec in records:
                scored = millis(rec.get("SCORED_TS"))
                if scored is None:
                    continue
                start = scored - scored % width
                b = self._bucket(start)
                if b is None:
                    continue
                b.scores += 1
                anomalous = bool(rec.get("IS_ANOMALY"))
                b.alerts += anomalous
                b.by_model[int(rec.get("MODEL_VERSION") or 0)] += 1
                event = millis(rec.get("EVENT_TS"))
                if event is not None:
                    b.seen_latencies += 1
                    lat = scored - event
                    if len(b.latencies) < self.samples:
                        b.latencies.append(lat)
                    else:  # reservoir: every latency of the bucket equally likely to be kept
                        j = int(self._rng.integers(0, b.seen_latencies))
                        if j < self.samples:
                            b.latencies[j] = lat
                self.total += 1
            self._trim()

    def _bucket(self, start: int) -> _Bucket | None:
        if self._buckets and start < self._buckets[0].start_ms:
            if start < self._buckets[-1].start_ms - self.keep_s * 1000:
                return None  # older than the window
        for b in reversed(self._buckets):  # usually the last one
            if b.start_ms == start:
                return b
            if b.start_ms < start:
                break
        nb = _Bucket(start)
        self._buckets.append(nb)
        if len(self._buckets) > 1 and self._buckets[-2].start_ms > start:
            self._buckets = deque(sorted(self._buckets, key=lambda x: x.start_ms))
        return nb

    def _trim(self) -> None:
        if not self._buckets:
            return
        newest = self._buckets[-1].start_ms
        while self._buckets and self._buckets[0].start_ms < newest - self.keep_s * 1000:
            self._buckets.popleft()

    def snapshot(self, now_ms: int | None = None, rate_window_s: int = 60, latency_window_s: int = 300) -> dict:
        """Rates over the last `rate_window_s` seconds of wall time; latency percentiles over
        the last `latency_window_s`; per-bucket series for the charts."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            buckets = list(self._buckets)
        rate_from = now_ms - rate_window_s * 1000
        lat_from = now_ms - latency_window_s * 1000
        recent = [b for b in buckets if b.start_ms >= rate_from]
        scores = sum(b.scores for b in recent)
        alerts = sum(b.alerts for b in recent)
        by_model: Counter = Counter()
        for b in recent:
            by_model.update(b.by_model)
        lat = [x for b in buckets if b.start_ms >= lat_from for x in b.latencies]
        arr = np.asarray(lat, dtype=np.float64)
        pct = {f"p{q}": (float(np.percentile(arr, q)) if len(arr) else None) for q in (50, 90, 99)}
        series = {"t": [], "scores_per_s": [], "alert_rate": [], "p50_ms": [], "p99_ms": []}
        for b in buckets:
            series["t"].append(b.start_ms / 1000)
            series["scores_per_s"].append(b.scores / self.bucket_s)
            series["alert_rate"].append(b.alerts / b.scores if b.scores else None)
            la = np.asarray(b.latencies, dtype=np.float64)
            series["p50_ms"].append(float(np.percentile(la, 50)) if len(la) else None)
            series["p99_ms"].append(float(np.percentile(la, 99)) if len(la) else None)
        return {
            "rate_window_s": rate_window_s, "latency_window_s": latency_window_s,
            "scores": scores, "scores_per_s": scores / rate_window_s, "alerts": alerts,
            "alert_rate": alerts / scores if scores else None,
            "by_model": {str(k): v for k, v in sorted(by_model.items())},
            "latency_ms": pct, "latency_samples": int(len(arr)), "series": series, "total": self.total,
        }


@dataclass
class Answer:
    """One probe's latest answer: rows, or why there are none."""

    rows: list = field(default_factory=list)
    error: str = ""
    at: float = 0.0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "error": self.error, "age_s": round(time.time() - self.at, 1) if self.at else None}


QUALITY_TABLE = "fraud_label_quality"


class Probe:
    """Every `every_s`: the quality table through KSQL's REST API, the scorers' lag."""

    def __init__(self, endpoints: Callable[[], Endpoints], *, every_s: float = 3.0,
                 scorer_group: str = "fraudstream-scorer", scoring_topic: str = TOPICS.scoring) -> None:
        self._endpoints = endpoints
        self.every_s = every_s
        self.scorer_group = scorer_group
        self.scoring_topic = scoring_topic
        self.quality = Answer()
        self.lag = Answer()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-probe", daemon=True)

    def start(self) -> "Probe":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        self._thread.join(5)

    def refresh(self) -> None:
        """Ask again now (after a verdict, the precision table is about to change)."""
        self._kick.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            ep = self._endpoints()
            self.quality = self._answer(lambda: quality_rows(ep), "KSQL")
            self.lag = self._answer(lambda: consumer_lag(ep, self.scorer_group, self.scoring_topic), "Kafka")
            self._kick.wait(self.every_s)
            self._kick.clear()

    @staticmethod
    def _answer(ask: Callable[[], list], what: str) -> Answer:
        try:
            return Answer(ask(), "", time.time())
        except Exception as exc:
            return Answer([], " ".join(str(exc).split())[:300] or f"{what} did not answer", time.time())


def quality_rows(ep: Endpoints) -> list[dict]:
    """The rows of fraud_label_quality (one per model version), by a pull query."""
    from fraudstream.clients.ksql_rest import KsqlClient, KsqlError

    if not ep.ksql_url:
        raise RuntimeError("KSQL_URL is not set")
    with KsqlClient.from_settings(ep.ksql_url, timeout=5.0) as client:
        try:
            it = client.query(f"SELECT * FROM {QUALITY_TABLE};")
            header = next(it)
            names = [str(c).upper() for c in header.get("columnNames", [])]
            rows = [dict(zip(names, r)) for r in it if isinstance(r, list)]
        except KsqlError as exc:
            text = str(exc)
            if "does not exist" in text or "not found" in text.lower():
                raise RuntimeError(f"the KSQL table {QUALITY_TABLE} does not exist yet: it is created by "
                                   f"`fraudstream ksql apply ksql/monitoring` once scores and labels flow") from None
            raise
    rows.sort(key=lambda r: r.get("MODEL_VERSION") or r.get("VERSION") or 0)
    return rows


def consumer_lag(ep: Endpoints, group: str, topic: str) -> list[dict]:
    """Per partition of `topic`: the group's committed offset, the end offset and the lag.

    Asked through the admin API (OffsetFetch), which never joins the scorers' group."""
    from contextlib import closing

    from confluent_kafka import ConsumerGroupTopicPartitions, Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    from fraudstream.clients.kafka_config import admin_config, consumer_config
    from fraudstream.clients.topic_reader import topic_partitions, watermarks

    if not ep.bootstrap_servers:
        raise RuntimeError("no cluster configured")
    with closing(Consumer(consumer_config(ep.bootstrap_servers, None, {"enable.auto.commit": False}))) as consumer:
        parts = topic_partitions(consumer, topic, 5.0)
        if parts is None:
            raise RuntimeError(f"topic {topic} does not exist yet")
        marks = watermarks(consumer, topic, parts, 5.0)
    admin = AdminClient(admin_config(ep.bootstrap_servers))
    asked = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])
    result = admin.list_consumer_group_offsets([asked], request_timeout=5.0)[group].result(timeout=10)
    committed = {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == topic}
    rows = []
    for p in parts:
        low, high = marks[p]
        pos = committed.get(p, -1)
        pos = pos if pos is not None and pos >= 0 else None
        rows.append({"partition": p, "committed": pos, "end": high,
                     "lag": (high - pos) if pos is not None else high - low})
    return rows
