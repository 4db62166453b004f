"""From decoded input records to the model's feature matrix, and why a row cannot be scored.

Column names are matched case-insensitively (KSQL writes `TIME`, `V1`, `AMOUNT`; the
bundle may name `Time`, `Amount`). The mapping is worked out once per writer schema
(`Plan`), so the per-record work is one list comprehension and one `np.array` call for
the whole batch; rows that are not all finite are then explained one by one (rare).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fraudstream.scorer.errors import BadRecord

NUMERIC = {"int", "long", "float", "double"}
ID, USER, AMOUNT, CLASS, CITY = "ID", "USER", "AMOUNT", "CLASS", "CITY"


def _branch_types(avro_type: Any) -> list[str]:
    """Primitive type names of a field type (unions flattened, `null` dropped)."""
    if isinstance(avro_type, list):
        out: list[str] = []
        for t in avro_type:
            out.extend(_branch_types(t))
        return out
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in ("decimal",):
            return ["decimal"]
        return _branch_types(avro_type.get("type"))
    if avro_type == "null":
        return []
    return [str(avro_type)]


@dataclass
class Plan:
    """How to read one writer schema: actual field names for each role."""

    schema_id: int
    feature_fields: list[str | None]
    missing: list[str]
    non_numeric: dict[str, str]
    id_field: str | None
    user_field: str | None
    amount_field: str | None
    class_field: str | None
    city_field: str | None = None
    fast: bool = field(init=False)

    def __post_init__(self) -> None:
        self.fast = not self.missing and not self.non_numeric

    def schema_problem(self) -> BadRecord | None:
        """A reason shared by every record of this schema, or None."""
        if self.missing:
            return BadRecord("missing_feature", f"missing feature(s) {self.missing} in the record "
                                                f"(schema id {self.schema_id})")
        if self.id_field is None:
            return BadRecord("missing_id", f"the record has no ID field (schema id {self.schema_id})")
        return None


def make_plan(schema_id: int, raw_schema: dict, feature_names: Sequence[str]) -> Plan:
    fields = raw_schema.get("fields", []) if isinstance(raw_schema, dict) else []
    by_lower: dict[str, dict] = {}
    for f in fields:
        by_lower.setdefault(str(f["name"]).lower(), f)
    feature_fields: list[str | None] = []
    missing: list[str] = []
    non_numeric: dict[str, str] = {}
    for name in feature_names:
        f = by_lower.get(name.lower())
        if f is None:
            missing.append(name)
            feature_fields.append(None)
            continue
        feature_fields.append(f["name"])
        kinds = _branch_types(f["type"])
        if not kinds or any(k not in NUMERIC for k in kinds):
            non_numeric[f["name"]] = "|".join(kinds) or "null"

    def role(name: str) -> str | None:
        f = by_lower.get(name.lower())
        return None if f is None else f["name"]

    return Plan(schema_id, feature_fields, missing, non_numeric,
                role(ID), role(USER), role(AMOUNT), role(CLASS), role(CITY))


def parse_label(value: Any) -> int | None:
    """KSQL writes CLASS as a string, '-1' when unknown; the score carries 0, 1 or null."""
    if value is None:
        return None
    text = str(value).strip().strip('"').strip("'").strip()
    if text in ("", "-1"):
        return None
    if text in ("0", "1"):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if number in (0.0, 1.0):
        return int(number)
    if number == -1.0:
        return None
    raise BadRecord("bad_label", f"CLASS {value!r} is not 0, 1 or -1")


def _explain_row(plan: Plan, record: dict) -> BadRecord:
    for fname in plan.feature_fields:
        v = record.get(fname)
        if v is None:
            return BadRecord("null_feature", f"feature {fname} is null")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return BadRecord("non_numeric", f"feature {fname} is not numeric: {v!r}")
        if math.isnan(v):
            return BadRecord("nan_feature", f"feature {fname} is NaN")
        if math.isinf(v):
            return BadRecord("nan_feature", f"feature {fname} is infinite ({v})")
    return BadRecord("non_numeric", "a feature is not a finite number")


def _as_id(value: Any) -> int | BadRecord:
    """ID is a long in the scoring stream; a writer that declared it as text (e.g. a KSQL
    stream with `Id VARCHAR`) is accepted when the text is an integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return BadRecord("missing_id", f"ID is {'null' if value is None else repr(value)}, not a long")


@dataclass
class Batch:
    """The scorable rows of a batch (in input order) and the reasons for the others."""

    index: list[int]            # position of each good row in the input batch
    x: np.ndarray               # (n_good, n_features) float64, raw (unscaled)
    ids: list[int]
    users: list[str | None]
    amounts: list[float | None]
    labels: list[int | None]
    bad: dict[int, BadRecord]   # input position -> reason
    cities: list[str | None] = field(default_factory=list)


def extract(items: Sequence[tuple[Plan, dict] | BadRecord], n_features: int) -> Batch:
    """Build the feature matrix of a batch of (plan, record) pairs.

    Input positions whose item is already a `BadRecord` (did not decode) stay bad.
    """
    bad: dict[int, BadRecord] = {}
    cand: list[int] = []
    rows: list[list[Any]] = []
    for i, item in enumerate(items):
        if isinstance(item, BadRecord):
            bad[i] = item
            continue
        plan, rec = item
        problem = plan.schema_problem()
        if problem is not None:
            bad[i] = problem
            continue
        if not plan.fast:
            # A writer schema with non-numeric feature types: check each value (slow path).
            ok = True
            for fname in plan.feature_fields:
                v = rec.get(fname)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    bad[i] = BadRecord("non_numeric", f"feature {fname} is not numeric: {v!r}")
                    ok = False
                    break
            if not ok:
                continue
        cand.append(i)
        rows.append([rec.get(f) for f in plan.feature_fields])
    if rows:
        x = np.array(rows, dtype=np.float64)  # None -> nan
        finite = np.isfinite(x).all(axis=1)
    else:
        x = np.empty((0, n_features), dtype=np.float64)
        finite = np.empty(0, dtype=bool)
    if x.shape[1] != n_features:
        raise ValueError(f"feature matrix has {x.shape[1]} columns, the model needs {n_features}")
    index: list[int] = []
    keep: list[int] = []
    ids: list[int] = []
    users: list[str | None] = []
    amounts: list[float | None] = []
    labels: list[int | None] = []
    cities: list[str | None] = []
    for row, i in enumerate(cand):
        plan, rec = items[i]  # type: ignore[misc]
        if not finite[row]:
            bad[i] = _explain_row(plan, rec)
            continue
        rid = _as_id(rec.get(plan.id_field))
        if isinstance(rid, BadRecord):
            bad[i] = rid
            continue
        try:
            label = parse_label(rec.get(plan.class_field)) if plan.class_field else None
        except BadRecord as exc:
            bad[i] = exc
            continue
        amount = rec.get(plan.amount_field) if plan.amount_field else None
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float))):
            bad[i] = BadRecord("non_numeric", f"AMOUNT is not numeric: {amount!r}")
            continue
        user = rec.get(plan.user_field) if plan.user_field else None
        city = rec.get(plan.city_field) if plan.city_field else None
        index.append(i)
        keep.append(row)
        ids.append(rid)
        users.append(None if user is None else str(user))
        amounts.append(None if amount is None else float(amount))
        labels.append(label)
        cities.append(None if city is None else str(city))
    if len(keep) != len(cand):
        x = x[keep]
    return Batch(index, x, ids, users, amounts, labels, bad, cities)
