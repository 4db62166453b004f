"""The figures of `fraudstream monitor`: scores, late labels, alerts and drift.

Pure and incremental: the CLI feeds decoded records of `fraud_scores`, `fraud_labels`
and `fraud_drift` in any order and asks for a `summary()` (a plain dict, which is also
the `--once --json` output). Nothing here reads Kafka.

* **Recent, not since the start.** Scores/s count the scores whose SCORED_TS falls in the
  last `window_s` seconds of scoring; latency (SCORED_TS - EVENT_TS) is taken over the
  events of the last `window_s` seconds of *event* time, so a backlog scored late (the
  demo's labelled history, scored once the model exists) shows as backlog, not as the
  latency of live events. Both windows end at the newest timestamp seen, so `--once`
  over a finished run reports its last minute, not an empty one.
* **Late labels, as the KSQL statements count them** (ksql/monitoring/06, 07): a label
  matches the score with its ID when it arrives (Kafka timestamp) between 1 hour before
  and 7 days after the event; per event the latest matching label is the verdict and
  further matches are duplicate verdicts. A label whose ID has no score is "no score";
  one whose score exists but falls outside the horizon is "beyond horizon". Precision
  = TP / (TP + FP), recall = TP / (TP + FN) over verdicts; alert precision = TP / all
  alerts (confirmed share); coverage = scores with a label (in the event or a late
  verdict) / scores, late coverage = the same among the scores that came without one.
* Memory: one small tuple per scored ID (for matching labels that come later), one per
  label, a bounded list of recent scores and alerts; `max_ids` bounds the first (the
  oldest IDs are forgotten first and counted).
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np

from fraudstream.core.alerts import Alert, millis

HOUR_MS = 3_600_000
HORIZON_AFTER_MS = 7 * 24 * HOUR_MS   # ksql/monitoring/06: WITHIN (1 HOURS, 7 DAYS)
HORIZON_BEFORE_MS = HOUR_MS
DELAY_BUCKETS_S = [(1, "<1s"), (10, "<10s"), (60, "<1m"), (3600, "<1h"), (86400, "<1d"), (7 * 86400, "<7d")]


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _pct(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


@dataclass
class LoopStats:
    window_s: float = 30.0
    recent_alerts: int = 12
    max_ids: int = 2_000_000
    recent_scores: int = 200_000
    total: int = 0
    anomalies: int = 0
    undecodable: Counter = field(default_factory=Counter)
    by_model: Counter = field(default_factory=Counter)
    alerts_by_model: Counter = field(default_factory=Counter)
    # labels carried in the event itself (the dataset's Class), as before late labels
    event_confusion: Counter = field(default_factory=Counter)
    alerts: deque = field(default_factory=deque)
    labels_received: int = 0
    labels_by_source: Counter = field(default_factory=Counter)
    forgotten_ids: int = 0
    drift: dict = field(default_factory=dict)  # instance -> latest fraud_drift record
    _ids: OrderedDict = field(default_factory=OrderedDict)  # id -> (event_ts, anomalous, version, event label?)
    _labels: dict = field(default_factory=dict)  # id -> [(arrival_ts, label, labelled_at, source)]
    _recent: deque = field(default_factory=deque)  # (event_ts, scored_ts)

    # ---- input ------------------------------------------------------------------------------
    def add_score(self, rec: dict) -> None:
        self.total += 1
        anomalous = bool(rec["IS_ANOMALY"])
        version = int(rec["MODEL_VERSION"])
        ident = int(rec["ID"])
        self.anomalies += anomalous
        self.by_model[version] += 1
        self.alerts_by_model[version] += anomalous
        label = rec.get("LABEL")
        key = "unlabelled" if label is None else ("tp" if anomalous else "fn") if label == 1 else \
            ("fp" if anomalous else "tn")
        self.event_confusion[key] += 1
        event_ts, scored_ts = millis(rec.get("EVENT_TS")), millis(rec.get("SCORED_TS"))
        if event_ts is not None and scored_ts is not None:
            self._recent.append((event_ts, scored_ts))
            if len(self._recent) > self.recent_scores:
                self._recent.popleft()
        self._ids[ident] = (event_ts if event_ts is not None else 0, anomalous, version, label is not None)
        if len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)
            self.forgotten_ids += 1
        if anomalous:
            self.alerts.append(Alert.from_record(ident, rec))
            if len(self.alerts) > self.recent_alerts:
                self.alerts.popleft()

    def add_label(self, rec: dict, arrival_ts: int) -> None:
        """One fraud_labels record and its Kafka timestamp (when it was written)."""
        self.labels_received += 1
        self.labels_by_source[str(rec["SOURCE"])] += 1
        self._labels.setdefault(int(rec["ID"]), []).append(
            (int(arrival_ts), int(rec["LABEL"]), millis(rec.get("LABELLED_AT")), str(rec["SOURCE"])))

    def add_drift(self, rec: dict) -> None:
        self.drift[str(rec["INSTANCE"])] = rec

    # ---- figures ----------------------------------------------------------------------------
    def recent(self) -> dict:
        """Rate, alerts and latency over the last `window_s` seconds (see module doc)."""
        w = int(self.window_s * 1000)
        if not self._recent:
            return {"window_s": self.window_s, "scores": 0, "scores_per_s": 0.0, "events": 0,
                    "latency_ms": {"p50": None, "p99": None}, "backlog_scored": 0}
        arr = np.asarray(self._recent, dtype=np.int64)
        event, scored = arr[:, 0], arr[:, 1]
        in_rate = scored >= scored.max() - w
        live = event >= event.max() - w
        span_s = min(self.window_s, max((scored.max() - scored.min()) / 1000, 1e-3))
        latency = (scored - event)[live].astype(np.float64)
        return {"window_s": self.window_s, "scores": int(in_rate.sum()),
                "scores_per_s": float(in_rate.sum() / span_s), "events": int(live.sum()),
                "latency_ms": {"p50": _pct(latency, 50), "p99": _pct(latency, 99)},
                "backlog_scored": int((in_rate & ~live).sum())}

    def late_labels(self) -> dict:
        """Match labels with scores as ksql/monitoring/06 and 07 do (see module doc)."""
        no_score = beyond = verdict_count = 0
        delays: list[float] = []
        per_version: dict[int, Counter] = {}
        verdict_of: dict[int, int] = {}
        late_only = 0  # events that came without a label and have a late verdict now
        for ident, labels in self._labels.items():
            score = self._ids.get(ident)
            if score is None:
                no_score += len(labels)
                continue
            event_ts, anomalous, version, event_label = score
            matched = [lab for lab in labels if event_ts - HORIZON_BEFORE_MS <= lab[0] <= event_ts + HORIZON_AFTER_MS]
            beyond += len(labels) - len(matched)
            if not matched:
                continue
            verdict_count += len(matched)
            for _arrival, _label, labelled_at, _source in matched:
                if labelled_at is not None:
                    delays.append((labelled_at - event_ts) / 1000)
            latest = matched[-1][1]
            verdict_of[ident] = latest
            late_only += not event_label
            c = per_version.setdefault(version, Counter())
            c["labelled"] += 1
            c[("tp" if anomalous else "fn") if latest == 1 else ("fp" if anomalous else "tn")] += 1
        quality = {str(v): self._quality(c, self.alerts_by_model[v]) for v, c in sorted(per_version.items())}
        total = sum(per_version.values(), Counter())
        labelled_alerts = total["tp"] + total["fp"]
        d = np.asarray(delays, dtype=np.float64)
        unlabelled_events = self.event_confusion["unlabelled"]
        with_event_label = self.total - unlabelled_events
        buckets = {name: int((d < limit).sum()) for limit, name in DELAY_BUCKETS_S}
        return {
            "received": self.labels_received, "by_source": dict(self.labels_by_source),
            "matched_events": len(verdict_of), "verdicts": verdict_count,
            "duplicate_verdicts": verdict_count - len(verdict_of),
            "no_score": no_score, "beyond_horizon": beyond,
            "coverage": _ratio(with_event_label + late_only, self.total),
            "late_coverage": _ratio(late_only, unlabelled_events),
            "scored_without_label": unlabelled_events,
            "alert_coverage": _ratio(labelled_alerts, self.anomalies),
            "delay_s": {"p50": _pct(d, 50), "p90": _pct(d, 90), "p99": _pct(d, 99),
                        "max": float(d.max()) if len(d) else None, "count": len(d), "below": buckets},
            "quality": quality, "total": self._quality(total, self.anomalies),
            "_verdicts": verdict_of,
        }

    @staticmethod
    def _quality(c: Counter, alerts: int) -> dict:
        tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
        return {"alerts": alerts, "labelled": c["labelled"], "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "alert_precision": _ratio(tp, alerts)}

    def drift_summary(self, top: int = 5) -> dict:
        instances = {}
        for name, rec in sorted(self.drift.items()):
            feats = list(rec.get("FEATURES") or [])
            instances[name] = {
                "model_version": rec.get("MODEL_VERSION"), "window_events": rec.get("WINDOW_EVENTS"),
                "computed_at": millis(rec.get("COMPUTED_AT")), "drift": bool(rec.get("DRIFT")),
                "psi_limit": rec.get("PSI_LIMIT"),
                "top": [{"feature": f["FEATURE"], "psi": f["PSI"], "importance_rank": f["IMPORTANCE_RANK"]}
                        for f in feats[:top]]}
        return {"drift": any(i["drift"] for i in instances.values()), "instances": instances}

    def summary(self) -> dict:
        labels = self.late_labels()
        verdicts = labels.pop("_verdicts")
        c = self.event_confusion
        ev_tp, ev_fp, ev_fn = c["tp"], c["fp"], c["fn"]
        return {
            "scores": {"total": self.total, "anomalies": self.anomalies,
                       "by_model": {str(k): v for k, v in sorted(self.by_model.items())},
                       "undecodable": dict(self.undecodable), "ids_forgotten": self.forgotten_ids},
            "recent": self.recent(),
            "labels_in_events": {"tp": ev_tp, "fp": ev_fp, "fn": ev_fn, "tn": c["tn"], "unlabelled": c["unlabelled"],
                                 "precision": _ratio(ev_tp, ev_tp + ev_fp), "recall": _ratio(ev_tp, ev_tp + ev_fn)},
            "late_labels": labels,
            "alerts": [{**a.as_dict(), "label": verdicts.get(a.id)} for a in reversed(self.alerts)],
            "drift": self.drift_summary(),
        }
