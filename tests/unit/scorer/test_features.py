"""Feature extraction from decoded records: case-insensitive columns, reasons for bad rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.core.model_bundle import DEFAULT_FEATURES
from fraudstream.core.schemas import load
from fraudstream.scorer.errors import BadRecord
from fraudstream.scorer.features import extract, make_plan, parse_label
from tests.unit.scorer.support import raw_rows, scoring_record

SCHEMA = load("scoring_value")


def plan(schema=SCHEMA, features=DEFAULT_FEATURES):
    return make_plan(1, schema, list(features))


def test_upper_case_columns_match_mixed_case_feature_names() -> None:
    p = plan()
    assert p.feature_fields[0] == "TIME" and p.feature_fields[-1] == "AMOUNT"
    assert p.fast and p.id_field == "ID" and p.class_field == "CLASS"
    rows = raw_rows(3)
    batch = extract([(p, scoring_record(i, r)) for i, r in enumerate(rows)], 30)
    np.testing.assert_array_equal(batch.x, rows)
    assert batch.ids == [0, 1, 2] and batch.bad == {}
    assert batch.amounts == [float(r[29]) for r in rows] and batch.users == ["XXer1"] * 3


@pytest.mark.parametrize("value, expected", [("-1", None), (None, None), ("", None), ("0", 0), ("1", 1),
                                             ('"1"', 1), ("1.0", 1), (" 0 ", 0)])
def test_labels(value, expected) -> None:
    assert parse_label(value) == expected


def test_unknown_label_is_a_bad_record() -> None:
    with pytest.raises(BadRecord) as info:
        parse_label("fraud")
    assert info.value.category == "bad_label"


def test_each_bad_row_gets_its_reason_and_good_rows_keep_their_order() -> None:
    p = plan()
    rows = raw_rows(6)
    recs = [scoring_record(i, r) for i, r in enumerate(rows)]
    recs[1]["V3"] = None
    recs[2]["V7"] = math.nan
    recs[3]["AMOUNT"] = math.inf
    recs[4]["ID"] = None
    items = [(p, r) for r in recs] + [BadRecord("undecodable", "garbage")]
    batch = extract(items, 30)
    assert batch.index == [0, 5]
    np.testing.assert_array_equal(batch.x, rows[[0, 5]])
    assert {i: b.category for i, b in batch.bad.items()} == {
        1: "null_feature", 2: "nan_feature", 3: "nan_feature", 4: "missing_id", 6: "undecodable"}
    assert "V3" in batch.bad[1].reason and "V7" in batch.bad[2].reason and "AMOUNT" in batch.bad[3].reason


def test_missing_feature_in_the_writer_schema() -> None:
    schema = {**SCHEMA, "fields": [f for f in SCHEMA["fields"] if f["name"] != "V12"]}
    p = plan(schema)
    rec = scoring_record(1, raw_rows(1)[0])
    del rec["V12"]
    batch = extract([(p, rec)], 30)
    assert batch.index == [] and batch.bad[0].category == "missing_feature" and "V12" in batch.bad[0].reason


def test_string_typed_feature_is_checked_per_value() -> None:
    fields = [({**f, "type": ["null", "string"]} if f["name"] == "V2" else f) for f in SCHEMA["fields"]]
    p = plan({**SCHEMA, "fields": fields})
    assert not p.fast and "V2" in p.non_numeric
    good = scoring_record(1, raw_rows(1)[0])
    bad = dict(good, V2="12.5")  # a number in text is still not a number
    batch = extract([(p, good), (p, bad)], 30)
    assert batch.index == [0]
    assert batch.bad[1].category == "non_numeric" and "V2" in batch.bad[1].reason


def test_empty_batch() -> None:
    batch = extract([], 30)
    assert batch.x.shape == (0, 30) and batch.index == []


def test_id_written_as_text_is_accepted_when_it_is_an_integer() -> None:
    p = plan()
    rows = raw_rows(3)
    recs = [scoring_record(i, r) for i, r in enumerate(rows)]
    recs[0]["ID"] = "17"
    recs[1]["ID"] = "x17"
    recs[2]["ID"] = True
    batch = extract([(p, r) for r in recs], 30)
    assert batch.ids == [17]
    assert batch.bad[1].category == "missing_id" and "x17" in batch.bad[1].reason
    assert batch.bad[2].category == "missing_id"
