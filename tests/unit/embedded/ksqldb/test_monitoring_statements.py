"""ksql/monitoring/*.ksql, exactly as compose's ksql-monitoring job applies them to real
ksqlDB, run on the embedded engine over scorer-shaped records: the model version is in
the value (AS_VALUE) besides the key, and the counts and live precision / recall follow
the labels."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import fastavro

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, InputRecord

ROOT = Path(__file__).resolve().parents[4]
MONITORING = sorted((ROOT / "ksql" / "monitoring").glob("*.ksql"))


def _engine() -> tuple[Engine, InMemorySchemaRegistry, int]:
    registry, admin = InMemorySchemaRegistry(), InMemoryTopicAdmin()
    admin.create_topic("fraud_scores", 3, 1)
    schema = (ROOT / "fraudstream" / "core" / "schemas" / "fraud_score.avsc").read_text()
    sid = registry.register("fraud_scores-value", schema)
    admin.create_topic("fraud_scores_shadow", 3, 1)  # the challenger's scores (08), same schema
    registry.register("fraud_scores_shadow-value", schema)
    admin.create_topic("fraud_labels", 3, 1)
    registry.register("fraud_labels-value", (ROOT / "fraudstream" / "core" / "schemas" / "fraud_label.avsc").read_text())
    engine = Engine(admin, registry)
    for path in MONITORING:
        engine.execute(path.read_text())
    return engine, registry, sid


def _score(sid: int, i: int, version: int, anomaly: bool, label: int | None) -> InputRecord:
    parsed = fastavro.parse_schema(json.loads(
        (ROOT / "fraudstream" / "core" / "schemas" / "fraud_score.avsc").read_text()))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, {
        "ID": i, "USER": "XX34", "AMOUNT": 10.0, "SCORE": 2.0 if anomaly else 0.1, "THRESHOLD": 1.0,
        "IS_ANOMALY": anomaly, "LABEL": label, "MODEL_VERSION": version, "EVENT_TS": 60_000 + i,
        "SCORED_TS": 60_500 + i})
    return InputRecord(struct.pack(">q", i), b"\x00" + struct.pack(">I", sid) + buf.getvalue(), 60_000 + i, 0, i)


def _decode(registry: InMemorySchemaRegistry, value: bytes) -> dict:
    assert value[0] == 0
    (schema_id,) = struct.unpack(">I", value[1:5])
    schema = fastavro.parse_schema(json.loads(registry.get_by_id(schema_id).schema))
    return fastavro.schemaless_reader(io.BytesIO(value[5:]), schema)


def test_the_monitoring_files_are_the_ones_compose_applies():
    assert [p.name for p in MONITORING] == ["01_fraud_scores.ksql", "02_alerts_per_minute.ksql",
                                            "03_model_quality.ksql", "04_fraud_alerts.ksql",
                                            "05_fraud_labels.ksql", "06_fraud_scores_labelled.ksql",
                                            "07_label_quality.ksql", "08_champion_challenger.ksql"]
    compose = (ROOT / "docker-compose.yml").read_text()
    assert '"/app/ksql/monitoring"' in compose


def test_model_version_is_in_the_value_of_both_tables():
    engine, registry, sid = _engine()
    by_sink = {q.pipeline.sink_topic: q.pipeline for q in engine.queries.values()
               if q.pipeline.sink_topic in ("fraud_alerts_per_minute", "fraud_model_quality")}
    assert len(by_sink) == 2  # the loop's statements (04-07) are tested in tests/unit/ksql
    # version 7: 3 labelled alerts (2 frauds), 1 missed fraud, 1 unlabelled normal
    records = [_score(sid, 1, 7, True, 1), _score(sid, 2, 7, True, 1), _score(sid, 3, 7, True, 0),
               _score(sid, 4, 7, False, 1), _score(sid, 5, 7, False, None), _score(sid, 6, 8, False, 0)]
    for topic, pipeline in by_sink.items():
        outputs, errors = pipeline.process(records)
        assert errors == []
        latest: dict[int, dict] = {}
        for out in outputs:
            row = _decode(registry, out.value)
            latest[row["VERSION"]] = row
        assert set(latest) == {7, 8}, topic
        assert latest[7]["SCORED"] == 5 and latest[7]["ALERTS"] == 3
        assert (latest[7]["TRUE_POSITIVES"], latest[7]["FALSE_POSITIVES"], latest[7]["FALSE_NEGATIVES"]) == (2, 1, 1)
        assert latest[8]["SCORED"] == 1 and latest[8]["ALERTS"] == 0
        if topic == "fraud_model_quality":
            assert latest[7]["LIVE_PRECISION"] == 2 / 3 and latest[7]["LIVE_RECALL"] == 2 / 3
            assert latest[8]["LIVE_PRECISION"] is None  # no labelled alert: NULL, not a division by zero
