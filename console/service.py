"""The console's running state: followers of the four topics, the alert book, the verdict
desk, the KSQL/lag probe and the models cache, started and stopped together.

Built once per process by `fraudstream console` (or by a test) around a function that
says where the cluster is now: the console starts whether or not the stack runs, and
finds it when it comes up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fraudstream.console.alerts import AlertBook
from fraudstream.console.drift import DriftHistory
from fraudstream.console.follow import Follower, Record
from fraudstream.console.models import ModelsCache
from fraudstream.console.overview import Probe, ScoreSeries
from fraudstream.console.verdicts import VerdictDesk
from fraudstream.core.settings import TOPICS, Endpoints

HOUR_MS = 3_600_000
LABEL_HORIZON_MS = 7 * 24 * HOUR_MS + HOUR_MS  # a verdict older than this joins no score (ksql/monitoring/06)


@dataclass(frozen=True)
class Settings:
    alerts_topic: str = TOPICS.alerts
    labels_topic: str = TOPICS.labels
    drift_topic: str = TOPICS.drift
    scores_topic: str = TOPICS.scores
    models_topic: str = TOPICS.models
    scoring_topic: str = TOPICS.scoring
    scorer_group: str = "fraudstream-scorer"
    alerts_hours: float = 24.0         # alerts read back at start
    scores_minutes: float = 15.0       # scores read back at start (the overview's charts)
    drift_hours: float = 6.0
    max_alerts: int = 20_000
    probe_every_s: float = 3.0


class ConsoleService:
    def __init__(self, endpoints: Callable[[], Endpoints], settings: Settings | None = None) -> None:
        self.settings = s = settings or Settings()
        self.endpoints = endpoints
        self.book = AlertBook(max_alerts=s.max_alerts)
        self.scores = ScoreSeries(keep_s=int(s.scores_minutes * 60))
        self.drift = DriftHistory()
        self.models = ModelsCache()
        now = lambda: int(time.time() * 1000)  # noqa: E731 - evaluated at each (re)connect
        self.alerts_feed = Follower(s.alerts_topic, endpoints, self._on_alerts,
                                    lambda: now() - int(s.alerts_hours * HOUR_MS))
        self.labels_feed = Follower(s.labels_topic, endpoints, self._on_labels, lambda: now() - LABEL_HORIZON_MS)
        self.scores_feed = Follower(s.scores_topic, endpoints, self._on_scores,
                                    lambda: now() - int(s.scores_minutes * 60_000))
        self.drift_feed = Follower(s.drift_topic, endpoints, self._on_drift, lambda: now() - int(s.drift_hours * HOUR_MS))
        self.verdicts = VerdictDesk(self.book, self.labels_feed, endpoints, topic=s.labels_topic,
                                    scores_topic=s.scores_topic)
        self.probe = Probe(endpoints, every_s=s.probe_every_s, scorer_group=s.scorer_group,
                           scoring_topic=s.scoring_topic)
        self.started_at = time.time()

    @property
    def feeds(self) -> list[Follower]:
        return [self.alerts_feed, self.labels_feed, self.scores_feed, self.drift_feed]

    def start(self) -> "ConsoleService":
        for f in self.feeds:
            f.start()
        self.probe.start()
        return self

    def stop(self) -> None:
        self.probe.stop()
        for f in self.feeds:
            f.stop()

    # ---- feed handlers (follower threads) -----------------------------------------------------
    def _on_alerts(self, batch: list[Record]) -> None:
        self.book.add_alerts((r.key, r.value) for r in batch)

    def _on_labels(self, batch: list[Record]) -> None:
        self.book.add_labels((r.value, r.partition, r.offset) for r in batch)
        self.probe.refresh()

    def _on_scores(self, batch: list[Record]) -> None:
        self.scores.add([r.value for r in batch])

    def _on_drift(self, batch: list[Record]) -> None:
        self.drift.add([r.value for r in batch])

    # ---- what the pages show about the stack ----------------------------------------------------
    def status(self) -> dict:
        ep = self.endpoints()
        feeds = {f.topic: f.status.as_dict() for f in self.feeds}
        problems = []
        if not ep.bootstrap_servers:
            problems.append("No cluster: no embedded stack runs and none is configured. Start one with "
                            "`fraudstream up` (or set KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL and KSQL_URL); "
                            "this page fills in once it answers.")
        else:
            down = [f for f in self.feeds if f.status.state in ("unavailable", "starting")]
            if down and all(f.status.state == "unavailable" for f in self.feeds):
                problems.append(f"The stack is unavailable: {down[0].status.detail}. Retrying every few seconds.")
        return {"cluster": ep.bootstrap_servers or None, "ksql": ep.ksql_url or None, "feeds": feeds,
                "problems": problems, "alerts_held": len(self.book), "alerts_read": self.book.alerts_total,
                "verdicts_written": self.verdicts.written, "verdicts_refused": self.verdicts.refused, "now_ms": int(time.time() * 1000)}
