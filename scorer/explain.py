"""Why an event scored high: the features contributing most to its reconstruction error.

The score is the mean of the event's per-feature squared reconstruction errors
(standardised units), so each feature's share of the row's total squared error is an
exact decomposition of the score: shares of all features sum to 1, the top k to at most
1. The scorer already has those errors for the score; the top k come from k row-wise
`argmax` passes over the batch (about 0.2 us per event for k = 3 of 30 features).

A row whose total error is 0 or not finite has no meaningful split and gets an empty
explanation rather than made-up shares.

`AvroTail` writes the `EXPLANATION` field's Avro bytes for a whole batch (the field is
the last of `fraud_score.avsc`, so they are appended to what fastavro writes for the
other fields: `core.avro_wire.WireEncoder(raw_tail=...)`). Hand-written because letting
fastavro encode an array of three `{FEATURE, SHARE}` records per score, built as Python
dicts, added 22 % to the scoring processor's CPU per event (bench/scorer_throughput.py,
"processor CPU per event"; about 0.5 us per event this way). The encoding is Avro's,
written by its specification: a block count as a zig-zag varint, each item's string as
varint length + UTF-8 and its double as 8 little-endian bytes, a zero count to end.
A test compares the bytes with fastavro's encoding of the same records.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOP_K = 3
EMPTY_ARRAY = b"\x00"  # Avro's encoding of an empty array: the zero count alone


def top_contributions(errors: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature indices (n, k) largest first, shares (n, k), valid rows (n,)) of squared
    errors `errors` (n, features). Shares are error / row total; a row is valid when its
    total is finite and > 0. Ties go to the feature that comes first. k passes of a
    row-wise argmax (each masking what it found): faster than a partition or a sort for
    a handful of columns out of 30."""
    n, width = errors.shape
    k = min(k, width)
    if n == 0 or k == 0:
        return np.empty((n, k), dtype=np.intp), np.empty((n, k)), np.zeros(n, dtype=bool)
    total = errors.sum(axis=1)
    work = np.array(errors, dtype=np.float64)
    rows = np.arange(n)
    top = np.empty((n, k), dtype=np.intp)
    vals = np.empty((n, k))
    for j in range(k):
        i = work.argmax(axis=1)
        top[:, j] = i
        vals[:, j] = work[rows, i]
        work[rows, i] = -np.inf
    valid = np.isfinite(total) & (total > 0)
    safe = np.where(valid, total, 1.0)
    return top, vals / safe[:, None], valid


def as_records(top: np.ndarray, shares: np.ndarray, valid: np.ndarray,
               names: Sequence[str]) -> list[list[dict]]:
    """The Avro `EXPLANATION` value of each row: [{FEATURE, SHARE}, ...] largest first."""
    names = list(names)
    out: list[list[dict]] = []
    append = out.append
    for idx, sh, ok in zip(top.tolist(), shares.tolist(), valid.tolist()):
        append([{"FEATURE": names[i], "SHARE": s} for i, s in zip(idx, sh)] if ok else [])
    return out


def _zigzag_varint(n: int) -> bytes:
    """Avro's encoding of a long: zig-zag, then base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


class AvroTail:
    """The Avro bytes of an `array<{FEATURE: string, SHARE: double}>` value, per row.

    Built for the whole batch with NumPy: each row is laid out padded (count, then per
    item the feature's pre-encoded name in a fixed-width slot and the 8 bytes of its
    share, then the terminator), a mask drops the padding, and the rows are cut from
    the one resulting buffer as memoryviews (no per-row bytes objects)."""

    def __init__(self, names: Sequence[str]) -> None:
        encoded = [_zigzag_varint(len(b)) + b for b in (str(n).encode("utf-8") for n in names)]
        self.width = max((len(b) for b in encoded), default=0)
        self._names = np.zeros((len(encoded), self.width), dtype=np.uint8)
        self._lens = np.array([len(b) for b in encoded], dtype=np.intp)
        for i, b in enumerate(encoded):
            self._names[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
        self._name_mask = np.arange(self.width)[None, :] < self._lens[:, None]

    def encode(self, top: np.ndarray, shares: np.ndarray, valid: np.ndarray) -> list:
        """One bytes-like value per row (an empty array for rows that are not valid)."""
        n, k = top.shape
        if n == 0:
            return []
        slot = self.width + 8
        row = 2 + k * slot
        pad = np.zeros((n, row), dtype=np.uint8)
        keep = np.zeros((n, row), dtype=bool)
        count = _zigzag_varint(k)  # one byte for any k < 64
        pad[:, 0] = count[0]
        keep[:, 0] = True
        doubles = np.ascontiguousarray(shares, dtype="<f8").view(np.uint8).reshape(n, k, 8)
        for j in range(k):
            o = 1 + j * slot
            pad[:, o:o + self.width] = self._names[top[:, j]]
            keep[:, o:o + self.width] = self._name_mask[top[:, j]]
            pad[:, o + self.width:o + slot] = doubles[:, j]
            keep[:, o + self.width:o + slot] = True
        invalid = ~np.asarray(valid, dtype=bool)
        if k == 0 or invalid.any():
            keep[invalid | (k == 0)] = False  # an empty array: the terminator alone
        keep[:, row - 1] = True  # the terminating zero count
        data = memoryview(pad[keep].tobytes())
        lengths = keep.sum(axis=1)
        ends = np.cumsum(lengths)
        return [data[a:b] for a, b in zip((ends - lengths).tolist(), ends.tolist())]
