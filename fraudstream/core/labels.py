"""Late labels: what one verdict on one scored event is, and how a CSV file of them reads.

A fraud team learns whether an event was fraud days after it was scored: a chargeback
arrives, an analyst reviews the alert, or (in the demo) the dataset's own Class is
replayed late. Each such verdict is one `Label`, written to the `fraud_labels` topic
(schema `fraud_label.avsc`) by `fraudstream.clients.labels`, the one writer the
`fraudstream label` command, the producers and later the browser console share.

Design points other code relies on:

* **Key = the event ID as text**, exactly like `fraud_scores`' key. All verdicts on one
  event land in one partition, in order, so "the latest verdict wins" is well defined
  and a writer that wants exactly one verdict per (event, action) can read that
  partition before writing (the console's concern; the key makes it possible).
* **Every verdict is an event.** A second label for the same ID is not an error: it
  supersedes the first (the KSQL table `fraud_verdicts` keeps the latest and counts the
  duplicates; the monitor does the same).
* **Record timestamp = when the label is written**, LABELLED_AT = when the verdict was
  made (they differ for a chargeback export with past dates). The KSQL join with
  `fraud_scores` matches record timestamps, so the label horizon (7 days) is measured
  from the event to the label's *arrival*; a backdated label is never discarded as "late"
  by the join's grace period for being dated in the past.

Nothing here talks to Kafka: parsing and validation are pure so the CLI can check a whole
file before anything starts.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fraudstream.core.errors import InputError

FRAUD, LEGIT = 1, 0
#: Sources the pipeline itself writes; others are accepted (a team's own systems).
KNOWN_SOURCES = ("analyst", "chargeback", "dataset")
_SOURCE_RE = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
_VERDICTS = {"1": FRAUD, "fraud": FRAUD, "true": FRAUD, "yes": FRAUD,
             "0": LEGIT, "legit": LEGIT, "legitimate": LEGIT, "genuine": LEGIT, "false": LEGIT, "no": LEGIT}
MAX_NOTE = 1000
MAX_BY = 100
ID_MAX = 2**63 - 1


class LabelError(InputError):
    """A label or a labels file cannot be used."""


@dataclass(frozen=True)
class Label:
    """One verdict: event `id` is fraud (1) or legitimate (0), said by `source` at
    `labelled_at_ms` (epoch milliseconds)."""

    id: int
    label: int
    source: str
    labelled_at_ms: int
    note: str | None = None
    given_by: str | None = None  # the analyst (console login, `fraudstream label --by`)

    def __post_init__(self) -> None:
        problem = check(self)
        if problem:
            raise LabelError(problem)

    @property
    def key(self) -> bytes:
        """The Kafka key: the event ID as text, as `fraud_scores` keys its records."""
        return str(self.id).encode("ascii")

    def to_record(self) -> dict:
        """The Avro record of `fraud_label.avsc` (LABELLED_AT as epoch millis)."""
        return {"ID": self.id, "LABEL": self.label, "SOURCE": self.source,
                "LABELLED_AT": self.labelled_at_ms, "NOTE": self.note, "GIVEN_BY": self.given_by}

    @classmethod
    def from_record(cls, rec: dict) -> "Label":
        at = rec["LABELLED_AT"]
        ms = int(at.timestamp() * 1000) if hasattr(at, "timestamp") else int(at)
        return cls(int(rec["ID"]), int(rec["LABEL"]), str(rec["SOURCE"]), ms, rec.get("NOTE"), rec.get("GIVEN_BY"))


def check(label: Label) -> str | None:
    """Why `label` cannot be written, or None."""
    if isinstance(label.id, bool) or not isinstance(label.id, int) or not 0 <= label.id <= ID_MAX:
        return f"ID {label.id!r} is not a non-negative 64-bit integer"
    if label.label not in (FRAUD, LEGIT) or isinstance(label.label, bool):
        return f"LABEL {label.label!r} is not 1 (fraud) or 0 (legitimate)"
    if not isinstance(label.source, str) or not _SOURCE_RE.fullmatch(label.source):
        return (f"SOURCE {label.source!r} must be 1-40 lower-case letters, digits, '_', '.' or '-', "
                f"starting with a letter (e.g. {', '.join(KNOWN_SOURCES)})")
    if not isinstance(label.labelled_at_ms, int) or label.labelled_at_ms < 0:
        return f"LABELLED_AT {label.labelled_at_ms!r} is not epoch milliseconds >= 0"
    if label.note is not None and (not isinstance(label.note, str) or len(label.note) > MAX_NOTE):
        return f"NOTE is longer than {MAX_NOTE} characters"
    if label.given_by is not None and (not isinstance(label.given_by, str) or not 0 < len(label.given_by) <= MAX_BY):
        return f"GIVEN_BY must be 1-{MAX_BY} characters"
    return None


def now_ms() -> int:
    return int(time.time() * 1000)


def verdict(text: str) -> int:
    """1 or 0 from the words a chargeback export or an analyst uses."""
    v = _VERDICTS.get(str(text).strip().lower())
    if v is None:
        raise LabelError(f"label {text!r} is not fraud/legit (1/0, fraud/legit, true/false, yes/no)")
    return v


def parse_time(text: str) -> int:
    """Epoch milliseconds from ISO-8601 (a date, or date and time; UTC unless an offset
    is given) or from a number of epoch milliseconds."""
    s = str(text).strip()
    if re.fullmatch(r"\d{10,}", s):
        return int(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise LabelError(f"time {text!r} is neither ISO-8601 (2024-05-01T12:00:00Z) nor epoch milliseconds") \
            from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    ms = int(dt.timestamp() * 1000)
    if ms < 0:
        raise LabelError(f"time {text!r} is before 1970")
    return ms


def parse_id(text: str) -> int:
    s = str(text).strip()
    if not re.fullmatch(r"\d{1,19}", s) or int(s) > ID_MAX:
        raise LabelError(f"ID {text!r} is not a non-negative 64-bit integer")
    return int(s)


# ---- CSV files ------------------------------------------------------------------------------

#: Column names of a labels file (header required, any order, case-insensitive).
CSV_REQUIRED = ("id", "label")
CSV_OPTIONAL = ("source", "labelled_at", "note")
_ALIASES = {"labeled_at": "labelled_at", "class": "label", "verdict": "label", "event_id": "id"}


@dataclass(frozen=True)
class BadLabelRow:
    path: str
    line: int
    reason: str
    raw: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class LabelFile:
    """The labels of a CSV file, the rows that could not be read, and repeated IDs."""

    path: str
    labels: list[Label] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line of each label
    bad: list[BadLabelRow] = field(default_factory=list)
    repeated: int = 0  # rows whose ID an earlier row of the file already labelled

    @property
    def rows(self) -> int:
        return len(self.labels) + len(self.bad)


def read_csv(path: str | Path, *, default_source: str = "chargeback", now: int | None = None) -> LabelFile:
    """Read a labels file completely (before anything is written).

    Header (required): `id,label` plus optional `source`, `labelled_at`, `note`, in any
    order. `label` takes 1/0, fraud/legit, true/false, yes/no; `labelled_at` ISO-8601 or
    epoch ms (default: now); `source` defaults to `default_source`. A file that cannot be
    used at all raises `LabelError`; a bad row is kept in `.bad` with its line and reason.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise LabelError(f"{name}: no such file")
    if not p.is_file():
        raise LabelError(f"{name}: not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise LabelError(f"{name}: cannot read: {exc.strerror}") from None
    out = LabelFile(name)
    stamp = now_ms() if now is None else now
    rows = _rows(text)
    try:
        header_line, header = next(rows)
    except StopIteration:
        raise LabelError(f"{name}: empty file (expected a header line id,label[,source,labelled_at,note])") \
            from None
    cols = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in CSV_REQUIRED if c not in cols]
    unknown = [h for h, c in zip(header, cols) if c not in CSV_REQUIRED + CSV_OPTIONAL]
    if missing or unknown or len(set(cols)) != len(cols):
        why = []
        if missing:
            why.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            why.append(f"unknown column(s) {', '.join(unknown)}")
        if len(set(cols)) != len(cols):
            why.append("a column appears twice")
        raise LabelError(f"{name}:{header_line}: header {','.join(header)!r}: {'; '.join(why)} "
                         f"(expected id,label and optionally source,labelled_at,note)")
    seen: set[int] = set()
    for line, row in rows:
        raw = ",".join(row)
        if len(row) != len(cols):
            out.bad.append(BadLabelRow(name, line, f"{len(row)} field(s), the header has {len(cols)}", raw))
            continue
        rec = dict(zip(cols, row))
        try:
            ident = parse_id(rec["id"])
            value = verdict(rec["label"])
            source = rec.get("source", "").strip().lower() or default_source
            at = parse_time(rec["labelled_at"]) if rec.get("labelled_at", "").strip() else stamp
            note = rec.get("note", "").strip() or None
            label = Label(ident, value, source, at, note)
        except LabelError as exc:
            out.bad.append(BadLabelRow(name, line, str(exc), raw))
            continue
        if ident in seen:
            out.repeated += 1
        seen.add(ident)
        out.labels.append(label)
        out.lines.append(line)
    if not out.labels and not out.bad:
        raise LabelError(f"{name}: no label rows after the header")
    return out


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the non-blank lines; a quoted field may not span lines."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        yield number, next(csv.reader([line]))
