"""Where transactions come from: a CSV file (two layouts, sniffed) or the generator.

Every source yields `SourceBatch`es of NumPy columns. CSV files are read in chunks of
lines: a chunk is parsed by Arrow's CSV reader (C++, ~2 us per row) and only a chunk
that fails there (wrong column count, a non-number, an empty or non-finite value, a
label other than 0/1/empty, bad UTF-8) is re-read line by line with the standard
`csv` module to name each bad row's line and reason. So good files go at Arrow speed
and bad rows are still reported exactly.

Layouts (see producers/README.md):
* Kaggle: header `Time,V1..V28,Amount,Class` (quoted or not), as `creditcard.csv`;
* extended: `Id,Timestamp,User,Time,V1..V28,Amount,Class`, usually without header, as
  creditcard_extended.csv; its Id, Timestamp and User are replayed as they are.
A record must fit on one line (no quoted line breaks), which holds for both layouts.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from fraudstream.producers.calibration import FEATURES
from fraudstream.producers.errors import BadRowError, SourceError
from fraudstream.producers.records import UNLABELLED
from fraudstream.producers.synthetic import TransactionGenerator

KAGGLE_COLUMNS = [*FEATURES, "Class"]
EXTENDED_COLUMNS = ["Id", "Timestamp", "User", *FEATURES, "Class"]
SNIFF_LINES = 50
CHUNK_LINES = 8192


@dataclass
class SourceBatch:
    features: np.ndarray  # (n, 30) float64, FEATURES order
    labels: np.ndarray  # int8: 0, 1, -1 (no label)
    ids: np.ndarray | None = None  # extended layout only
    timestamps: np.ndarray | None = None
    users: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> "SourceBatch":
        cut = (lambda a: None if a is None else a[:n])
        return SourceBatch(self.features[:n], self.labels[:n], cut(self.ids),
                           cut(self.timestamps), cut(self.users))


@dataclass(frozen=True)
class BadRow:
    path: str
    line: int
    reason: str
    raw: bytes

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class SyntheticSource:
    """Endless batches from `TransactionGenerator` (fixed batch size: same seed, same rows)."""

    batch_size = 4096
    name = "synthetic"
    layout = "synthetic"

    def __init__(self, seed: int, fraud_rate: float) -> None:
        self.generator = TransactionGenerator(seed=seed, fraud_rate=fraud_rate)

    def batches(self) -> Iterator[SourceBatch]:
        while True:
            features, labels = self.generator.sample_arrays(self.batch_size)
            yield SourceBatch(features, labels)


def _normalise(field: str) -> str:
    return field.strip().strip('"').strip().lower()


class CsvSource:
    """Replays a CSV file once; bad rows go to `on_bad_row` (or raise when `strict`)."""

    def __init__(self, path: str | Path, *, strict: bool = False,
                 on_bad_row: Callable[[BadRow], None] | None = None,
                 chunk_lines: int = CHUNK_LINES) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.strict = strict
        self.on_bad_row = on_bad_row or (lambda bad: None)
        self.chunk_lines = chunk_lines
        self.rows = 0
        self.bad_rows = 0
        try:
            with self.path.open("rb") as f:
                head = list(itertools.islice(f, SNIFF_LINES))
        except OSError as exc:
            raise SourceError(f"{self.name}: cannot read: {exc.strerror or exc}") from None
        self.layout, self.header_lines = self._sniff(head)
        self.columns = KAGGLE_COLUMNS if self.layout == "kaggle" else EXTENDED_COLUMNS

    # -- layout -------------------------------------------------------------------------
    def _sniff(self, head: list[bytes]) -> tuple[str, int]:
        # Undecodable bytes only matter in the rows themselves (reported per line there);
        # a binary file ends up as "unknown layout" below.
        texts = [raw.decode("utf-8-sig" if i == 0 else "utf-8", errors="replace")
                 for i, raw in enumerate(head)]
        first = next(((i, t) for i, t in enumerate(texts) if t.strip()), None)
        if first is None:
            raise SourceError(f"{self.name}: empty file, no transactions to produce")
        index, text = first
        fields = [_normalise(f) for f in _split(text)]
        header = None
        if fields == [c.lower() for c in KAGGLE_COLUMNS]:
            header = "kaggle"
        elif fields == [c.lower() for c in EXTENDED_COLUMNS]:
            header = "extended"
        if header is not None:
            whole_file = len(head) < SNIFF_LINES
            if whole_file and not any(t.strip() for t in texts[index + 1:]):
                # found before any broker is contacted
                raise SourceError(f"{self.name}: no transactions in the file (only a header)")
            return header, index + 1
        counts = [len(_split(t)) for t in texts if t.strip()]
        most = max(set(counts), key=counts.count)
        if most == len(EXTENDED_COLUMNS):
            return "extended", 0
        if most == len(KAGGLE_COLUMNS) and fields and _is_number(fields[0]):
            return "kaggle", 0
        raise SourceError(
            f"{self.name}:{index + 1}: unknown layout: expected the Kaggle header "
            f"Time,V1..V28,Amount,Class or {len(EXTENDED_COLUMNS)} columns "
            f"Id,Timestamp,User,Time,V1..V28,Amount,Class; found {len(fields)} columns"
        )

    # -- reading ------------------------------------------------------------------------
    def batches(self) -> Iterator[SourceBatch]:
        try:
            f = self.path.open("rb")
        except OSError as exc:
            raise SourceError(f"{self.name}: cannot read: {exc.strerror or exc}") from None
        with f:
            line_no = 0
            for _ in range(self.header_lines):
                f.readline()
                line_no += 1
            while True:
                try:
                    lines = list(itertools.islice(f, self.chunk_lines))
                except OSError as exc:
                    raise SourceError(f"{self.name}:{line_no + 1}: read failed: {exc.strerror or exc}") from None
                if not lines:
                    break
                batch = self._fast(lines)
                if batch is None:
                    batch = self._slow(lines, line_no + 1)
                line_no += len(lines)
                self.rows += len(batch)
                if len(batch):
                    yield batch
        if self.rows == 0 and self.bad_rows == 0:
            raise SourceError(f"{self.name}: no transactions in the file (only a header or blank lines)")

    def _fast(self, lines: list[bytes]) -> SourceBatch | None:
        """Whole chunk through Arrow; None when anything in it needs a closer look."""
        names = self.columns
        types = {c: pa.float64() for c in FEATURES}
        types["Class"] = pa.string()
        if self.layout == "extended":
            types.update(Id=pa.int64(), Timestamp=pa.string(), User=pa.string())
        try:
            table = pacsv.read_csv(
                io.BytesIO(b"".join(lines)),
                read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
                convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                     strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, pa.ArrowException):
            return None
        if table.num_rows != sum(1 for line in lines if line.strip()):
            return None
        if any(table.column(c).null_count for c in names):
            return None
        features = np.column_stack([table.column(c).to_numpy() for c in FEATURES])
        if not np.isfinite(features).all():
            return None
        label_text = table.column("Class").to_numpy(zero_copy_only=False).astype(str)
        labels = np.full(len(label_text), UNLABELLED, dtype=np.int8)
        labels[label_text == "0"] = 0
        labels[label_text == "1"] = 1
        if not np.isin(label_text, ["0", "1", ""]).all():
            return None
        batch = SourceBatch(features, labels)
        if self.layout == "extended":
            batch.ids = table.column("Id").to_numpy()
            batch.timestamps = table.column("Timestamp").to_numpy(zero_copy_only=False).astype(str)
            batch.users = table.column("User").to_numpy(zero_copy_only=False).astype(str)
        return batch

    def _slow(self, lines: list[bytes], first_line: int) -> SourceBatch:
        """Line by line: keep good rows, report each bad one with its line and reason."""
        feats, labels, ids, stamps, users = [], [], [], [], []
        for offset, raw in enumerate(lines):
            line = first_line + offset
            reason, row = self._parse(raw)
            if reason is None and row is None:
                continue  # blank line: no record, nothing skipped
            if reason is not None:
                self._bad(BadRow(self.name, line, reason, raw.rstrip(b"\r\n")))
                continue
            values, label, meta = row
            feats.append(values)
            labels.append(label)
            if meta is not None:
                ids.append(meta[0])
                stamps.append(meta[1])
                users.append(meta[2])
        batch = SourceBatch(np.array(feats, dtype=np.float64).reshape(-1, len(FEATURES)),
                            np.array(labels, dtype=np.int8))
        if self.layout == "extended":
            batch.ids = np.array(ids, dtype=np.int64)
            batch.timestamps = np.array(stamps, dtype=str)
            batch.users = np.array(users, dtype=str)
        return batch

    def _bad(self, bad: BadRow) -> None:
        self.bad_rows += 1
        if self.strict:
            raise BadRowError(bad.path, bad.line, bad.reason)
        self.on_bad_row(bad)

    def _parse(self, raw: bytes):
        """(reason, None) for a bad row, (None, row) for a good one, (None, None) if blank."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"not UTF-8 text (byte {exc.start + 1})", None
        if not text.strip():
            return None, None
        try:
            fields = next(csv.reader([text]))
        except csv.Error as exc:
            return f"malformed CSV: {exc}", None
        if len(fields) != len(self.columns):
            return (f"wrong column count: expected {len(self.columns)} "
                    f"({self.columns[0]}..{self.columns[-1]}), found {len(fields)}"), None
        meta = None
        if self.layout == "extended":
            id_text = fields[0].strip()
            try:
                record_id = int(id_text)
            except ValueError:
                return f"column Id: not an integer: {id_text!r}", None
            meta = (record_id, fields[1], fields[2])
            fields = fields[3:]
        values = []
        for name, text_value in zip(FEATURES, fields):
            value_text = text_value.strip()
            if not value_text:
                return f"column {name}: empty value", None
            try:
                value = float(value_text)
            except ValueError:
                return f"column {name}: not a number: {value_text!r}", None
            if not math.isfinite(value):
                return f"column {name}: not a finite number: {value_text!r}", None
            values.append(value)
        label_text = fields[-1].strip()
        if label_text == "":
            label = UNLABELLED
        else:
            try:
                label_value = float(label_text)
            except ValueError:
                label_value = math.nan
            if label_value not in (0.0, 1.0):
                return f"column Class: expected 0, 1 or empty, found {label_text!r}", None
            label = int(label_value)
        return None, (values, label, meta)


def _split(text: str) -> list[str]:
    """Fields of one line for sniffing; a line that is not CSV at all has no fields."""
    try:
        return next(csv.reader([text.rstrip("\r\n")]), [])
    except csv.Error:
        return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
