"""The alert queue's state: alerts from `fraud_alerts`, verdicts from `fraud_labels`, and
the claims that make one analyst action one label.

Pure (no Kafka): the followers feed it records, the web layer queries it and subscribes
to its changes. One lock guards everything; every method is short.

**One verdict per alert.** An alert takes a verdict from the console once. `claim` is
the gate: it refuses an alert that already has a verdict (from anyone, seen on
`fraud_labels`) or whose verdict is being written right now (a double click, a second
analyst), and answers with who labelled it; only the caller holding the claim writes.
The caller first waits until the labels follower has read `fraud_labels` up to its end
offsets of that moment, so a verdict given elsewhere (`fraudstream label`, another
console) is known before the claim is decided.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fraudstream.core.alerts import Alert, alert_id, millis

FRAUD, LEGIT = 1, 0
LABEL_STATES = ("all", "unlabelled", "labelled", "fraud", "legit")


@dataclass(frozen=True)
class Verdict:
    label: int
    source: str
    by: str | None
    at_ms: int
    note: str | None = None
    partition: int = -1
    offset: int = -1

    @property
    def who(self) -> str:
        return self.by or self.source

    def as_dict(self) -> dict:
        return {"label": self.label, "verdict": "fraud" if self.label == FRAUD else "legit",
                "source": self.source, "by": self.who, "at_ms": self.at_ms, "note": self.note}


@dataclass(frozen=True)
class Claimed:
    """The caller holds the claim on `alert_id` and must `settle` or `release` it."""

    alert_id: int
    by: str


@dataclass(frozen=True)
class Refused:
    alert_id: int
    reason: str            # "labelled" or "in-progress"
    verdict: Verdict | None = None
    by: str | None = None  # who holds the claim, while in progress


@dataclass
class Filters:
    model_version: int | None = None
    label: str = "all"
    since_ms: int | None = None
    limit: int = 200

    def accepts(self, alert: Alert, verdict: Verdict | None) -> bool:
        if self.model_version is not None and alert.model_version != self.model_version:
            return False
        if self.since_ms is not None and (alert.event_ts or alert.seen_ms) < self.since_ms:
            return False
        if self.label == "unlabelled":
            return verdict is None
        if self.label == "labelled":
            return verdict is not None
        if self.label == "fraud":
            return verdict is not None and verdict.label == FRAUD
        if self.label == "legit":
            return verdict is not None and verdict.label == LEGIT
        return True


Listener = Callable[[str, dict], None]


@dataclass
class AlertBook:
    max_alerts: int = 20_000
    max_verdicts: int = 1_000_000
    _alerts: OrderedDict = field(default_factory=OrderedDict)     # id -> Alert, oldest first
    _verdicts: OrderedDict = field(default_factory=OrderedDict)   # id -> Verdict (latest)
    _pending: dict = field(default_factory=dict)                  # id -> who is writing
    _seen: set = field(default_factory=set)                       # (partition, offset) of settled labels
    _listeners: list = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    alerts_total: int = 0
    undecodable: int = 0
    versions: set = field(default_factory=set)

    # ---- subscriptions ----------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, kind: str, payload: dict) -> None:
        for listener in list(self._listeners):
            listener(kind, payload)

    # ---- input from the followers -----------------------------------------------------------
    def add_alerts(self, records: Iterable[tuple[bytes | None, dict]], now_ms: int | None = None) -> list[Alert]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        added = []
        with self._lock:
            for key, value in records:
                ident = alert_id(key, value)
                if ident is None:
                    self.undecodable += 1
                    continue
                try:
                    alert = Alert.from_record(ident, value, now_ms)
                except (KeyError, TypeError, ValueError):
                    self.undecodable += 1
                    continue
                self._alerts.pop(ident, None)
                self._alerts[ident] = alert
                self.versions.add(alert.model_version)
                self.alerts_total += 1
                added.append(alert)
            while len(self._alerts) > self.max_alerts:
                self._alerts.popitem(last=False)
            events = [{"alert": a.as_dict(), "verdict": self._verdict_dict(a.id)} for a in added]
        for e in events:
            self._emit("alert", e)
        return added

    def add_labels(self, records: Iterable[tuple[dict, int, int]]) -> None:
        """fraud_labels records with their (partition, offset)."""
        changed = []
        with self._lock:
            for value, partition, offset in records:
                if (partition, offset) in self._seen:
                    continue
                try:
                    ident = int(value["ID"])
                    v = Verdict(int(value["LABEL"]), str(value["SOURCE"]), value.get("GIVEN_BY"),
                                millis(value.get("LABELLED_AT")) or 0, value.get("NOTE"), partition, offset)
                except (KeyError, TypeError, ValueError):
                    self.undecodable += 1
                    continue
                self._verdicts.pop(ident, None)
                self._verdicts[ident] = v
                if ident in self._alerts:
                    changed.append((ident, v))
            while len(self._verdicts) > self.max_verdicts:
                self._verdicts.popitem(last=False)
        for ident, v in changed:
            self._emit("verdict", {"id": ident, "verdict": v.as_dict()})

    # ---- queries ----------------------------------------------------------------------------
    def _verdict_dict(self, ident: int) -> dict | None:
        v = self._verdicts.get(ident)
        return v.as_dict() if v is not None else None

    def get(self, ident: int) -> tuple[Alert | None, Verdict | None]:
        with self._lock:
            return self._alerts.get(ident), self._verdicts.get(ident)

    def query(self, filters: Filters) -> list[dict]:
        """Alerts passing `filters`, newest first (by event time, then arrival)."""
        with self._lock:
            chosen = [(a, self._verdicts.get(a.id)) for a in self._alerts.values()
                      if filters.accepts(a, self._verdicts.get(a.id))]
        chosen.sort(key=lambda av: (av[0].event_ts or av[0].seen_ms, av[0].id), reverse=True)
        return [{"alert": a.as_dict(), "verdict": v.as_dict() if v else None,
                 "pending": self._pending.get(a.id)} for a, v in chosen[:filters.limit]]

    def coverage(self, since_ms: int | None = None) -> tuple[int, int]:
        """(alerts with a verdict, alerts) among the alerts held (events since `since_ms`)."""
        with self._lock:
            alerts = [a for a in self._alerts.values()
                      if since_ms is None or (a.event_ts or a.seen_ms) >= since_ms]
            return sum(1 for a in alerts if a.id in self._verdicts), len(alerts)

    def __len__(self) -> int:
        return len(self._alerts)

    # ---- the one-verdict gate ---------------------------------------------------------------
    def claim(self, ident: int, by: str) -> Claimed | Refused:
        with self._lock:
            existing = self._verdicts.get(ident)
            if existing is not None:
                return Refused(ident, "labelled", existing)
            holder = self._pending.get(ident)
            if holder is not None:
                return Refused(ident, "in-progress", by=holder)
            self._pending[ident] = by
        self._emit("pending", {"id": ident, "by": by})
        return Claimed(ident, by)

    def settle(self, claim: Claimed, verdict: Verdict) -> None:
        with self._lock:
            self._pending.pop(claim.alert_id, None)
            self._seen.add((verdict.partition, verdict.offset))
            self._verdicts.pop(claim.alert_id, None)
            self._verdicts[claim.alert_id] = verdict
        self._emit("verdict", {"id": claim.alert_id, "verdict": verdict.as_dict()})

    def release(self, claim: Claimed) -> None:
        with self._lock:
            self._pending.pop(claim.alert_id, None)
        self._emit("released", {"id": claim.alert_id})
