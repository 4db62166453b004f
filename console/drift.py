"""Drift as the scorers report it on `fraud_drift`: per-feature PSI over time.

Each scorer instance publishes, every so often, the population stability index of every
feature over its sliding window against the model's training data (fraudloop's
`core/drift.py` computes it; this module only keeps and arranges it). Here: the latest
report per instance, and per feature a short history (time, PSI, worst over instances)
for the chart; "top drifting" = the largest latest PSI, with the features above the
limit or among the model's most important ones marked.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from fraudstream.core.alerts import millis


@dataclass
class DriftHistory:
    keep: int = 720                 # reports per instance (a few hours at the scorer's pace)
    _latest: dict = field(default_factory=dict)          # instance -> record
    _series: dict = field(default_factory=dict)          # instance -> deque[(t_ms, {feature: psi})]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    reports: int = 0

    def add(self, records: list[dict]) -> None:
        with self._lock:
            for rec in records:
                try:
                    inst = str(rec["INSTANCE"])
                    at = millis(rec["COMPUTED_AT"]) or 0
                    psi = {str(f["FEATURE"]): float(f["PSI"]) for f in rec["FEATURES"]}
                except (KeyError, TypeError, ValueError):
                    continue
                self._latest[inst] = rec
                self._series.setdefault(inst, deque(maxlen=self.keep)).append((at, psi))
                self.reports += 1

    def snapshot(self, top: int = 6) -> dict:
        with self._lock:
            latest = dict(self._latest)
            series = {k: list(v) for k, v in self._series.items()}
        if not latest:
            return {"instances": [], "features": [], "top": [], "series": {"t": [], "features": {}}, "reports": 0,
                    "psi_limit": None}
        # latest PSI per feature: the worst instance
        worst: dict[str, dict] = OrderedDict()
        for inst, rec in latest.items():
            for f in rec["FEATURES"]:
                name = str(f["FEATURE"])
                psi = float(f["PSI"])
                cur = worst.get(name)
                if cur is None or psi > cur["psi"]:
                    worst[name] = {"feature": name, "psi": psi, "rank": int(f.get("IMPORTANCE_RANK") or 0),
                                   "instance": inst}
        limit = max(float(r.get("PSI_LIMIT") or 0.0) for r in latest.values())
        features = sorted(worst.values(), key=lambda r: -r["psi"])
        for f in features:
            f["over"] = f["psi"] > limit if limit else False
        top_names = [f["feature"] for f in features[:top]]
        # one time axis: every report time of every instance; per feature the worst PSI then
        points: dict[int, dict[str, float]] = {}
        for inst_series in series.values():
            for at, psi in inst_series:
                row = points.setdefault(at // 1000, {})
                for name in top_names:
                    if name in psi:
                        row[name] = max(row.get(name, 0.0), psi[name])
        ts = sorted(points)
        return {
            "instances": [{"instance": inst, "model_version": int(r["MODEL_VERSION"]), "drift": bool(r["DRIFT"]),
                           "window_events": int(r["WINDOW_EVENTS"]), "computed_at": millis(r["COMPUTED_AT"]),
                           "psi_limit": float(r["PSI_LIMIT"])} for inst, r in sorted(latest.items())],
            "psi_limit": limit, "features": features, "top": top_names, "reports": self.reports,
            "series": {"t": ts, "features": {n: [points[t].get(n) for t in ts] for n in top_names}},
        }
