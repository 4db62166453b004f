"""Transaction records in the extended layout, encoded in bulk.

Every source (CSV replay, synthetic) ends up as a `TransactionBatch` of NumPy columns;
the encoders turn a whole batch into Kafka values at once:

* `delimited`: one CSV line per record, `Id,Timestamp,User,Time,V1..V28,Amount,Class`,
  strings quoted (`"` doubled) and numbers bare exactly as in creditcard_extended.csv,
  an empty Class for unlabelled events — what `ksql/01_source.ksql`
  (`VALUE_FORMAT='DELIMITED'`) reads;
* `json`: one object per record with the same column names; Class is a string or null,
  as in the DELIMITED stream.

Both are built column-wise with Arrow compute (numbers cast to text in C++, then an
element-wise string join), about 3 us per record; a Python `csv.writer` / `json.dumps`
loop is 4-5x slower, Arrow's CSV writer plus splitting its output into lines is slower
too, and pandas' `to_json` rounds floats to 15 digits.

Numbers are printed in their shortest round-trip form, so a consumer parsing them gets
the very float64 the producer had.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fraudstream.producers.calibration import FEATURES
from fraudstream.producers.defaults import TRANSACTION_FORMATS

COLUMNS = ["Id", "Timestamp", "User", *FEATURES, "Class"]
FORMATS = TRANSACTION_FORMATS
UNLABELLED = -1
_CLASS_DELIMITED = pa.array(['"0"', '"1"', ""])  # index 2 = unlabelled: empty, unquoted
_CLASS_JSON = pa.array(['"0"', '"1"', "null"])


@dataclass
class TransactionBatch:
    """`n` records as columns. `labels`: 0, 1, or -1 for an unlabelled (live) event."""

    ids: np.ndarray  # int64
    timestamps: np.ndarray  # str, ISO-8601 UTC
    users: np.ndarray  # str
    features: np.ndarray  # (n, 30) float64 in FEATURES order
    labels: np.ndarray  # int8

    def __len__(self) -> int:
        return len(self.ids)

    def keys(self) -> list[str]:
        """Kafka keys: the Id as text (UTF-8 on the wire), for partitioning."""
        return pc.cast(pa.array(self.ids, pa.int64()), pa.string()).to_pylist()

    def _class_index(self) -> np.ndarray:
        return np.where(self.labels == UNLABELLED, 2, self.labels).astype(np.int8)


def iso_utc(epoch_seconds: np.ndarray | float) -> np.ndarray:
    """ISO-8601 UTC at second resolution, as in creditcard_extended.csv (`…T12:00:00Z`)."""
    secs = np.floor(np.atleast_1d(np.asarray(epoch_seconds, dtype=np.float64))).astype("datetime64[s]")
    return np.datetime_as_string(secs, unit="s", timezone="UTC")


def _string_literals(values: np.ndarray, quote) -> pa.Array:
    """Quoted literals for a column with few distinct values (users, timestamps)."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return pa.array([quote(str(u)) for u in uniq]).take(pa.array(inverse.ravel()))


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _numbers(features: np.ndarray) -> list[pa.Array]:
    """Shortest round-trip text of every float64 (Arrow's C++ formatter), per column.

    One cast over all columns at once, then zero-copy slices: one trip out of the GIL
    instead of thirty, which matters while the main thread is busy producing.
    """
    n, k = features.shape
    text = pc.cast(pa.array(np.asarray(features).ravel(order="F")), pa.string())
    return [text.slice(j * n, n) for j in range(k)]


def encode_delimited(batch: TransactionBatch) -> list[bytes]:
    if len(batch) == 0:
        return []
    parts = [pc.cast(pa.array(batch.ids, pa.int64()), pa.string()),
             _string_literals(batch.timestamps, _csv_quote),
             _string_literals(batch.users, _csv_quote)]
    parts += _numbers(batch.features)
    parts.append(_CLASS_DELIMITED.take(pa.array(batch._class_index())))
    joined = pc.binary_join_element_wise(*parts, ",")
    return pc.cast(joined, pa.binary()).to_pylist()


def encode_json(batch: TransactionBatch) -> list[bytes]:
    if len(batch) == 0:
        return []
    numbers = _numbers(batch.features)
    parts: list = [pa.scalar('{"Id":'), pc.cast(pa.array(batch.ids, pa.int64()), pa.string()),
                   pa.scalar(',"Timestamp":'), _string_literals(batch.timestamps, json.dumps),
                   pa.scalar(',"User":'), _string_literals(batch.users, json.dumps)]
    for j, name in enumerate(FEATURES):
        parts.append(pa.scalar(f',"{name}":'))
        parts.append(numbers[j])
    parts += [pa.scalar(',"Class":'), _CLASS_JSON.take(pa.array(batch._class_index())),
              pa.scalar("}")]
    joined = pc.binary_join_element_wise(*parts, "")
    return pc.cast(joined, pa.binary()).to_pylist()


ENCODERS = {"delimited": encode_delimited, "json": encode_json}


def decode_delimited(line: bytes) -> dict:
    """One delimited value back into a record (tests, tools; not on the hot path)."""
    import csv

    row = next(csv.reader([line.decode("utf-8")]))
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} fields, got {len(row)}")
    out: dict = {"Id": int(row[0]), "Timestamp": row[1], "User": row[2]}
    for name, text in zip(FEATURES, row[3:-1]):
        out[name] = float(text)
    out["Class"] = row[-1] if row[-1] != "" else None
    return out


def decode_json(value: bytes) -> dict:
    return json.loads(value)
