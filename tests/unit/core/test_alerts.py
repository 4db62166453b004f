"""The one reading of an alert record shared by the console and `fraudstream monitor`."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

from fraudstream.core.alerts import Alert, alert_id, millis


def test_millis_reads_datetimes_and_longs_alike() -> None:
    when = datetime(2026, 11, 30, 9, 0, 0, 123000, tzinfo=timezone.utc)
    assert millis(when) == 1_796_029_200_123
    assert millis(1_796_029_200_123) == 1_796_029_200_123
    assert millis(None) is None


def test_alert_id_prefers_the_value_then_the_bigint_key_then_an_ascii_key() -> None:
    assert alert_id(struct.pack(">q", 7), {"ID": 9}) == 9
    assert alert_id(struct.pack(">q", -7), {}) == -7
    assert alert_id(b"42", {}) == 42
    assert alert_id(b"not-a-number", {}) is None
    assert alert_id(None, {}) is None


def test_an_alert_keeps_well_formed_explanation_entries_and_drops_broken_ones() -> None:
    rec = {"USER": "u1", "CITY": None, "AMOUNT": 3, "SCORE": 2.5, "THRESHOLD": 1.0, "MODEL_VERSION": 4,
           "EVENT_TS": 1000, "SCORED_TS": None,
           "EXPLANATION": [{"FEATURE": "V14", "SHARE": 0.5}, {"FEATURE": "V4"}, {"FEATURE": "V1", "SHARE": "x"}]}
    a = Alert.from_record(11, rec)
    assert a.explanation == [("V14", 0.5)]
    assert a.amount == 3.0 and isinstance(a.amount, float)
    d = a.as_dict()
    assert d["id"] == 11 and d["event_ts"] == 1000 and d["scored_ts"] is None and d["seen_ms"] is None
    assert d["explanation"] == [{"feature": "V14", "share": 0.5}]
