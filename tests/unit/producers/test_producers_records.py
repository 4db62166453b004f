"""Bulk encoders: the delimited line is creditcard_extended.csv's format, JSON the same data."""

from __future__ import annotations

import json

import numpy as np

from fraudstream.producers.records import (
    COLUMNS,
    TransactionBatch,
    decode_delimited,
    decode_json,
    encode_delimited,
    encode_json,
    iso_utc,
)
from fraudstream.producers.sources import CsvSource


def test_delimited_reproduces_creditcard_extended_byte_for_byte(shared_data):
    """Parsing Kai Waehner's producer input and encoding it again gives the same lines:
    same quoting (strings and Class quoted, numbers bare, empty Class unquoted), same
    number formatting."""
    path = shared_data / "creditcard_extended.csv"
    (src,) = list(CsvSource(path).batches())
    batch = TransactionBatch(src.ids, src.timestamps, src.users, src.features, src.labels)
    assert encode_delimited(batch) == path.read_bytes().splitlines()


def batch_with_awkward_strings() -> TransactionBatch:
    rng = np.random.default_rng(3)
    feats = rng.standard_normal((4, 30)) * 10.0 ** rng.integers(-8, 8, size=(4, 30))
    feats[:, 0] = [0.0, 406.0, 172792.0, 5.0]
    return TransactionBatch(
        ids=np.array([1, 2, 3, 2**40], dtype=np.int64),
        timestamps=iso_utc(np.array([0.0, 1.5, 1545134400.0, 1545134401.9])),
        users=np.array(['Kai', 'Ha"ns', "x,y", "Zoë"]),
        features=feats,
        labels=np.array([0, 1, -1, 0], dtype=np.int8),
    )


def test_delimited_round_trip_is_exact():
    batch = batch_with_awkward_strings()
    lines = encode_delimited(batch)
    assert len(lines) == 4
    assert lines[2].endswith(b",")  # unlabelled: empty Class, no quotes
    for i, line in enumerate(lines):
        rec = decode_delimited(line)
        assert list(rec) == COLUMNS
        assert rec["Id"] == batch.ids[i]
        assert rec["User"] == batch.users[i]
        assert rec["Timestamp"] == batch.timestamps[i]
        assert [rec[c] for c in COLUMNS[3:-1]] == batch.features[i].tolist()  # bit-exact
        assert rec["Class"] == {0: "0", 1: "1", -1: None}[int(batch.labels[i])]


def test_json_round_trip_is_exact():
    batch = batch_with_awkward_strings()
    for i, value in enumerate(encode_json(batch)):
        rec = decode_json(value)
        assert list(rec) == COLUMNS
        assert rec["Id"] == batch.ids[i] and rec["User"] == batch.users[i]
        assert [rec[c] for c in COLUMNS[3:-1]] == batch.features[i].tolist()
        assert rec["Class"] == {0: "0", 1: "1", -1: None}[int(batch.labels[i])]
    assert json.loads(encode_json(batch)[2])["Class"] is None


def test_timestamps_are_iso_utc_seconds_and_keys_are_ids():
    assert iso_utc(np.array([1545134400.7])).tolist() == ["2018-12-18T12:00:00Z"]
    batch = batch_with_awkward_strings()
    assert batch.keys() == ["1", "2", "3", str(2**40)]


def test_empty_batch():
    empty = TransactionBatch(np.array([], np.int64), np.array([], str), np.array([], str),
                             np.empty((0, 30)), np.array([], np.int8))
    assert encode_delimited(empty) == [] and encode_json(empty) == []
