"""Row values in the JSON shapes ksqlDB's REST API writes (see the wire reference, §1).

TIMESTAMP as `yyyy-MM-dd'T'HH:mm:ss.SSS` (UTC), DATE as `yyyy-MM-dd`, TIME as `HH:mm:ss.SSS`,
BYTES as base64, DECIMAL as a plain JSON number, STRUCT as an object keyed by field name.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct, SqlType

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_json(value: Any, sql_type: SqlType) -> Any:
    if value is None:
        return None
    base = sql_type.base
    if base == "TIMESTAMP":
        ts = EPOCH + timedelta(milliseconds=int(value))
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
    if base == "DATE":
        return (EPOCH + timedelta(days=int(value))).strftime("%Y-%m-%d")
    if base == "TIME":
        ms = int(value)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}" + (
            f".{ms % 1000:03d}" if ms % 1000 else "")
    if base == "BYTES":
        return base64.b64encode(value).decode()
    if base == "DECIMAL":
        return _RawNumber(value)
    if isinstance(sql_type, SqlArray):
        return [to_json(v, sql_type.item) for v in value]
    if isinstance(sql_type, SqlMap):
        return {str(k): to_json(v, sql_type.value) for k, v in value.items()}
    if isinstance(sql_type, SqlStruct):
        return {name: to_json(value.get(name), t) for name, t in sql_type.fields}
    return value


class _RawNumber:
    """A DECIMAL written as a plain JSON number with its scale (12.30, not 12.3 or 1.23E1)."""

    __slots__ = ("value",)

    def __init__(self, value: Decimal) -> None:
        self.value = value


class _Encoder(json.JSONEncoder):
    def default(self, o):  # pragma: no cover - only for unexpected types
        return str(o)


def dumps(obj: Any) -> str:
    """json.dumps that writes `_RawNumber` decimals verbatim and bare floats as Java does."""
    text = json.dumps(_mark(obj), separators=(",", ":"), cls=_Encoder, allow_nan=True)
    if _MARK not in text:
        return text
    return text.replace(f'"{_MARK}', "").replace(f'{_MARK}"', "")


_MARK = "~~ksqldec~~"


def _mark(obj: Any) -> Any:
    if isinstance(obj, _RawNumber):
        return f"{_MARK}{format(obj.value, 'f')}{_MARK}"
    if isinstance(obj, list):
        return [_mark(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _mark(v) for k, v in obj.items()}
    return obj


def row_to_json(row: list, types: list[SqlType]) -> list:
    return [to_json(v, t) for v, t in zip(row, types)]
