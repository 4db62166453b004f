"""The JSON format.

Values are objects keyed by column name, or a bare JSON value when a single column is
unwrapped (`WRAP_SINGLE_VALUE=false`; single key columns are always unwrapped). Object
keys are matched to columns exactly first, then case-insensitively, as ksqlDB does.
Output is written by encoders generated per type so DECIMAL keeps its scale as a plain
JSON number, NaN/Infinity become strings (Jackson's default) and BYTES become base64.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.errors import SerdeError
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.serde.base import ValueBackedKeySerde, ValueSerde
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct, SqlType
from fraudstream.embedded.ksqldb.expr.values import coerce, decimal_str, java_double_str

Encoder = Callable[[Any], str]


def _double(v: float) -> str:
    if v != v:
        return '"NaN"'
    if v == math.inf:
        return '"Infinity"'
    if v == -math.inf:
        return '"-Infinity"'
    # Jackson writes doubles as Java's Double.toString does (9.22337203692E11, 1.0E-4)
    return java_double_str(float(v))


def value_encoder(t: SqlType, map_entries: bool = False) -> Encoder:
    """JSON text for a non-null value of type `t` (callers handle NULL). `map_entries`:
    maps as arrays of `{"key": k, "value": v}` objects (JSON_SR, see serde/json_schema.py)."""
    base = t.base
    if base == "STRING":
        return encode_basestring
    if base in ("INTEGER", "BIGINT", "TIMESTAMP", "DATE", "TIME"):
        return str
    if base == "DOUBLE":
        return _double
    if base == "BOOLEAN":
        return lambda v: "true" if v else "false"
    if base == "DECIMAL":
        return decimal_str
    if base == "BYTES":
        return lambda v: '"' + base64.b64encode(v).decode("ascii") + '"'
    if isinstance(t, SqlArray):
        inner = value_encoder(t.item, map_entries)
        return lambda v: "[" + ",".join("null" if x is None else inner(x) for x in v) + "]"
    if isinstance(t, SqlMap):
        inner = value_encoder(t.value, map_entries)
        kenc = value_encoder(t.key, map_entries)
        if map_entries:
            def enc_entries(v):
                return "[" + ",".join(
                    '{"key":' + ("null" if k is None else kenc(k))
                    + ',"value":' + ("null" if x is None else inner(x)) + "}"
                    for k, x in v.items()
                ) + "]"
            return enc_entries

        def enc_map(v):
            return "{" + ",".join(
                (encode_basestring(k) if isinstance(k, str)
                 else '"null"' if k is None  # Jackson's null key serializer writes "null"
                 else '"' + kenc(k).strip('"') + '"')
                + ":" + ("null" if x is None else inner(x))
                for k, x in v.items()
            ) + "}"
        return enc_map
    if isinstance(t, SqlStruct):
        fields = [(encode_basestring(n) + ":", n, value_encoder(ft, map_entries)) for n, ft in t.fields]

        def enc_struct(v):
            return "{" + ",".join(
                prefix + ("null" if (x := v.get(n)) is None else enc(x)) for prefix, n, enc in fields
            ) + "}"
        return enc_struct
    raise SerdeError(f"JSON cannot encode type {t}")


def _needs_decimal(t: SqlType) -> bool:
    if t.base == "DECIMAL":
        return True
    if isinstance(t, SqlArray):
        return _needs_decimal(t.item)
    if isinstance(t, SqlMap):
        return _needs_decimal(t.value)
    if isinstance(t, SqlStruct):
        return any(_needs_decimal(ft) for _, ft in t.fields)
    return False


def _loads_for(columns: Sequence[Column]):
    if any(_needs_decimal(c.type) for c in columns):
        return lambda b: json.loads(b, parse_float=Decimal)
    return json.loads


def _parse(loads, data: bytes) -> Any:
    try:
        return loads(data)
    except ValueError as e:
        raise SerdeError(f"Failed to deserialize JSON: {e}") from e


class JsonValueSerde(ValueSerde):
    def __init__(self, columns: Sequence[Column], unwrapped: bool = False) -> None:
        super().__init__(columns)
        self.unwrapped = unwrapped and len(self.columns) == 1
        self._loads = _loads_for(self.columns)
        self._names = [c.name for c in self.columns]
        self._upper = [c.name.upper() for c in self.columns]
        self._types = [c.type for c in self.columns]
        self._encoders = [value_encoder(c.type) for c in self.columns]
        self._prefixes = [encode_basestring(c.name) + ":" for c in self.columns]

    def decode(self, data: bytes | None) -> list | None:
        if data is None:
            return None
        obj = _parse(self._loads, data)
        if obj is None:
            return None
        if self.unwrapped:
            return [coerce(obj, self._types[0])]
        if not isinstance(obj, dict):
            raise SerdeError(
                f"Can't convert type. sourceType: {type(obj).__name__}, requiredType: STRUCT"
            )
        out = []
        upper = None
        for name, uname, t in zip(self._names, self._upper, self._types):
            if name in obj:
                v = obj[name]
            else:
                if upper is None:
                    upper = {str(k).upper(): v for k, v in obj.items()}
                v = upper.get(uname)
            out.append(None if v is None else coerce(v, t))
        return out

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        if values is None:
            return None
        if self.unwrapped:
            v = values[0]
            return b"null" if v is None else self._encoders[0](v).encode("utf-8")
        return (
            "{"
            + ",".join(
                p + ("null" if v is None else e(v))
                for p, e, v in zip(self._prefixes, self._encoders, values)
            )
            + "}"
        ).encode("utf-8")


class JsonKeySerde(ValueBackedKeySerde):
    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__(columns, JsonValueSerde(columns, unwrapped=len(columns) == 1))
