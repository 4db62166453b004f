"""The top-3 explanation: the right features, largest first, shares that add up."""

from __future__ import annotations

import numpy as np

from fraudstream.scorer.explain import as_records, top_contributions

NAMES = [f"F{i}" for i in range(30)]


def test_top_three_match_a_full_sort_and_shares_sum_to_at_most_one():
    rng = np.random.default_rng(1)
    errors = rng.exponential(size=(500, 30)) ** 3
    top, shares, valid = top_contributions(errors)
    assert valid.all()
    expected = np.argsort(-errors, axis=1, kind="stable")[:, :3]
    assert (np.take_along_axis(errors, top, 1) == np.take_along_axis(errors, expected, 1)).all()
    assert (np.diff(shares, axis=1) <= 0).all()
    exact = np.take_along_axis(errors, expected, 1) / errors.sum(axis=1, keepdims=True)
    assert np.allclose(shares, exact, rtol=4 * np.finfo(float).eps, atol=0)
    # the real shares sum to <= 1; the doubles within a few ulp of that
    assert (shares.sum(axis=1) <= 1 + 4 * np.finfo(float).eps).all()


def test_one_dominant_feature_takes_nearly_all_the_share():
    errors = np.full((1, 30), 1e-6)
    errors[0, 14] = 10.0
    top, shares, valid = top_contributions(errors)
    recs = as_records(top, shares, valid, NAMES)
    assert recs[0][0]["FEATURE"] == "F14" and recs[0][0]["SHARE"] > 0.999
    assert len(recs[0]) == 3 and sum(r["SHARE"] for r in recs[0]) <= 1.0 + 4 * np.finfo(float).eps


def test_a_row_without_error_gets_no_explanation():
    errors = np.zeros((2, 30))
    errors[1, 3] = np.inf
    top, shares, valid = top_contributions(errors)
    assert valid.tolist() == [False, False]
    assert as_records(top, shares, valid, NAMES) == [[], []]


def test_fewer_features_than_k_and_empty_batches():
    top, shares, valid = top_contributions(np.array([[1.0, 3.0]]), k=3)
    assert top.tolist() == [[1, 0]] and shares.tolist() == [[0.75, 0.25]]
    top, shares, valid = top_contributions(np.empty((0, 30)))
    assert top.shape == (0, 3) and as_records(top, shares, valid, NAMES) == []


def test_the_avro_tail_is_what_fastavro_writes_for_the_same_records():
    """Header + fields written by fastavro + the hand-written EXPLANATION bytes decode,
    with the full schema, to the records the dict path encodes, byte for byte."""
    import io

    import fastavro

    from fraudstream.core.avro_wire import WireEncoder
    from fraudstream.core.schemas import load
    from fraudstream.scorer.explain import AvroTail

    rng = np.random.default_rng(4)
    errors = rng.exponential(size=(50, 30)) ** 2
    errors[7] = 0.0  # no explanation
    names = [f"F{i}" for i in range(29)] + ["Amöunt"]  # a non-ASCII name: UTF-8 with its byte length
    parts = top_contributions(errors)
    schema = load("fraud_score")
    recs = [{"ID": i, "USER": "Xn1", "CITY": None, "AMOUNT": 1.5, "SCORE": 2.0, "THRESHOLD": 1.0,
             "IS_ANOMALY": True, "LABEL": None, "MODEL_VERSION": 3, "EVENT_TS": 10, "SCORED_TS": 11}
            for i in range(50)]
    tails = AvroTail(names).encode(*parts)
    assert bytes(tails[7]) == b"\x00"  # an empty array: the zero count alone
    raw = WireEncoder(schema, 9, raw_tail="EXPLANATION").encode_many(recs, tails)
    full = WireEncoder(schema, 9).encode_many(
        [{**r, "EXPLANATION": e} for r, e in zip(recs, as_records(*parts, names))])
    assert raw == full
    parsed = fastavro.parse_schema(schema)
    back = fastavro.schemaless_reader(io.BytesIO(raw[0][5:]), parsed)
    assert [e["FEATURE"] for e in back["EXPLANATION"]] == [names[i] for i in parts[0][0]]
    assert fastavro.schemaless_reader(io.BytesIO(raw[7][5:]), parsed)["EXPLANATION"] == []



def test_the_processor_writes_the_same_scores_through_the_raw_tail_as_through_fastavro():
    """ScoringProcessor with the service's encoder (raw EXPLANATION tail) against the dict
    path through fastavro: the same bytes apart from SCORED_TS; with explanations off
    (explain_top=0) each score carries an empty explanation instead of failing."""
    import io

    import fastavro

    from fraudstream.core.avro_wire import WireEncoder, WriterSchemas
    from fraudstream.core.schemas import load
    from fraudstream.scorer.models import ScoringModel
    from fraudstream.scorer.processing import ScoringProcessor
    from tests.support.messages import ConsumedMessage
    from tests.unit.scorer.support import make_bundle, raw_rows, scoring_record, wire

    in_schema = load("scoring_value")
    parsed_in = fastavro.parse_schema(in_schema)
    rows = raw_rows(40, seed=3)
    msgs = [ConsumedMessage(str(i).encode(), wire(1, parsed_in, scoring_record(i, r)), 1_700_000_000_000 + i)
            for i, r in enumerate(rows)]
    model = ScoringModel.from_bundle(make_bundle(), mode="numpy")
    schema = load("fraud_score")
    parsed_out = fastavro.parse_schema(schema)

    def run(raw_tail: str | None, top: int) -> list[dict]:
        proc = ScoringProcessor(WriterSchemas(lambda sid: in_schema), WireEncoder(schema, 2, raw_tail=raw_tail),
                                explain_top=top)
        proc.set_model(model)
        out = proc(msgs)
        assert not out.dead and len(out.records) == len(msgs)
        return [fastavro.schemaless_reader(io.BytesIO(v[5:]), parsed_out) for _, v, _ in out.records]

    raw, dicts = run("EXPLANATION", 3), run(None, 3)
    for a, b in zip(raw, dicts):
        a.pop("SCORED_TS"), b.pop("SCORED_TS")
    assert raw == dicts
    assert all(len(r["EXPLANATION"]) == 3 for r in raw)
    assert {f["FEATURE"] for r in raw for f in r["EXPLANATION"]} <= set(model.feature_names)
    off = run("EXPLANATION", 0)
    assert [r["EXPLANATION"] for r in off] == [[]] * len(msgs)
    assert [r["SCORE"] for r in off] == [r["SCORE"] for r in raw]
