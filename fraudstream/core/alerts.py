"""One alert as the services read it from `fraud_alerts` / `fraud_scores` records.

The console (its queue) and `fraudstream monitor` (its latest-alerts table) both turn a
decoded score record into the same fields; one definition keeps their reading of the
record (the ID from the key or the value, timestamps as epoch millis, the explanation as
(feature, share) pairs) the same.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any


def millis(value: Any) -> int | None:
    """fastavro returns timestamp-millis as datetime; plain longs pass through."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return int(round(value.timestamp() * 1000))
    return int(value)


def alert_id(key: bytes | None, value: dict) -> int | None:
    """The event ID of a fraud_alerts record: its BIGINT key (8 bytes, big-endian, as
    ksqlDB's KAFKA format writes `PARTITION BY ID`), or an ID value column."""
    if value.get("ID") is not None:
        return int(value["ID"])
    if key is not None and len(key) == 8:
        return struct.unpack(">q", key)[0]
    if key:
        try:
            return int(key.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
    return None


@dataclass
class Alert:
    id: int
    user: str | None
    city: str | None
    amount: float | None
    score: float
    threshold: float
    model_version: int
    event_ts: int | None
    scored_ts: int | None
    explanation: list[tuple[str, float]]
    seen_ms: int | None = None  # when the reader (the console) read it

    @classmethod
    def from_record(cls, ident: int, rec: dict, seen_ms: int | None = None) -> "Alert":
        """A decoded score/alert record; explanation entries that are not (FEATURE, SHARE)
        are left out rather than failing the whole alert."""
        expl = []
        for e in rec.get("EXPLANATION") or []:
            try:
                expl.append((str(e["FEATURE"]), float(e["SHARE"])))
            except (KeyError, TypeError, ValueError):
                continue
        amount = rec.get("AMOUNT")
        return cls(ident, rec.get("USER"), rec.get("CITY"), None if amount is None else float(amount),
                   float(rec["SCORE"]), float(rec["THRESHOLD"]), int(rec["MODEL_VERSION"]),
                   millis(rec.get("EVENT_TS")), millis(rec.get("SCORED_TS")), expl, seen_ms)

    def as_dict(self) -> dict:
        return {"id": self.id, "user": self.user, "city": self.city, "amount": self.amount, "score": self.score,
                "threshold": self.threshold, "model_version": self.model_version, "event_ts": self.event_ts,
                "scored_ts": self.scored_ts, "seen_ms": self.seen_ms,
                "explanation": [{"feature": f, "share": s} for f, s in self.explanation]}
