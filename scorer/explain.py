"""Why an event scored high: the features contributing most to its reconstruction error.

The score is the mean of the event's per-feature squared reconstruction errors
(standardised units), so each feature's share of the row's total squared error is an
exact decomposition of the score: shares of all features sum to 1, the top k to at most
1. The scorer already has those errors for the score; the top k come from one
`argpartition` over the batch (O(n * features)) and a sort of k values per row, which
is negligible next to the forward pass and the Avro encoding (bench/scorer_throughput.py
measures the scorer with and without it in one run).

A row whose total error is 0 or not finite has no meaningful split and gets an empty
explanation rather than made-up shares.

`AvroTail` writes the `EXPLANATION` field's Avro bytes for a whole batch (the field is
the last of `fraud_score.avsc`, so they are appended to what fastavro writes for the
other fields: `core.avro_wire.WireEncoder(raw_tail=...)`). Hand-written because letting
fastavro encode an array of three `{FEATURE, SHARE}` records per score, built as Python
dicts, cost 22 % of the scorer's CPU per event (bench/scorer_throughput.py, "processor
CPU per event"); the encoding is Avro's, written by its specification: a block count as
a zig-zag varint, each item's string as varint length + UTF-8 and its double as 8
little-endian bytes, a zero count to end. Tests decode the bytes with fastavro.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOP_K = 3


def top_contributions(errors: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature indices (n, k) largest first, shares (n, k), valid rows (n,)) of squared
    errors `errors` (n, features). Shares are error / row total; a row is valid when its
    total is finite and > 0."""
    n, width = errors.shape
    k = min(k, width)
    if n == 0 or k == 0:
        return np.empty((n, k), dtype=np.intp), np.empty((n, k)), np.zeros(n, dtype=bool)
    total = errors.sum(axis=1)
    top = np.argpartition(errors, width - k, axis=1)[:, width - k:]
    vals = np.take_along_axis(errors, top, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
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
    """The Avro bytes of an `array<{FEATURE: string, SHARE: double}>` value, per row."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = [_zigzag_varint(len(b)) + b for b in (str(n).encode("utf-8") for n in names)]
        self._counts = {}
        self.empty = _zigzag_varint(0)

    def encode(self, top: np.ndarray, shares: np.ndarray, valid: np.ndarray) -> list[bytes]:
        n, k = top.shape
        if n == 0:
            return []
        count = self._counts.get(k)
        if count is None:
            count = self._counts[k] = _zigzag_varint(k)
        doubles = np.ascontiguousarray(shares, dtype="<f8").tobytes()
        names = self._names
        empty = self.empty
        out: list[bytes] = []
        append = out.append
        for r, (idx, ok) in enumerate(zip(top.tolist(), valid.tolist())):
            if not ok or k == 0:
                append(empty)
                continue
            base = r * k * 8
            parts = [count]
            for j, i in enumerate(idx):
                parts.append(names[i])
                parts.append(doubles[base + 8 * j: base + 8 * j + 8])
            parts.append(empty)
            append(b"".join(parts))
        return out
