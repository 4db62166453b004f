"""The processor with a challenger: the champion's scores as without one, the challenger's
scores of the same rows (same keys, event times and scored time, its own version and
threshold, no explanation) for the shadow topic, and a challenger that reads other
features refused."""

from __future__ import annotations

import io

import fastavro
import numpy as np
import pytest

from fraudstream.core.avro_wire import WireEncoder, WriterSchemas
from fraudstream.core.schemas import load
from fraudstream.scorer.models import ScoringModel
from fraudstream.scorer.processing import ScoringProcessor
from tests.support.messages import ConsumedMessage
from tests.unit.scorer.support import make_bundle, make_hybrid_bundle, raw_rows, reference_scores, scoring_record, wire


def test_the_challenger_scores_the_same_rows_for_the_shadow_topic() -> None:
    in_schema = load("scoring_value")
    parsed_in = fastavro.parse_schema(in_schema)
    rows = raw_rows(60, seed=4)
    msgs = [ConsumedMessage(str(i).encode(), wire(1, parsed_in, scoring_record(i, r)), 1_700_000_000_000 + i)
            for i, r in enumerate(rows)]
    msgs.append(ConsumedMessage(b"bad", b"not avro", 1_700_000_000_999))  # dead-lettered once, shadowed never
    schema = load("fraud_score")
    parsed_out = fastavro.parse_schema(schema)
    champion_bundle, challenger_bundle = make_bundle(version=5, seed=7), make_hybrid_bundle(version=6, seed=8)
    champion = ScoringModel.from_bundle(champion_bundle, mode="numpy")
    challenger = ScoringModel.from_bundle(challenger_bundle)

    def decoded(records) -> list[dict]:
        return [fastavro.schemaless_reader(io.BytesIO(v[5:]), parsed_out) for _, v, _ in records]

    def processor() -> ScoringProcessor:
        return ScoringProcessor(WriterSchemas(lambda sid: in_schema), WireEncoder(schema, 2, raw_tail="EXPLANATION"),
                                shadow_encoder=WireEncoder(schema, 3, raw_tail="EXPLANATION"))

    alone = processor()
    alone.set_model(champion)
    base = alone(msgs)
    assert base.shadow == [] and base.shadow_version is None

    proc = processor()
    proc.set_model(champion, challenger)
    out = proc(msgs)
    assert len(out.dead) == len(base.dead) == 1 and len(out.records) == len(out.shadow) == len(rows)
    assert (out.model_version, out.shadow_version) == (5, 6)
    with_challenger, without = decoded(out.records), decoded(base.records)
    for a, b in zip(with_challenger, without):
        a.pop("SCORED_TS"), b.pop("SCORED_TS")
    assert with_challenger == without  # the champion's scores do not change with a challenger attached
    assert {v[1:5] for _, v, _ in out.shadow} == {(3).to_bytes(4, "big")}  # the shadow topic's schema id
    sh = decoded(out.shadow)
    assert [k for k, _, _ in out.shadow] == [k for k, _, _ in out.records]
    assert [t for _, _, t in out.shadow] == [t for _, _, t in out.records]
    assert [r["ID"] for r in sh] == list(range(len(rows)))
    assert {r["MODEL_VERSION"] for r in sh} == {6} and {r["THRESHOLD"] for r in sh} == {0.5}
    assert np.array_equal([r["SCORE"] for r in sh], challenger_bundle.scores(rows))  # NumPy only: exact
    assert [r["IS_ANOMALY"] for r in sh] == [bool(s > 0.5) for s in challenger_bundle.scores(rows)]
    assert out.shadow_anomalies == sum(r["IS_ANOMALY"] for r in sh)
    assert all(r["EXPLANATION"] == [] for r in sh) and all(len(r["EXPLANATION"]) == 3 for r in decoded(out.records))
    np.testing.assert_allclose([r["SCORE"] for r in decoded(out.records)], reference_scores(champion_bundle, rows),
                               rtol=1e-6, atol=1e-6)

    other = make_bundle(version=7, seed=9)
    other.feature_names = [*other.feature_names[1:], other.feature_names[0]]
    with pytest.raises(ValueError, match="challenger v7 reads"):
        proc.set_model(champion, ScoringModel(other, champion.forward))
