"""Labels: validation, the words a verdict comes in, times, and reading a labels file."""

from __future__ import annotations

import pytest

from fraudstream.core.labels import FRAUD, LEGIT, Label, LabelError, parse_time, read_csv, verdict


def test_a_label_is_keyed_by_the_event_id_as_text_and_round_trips_as_a_record():
    lab = Label(123456789012, FRAUD, "analyst", 1_700_000_000_000, "called the card holder")
    assert lab.key == b"123456789012"
    assert Label.from_record(lab.to_record()) == lab


@pytest.mark.parametrize("kwargs, words", [
    ({"id": -1}, "ID"), ({"id": 2**63}, "ID"), ({"label": 2}, "LABEL"), ({"label": True}, "LABEL"),
    ({"source": "Analyst"}, "SOURCE"), ({"source": ""}, "SOURCE"), ({"labelled_at_ms": -5}, "LABELLED_AT"),
    ({"note": "x" * 1001}, "NOTE"),
])
def test_invalid_labels_are_refused_naming_the_field(kwargs, words):
    base = {"id": 1, "label": LEGIT, "source": "chargeback", "labelled_at_ms": 0, "note": None}
    with pytest.raises(LabelError, match=words):
        Label(**{**base, **kwargs})


def test_verdict_words():
    assert [verdict(w) for w in ("1", "fraud", "FRAUD", " yes ", "true")] == [1] * 5
    assert [verdict(w) for w in ("0", "legit", "legitimate", "genuine", "no", "false")] == [0] * 6
    with pytest.raises(LabelError, match="maybe"):
        verdict("maybe")


def test_times_iso_with_and_without_offset_and_epoch_millis():
    assert parse_time("1970-01-01T00:00:01Z") == 1000
    assert parse_time("1970-01-01T01:00:01+01:00") == 1000
    assert parse_time("1970-01-02") == 86_400_000
    assert parse_time("1700000000000") == 1_700_000_000_000
    with pytest.raises(LabelError, match="ISO-8601"):
        parse_time("yesterday")


def test_a_labels_file_keeps_good_rows_and_names_each_bad_row_with_its_line(tmp_path):
    f = tmp_path / "chargebacks.csv"
    f.write_text("ID,Label,labelled_at,note\n"
                 "10,fraud,2024-05-01T12:00:00Z,first\n"
                 "\n"
                 "11,legit,,\n"
                 "x12,fraud,,\n"
                 "13,maybe,,\n"
                 "14,1,not a time,\n"
                 "15,1\n"
                 "10,legit,2024-05-02T12:00:00Z,changed my mind\n")
    got = read_csv(f, now=5000)
    assert [(lab.id, lab.label, lab.source) for lab in got.labels] == [
        (10, 1, "chargeback"), (11, 0, "chargeback"), (10, 0, "chargeback")]
    assert got.lines == [2, 4, 9]
    assert got.labels[0].labelled_at_ms == parse_time("2024-05-01T12:00:00Z")
    assert got.labels[1].labelled_at_ms == 5000 and got.labels[1].note is None
    assert [(b.line, b.reason.split(" ")[0]) for b in got.bad] == [(5, "ID"), (6, "label"), (7, "time"), (8, "2")]
    assert all(b.where.startswith(str(f)) for b in got.bad)
    assert got.repeated == 1


@pytest.mark.parametrize("text, words", [
    ("", "empty file"), ("id,label\n", "no label rows"), ("id,verdict_of_doom\n1,1\n", "unknown column"),
    ("label\n1\n", "missing column"), ("id,label,id\n1,1,1\n", "twice"),
])
def test_a_file_that_cannot_be_used_at_all_is_one_error(tmp_path, text, words):
    f = tmp_path / "l.csv"
    f.write_text(text)
    with pytest.raises(LabelError, match=words):
        read_csv(f)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(LabelError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    b = tmp_path / "b.csv"
    b.write_bytes(b"id,label\n\xff\xfe1,1\n")
    with pytest.raises(LabelError, match="not UTF-8"):
        read_csv(b)
