"""Record encoding for inputs and structural comparison of outputs (README rules).

Inputs are serialised the way ksqlDB's harness does for the topic's format: JSON as
written in the file, DELIMITED as the raw line, KAFKA as a single primitive, AVRO and
JSON_SR with the schema registered for the subject. Outputs are deserialised with the sink's format
and compared structurally: same field count, field lookup by name then upper-case name,
DOUBLE within 1e-6, DECIMAL exactly (an integer in the file matches only scale 0, a
string may stand for a decimal), BYTES as base64 strings.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import struct
from decimal import Decimal
from typing import Any

import fastavro

from fraudstream.embedded.ksqldb.expr.functions.java_time import EPOCH, EPOCH_DATE
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlType
from fraudstream.embedded.ksqldb.expr.values import DECIMAL_CONTEXT
from fraudstream.embedded.ksqldb.serde import json_schema, json_sr


class EncodeError(Exception):
    pass


# ------------------------------------------------------------------ JSON text with exact decimals


def dump_json(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, Decimal)):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(dump_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + dump_json(x) for k, x in v.items()) + "}"
    raise EncodeError(f"cannot write {type(v).__name__} as JSON")


def schema_text(schema: Any) -> str:
    """Registry text for a schema given in a QTT file (object, or JSON string like "int")."""
    return dump_json(schema)


# ------------------------------------------------------------------ input encoding


def encode_kafka_primitive(v: Any, t: SqlType) -> bytes | None:
    if v is None:
        return None
    base = t.base
    if base == "INTEGER":
        return struct.pack(">i", int(v))
    if base == "BIGINT":
        return struct.pack(">q", int(v))
    if base == "DOUBLE":
        return struct.pack(">d", float(v))
    if base == "STRING":
        return (v if isinstance(v, str) else dump_json(v)).encode("utf-8")
    if base == "BYTES":
        return base64.b64decode(v) if isinstance(v, str) else bytes(v)
    raise EncodeError(f"KAFKA format cannot carry {t}")


def _json_to_avro(v: Any, schema: Any) -> Any:
    if v is None:
        return None
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        for b in branches:
            try:
                return _json_to_avro(v, b)
            except (EncodeError, ValueError, TypeError):
                continue
        raise EncodeError(f"value {v!r} fits no branch of {schema}")
    if isinstance(schema, str):
        if schema in ("int", "long"):
            if isinstance(v, bool) or not isinstance(v, (int, Decimal, float, str)):
                raise EncodeError(f"not an integer: {v!r}")
            return int(v)
        if schema in ("float", "double"):
            if isinstance(v, bool):
                raise EncodeError("bool is not a number")
            return float(v)
        if schema == "string":
            if isinstance(v, (dict, list)):
                return dump_json(v)
            return str(v) if not isinstance(v, bool) else ("true" if v else "false")
        if schema == "boolean":
            if not isinstance(v, bool):
                raise EncodeError(f"not a boolean: {v!r}")
            return v
        if schema == "bytes":
            return base64.b64decode(v) if isinstance(v, str) else bytes(v)
        return v
    typ = schema.get("type")
    logical = schema.get("logicalType")
    if logical == "decimal":
        d = Decimal(str(v))
        scale = int(schema.get("scale", 0))
        return d.quantize(Decimal(1).scaleb(-scale), context=DECIMAL_CONTEXT)
    if typ == "record":
        if not isinstance(v, dict):
            raise EncodeError(f"not a record: {v!r}")
        upper = {str(k).upper(): x for k, x in v.items()}
        out = {}
        for f in schema.get("fields", []):
            n = f["name"]
            x = v[n] if n in v else upper.get(n.upper())
            if x is None and "default" in f:
                out[n] = f["default"]
            else:
                out[n] = _json_to_avro(x, f["type"])
        return out
    if typ == "array":
        if not isinstance(v, list):
            raise EncodeError(f"not an array: {v!r}")
        return [_json_to_avro(x, schema["items"]) for x in v]
    if typ == "map":
        if not isinstance(v, dict):
            raise EncodeError(f"not a map: {v!r}")
        return {k: _json_to_avro(x, schema["values"]) for k, x in v.items()}
    if typ == "enum":
        return str(v)
    if typ == "fixed":
        return base64.b64decode(v) if isinstance(v, str) else bytes(v)
    if isinstance(typ, (str, list, dict)):
        return _json_to_avro(v, typ)
    return v


def encode_avro(v: Any, registry: SchemaRegistry, subject: str) -> bytes | None:
    if v is None:
        return None
    rs = registry.get_latest(subject)
    if rs is None:
        raise EncodeError(f"no schema registered for subject {subject}")
    schema = json.loads(rs.schema)
    datum = _json_to_avro(v, schema)
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, rs.id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema, named_schemas={}), datum)
    return buf.getvalue()


# ------------------------------------------------------------------ output decoding


def normalize_avro(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: normalize_avro(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize_avro(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        d = v - EPOCH
        return d.days * 86_400_000 + d.seconds * 1000 + d.microseconds // 1000
    if isinstance(v, dt.date):
        return (v - EPOCH_DATE).days
    if isinstance(v, dt.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    return v


def decode_avro(data: bytes, registry: SchemaRegistry) -> Any:
    magic, sid = struct.unpack_from(">bI", data)
    rs = registry.get_by_id(sid)
    if magic != 0 or rs is None:
        raise EncodeError(f"bad Avro payload (magic {magic}, id {sid})")
    schema = json.loads(rs.schema)
    parsed = fastavro.parse_schema(schema, named_schemas={})
    return normalize_avro(fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed, None))


def encode_json_sr(v: Any, registry: SchemaRegistry, subject: str) -> bytes | None:
    """ValueSpecJsonSchemaSerdeSupplier: the value laid out for the subject's latest
    schema, behind the registry header of that schema's id."""
    if v is None:
        return None
    rs = registry.get_latest(subject)
    if rs is None:
        raise EncodeError(f"no schema registered for subject {subject}")
    schema = json.loads(rs.schema)
    body = json_sr.dump_value(json_schema.shape_for_schema(v, schema))
    return struct.pack(">bI", 0, rs.id) + body.encode("utf-8")


def decode_json_sr(data: bytes, registry: SchemaRegistry) -> Any:
    sid, payload = json_sr.split_header(data)
    rs = registry.get_by_id(sid)
    if rs is None:
        raise EncodeError(f"bad JSON_SR payload (schema id {sid} not registered)")
    return json_schema.unshape_maps(json.loads(payload, parse_float=Decimal), json.loads(rs.schema))


def decode_kafka_primitive(data: bytes, t: SqlType) -> Any:
    base = t.base
    if base == "INTEGER":
        return struct.unpack(">i", data)[0]
    if base == "BIGINT":
        return struct.unpack(">q", data)[0]
    if base == "DOUBLE":
        return struct.unpack(">d", data)[0]
    if base == "STRING":
        return data.decode("utf-8")
    if base == "BYTES":
        return base64.b64encode(data).decode("ascii")
    raise EncodeError(f"KAFKA format cannot carry {t}")


# ------------------------------------------------------------------ comparison


def _num(x: Any) -> bool:
    return isinstance(x, (int, float, Decimal)) and not isinstance(x, bool)


def _numbers_match(e: Any, a: Any) -> bool:
    if isinstance(e, int) and isinstance(a, Decimal):
        if a.as_tuple().exponent < 0:  # type: ignore[operator]
            return False
        return Decimal(e) == a
    if isinstance(a, float) or isinstance(e, float):
        fe, fa = float(e), float(a)
        if math.isnan(fe) or math.isnan(fa):
            return math.isnan(fe) and math.isnan(fa)
        return fe == fa or abs(fe - fa) <= 1e-6 or math.isclose(fe, fa, rel_tol=1e-12)
    if Decimal(e) == Decimal(a):
        return True
    return math.isclose(float(e), float(a), rel_tol=1e-15, abs_tol=1e-6)


def matches(e: Any, a: Any) -> bool:
    if e is None:
        return a is None
    if a is None:
        return False
    if isinstance(e, bool) or isinstance(a, bool):
        return isinstance(e, bool) and isinstance(a, bool) and e == a
    if isinstance(e, dict):
        if not isinstance(a, dict) or len(a) != len(e):
            return False
        for k, v in e.items():
            if k in a:
                av = a[k]
            elif isinstance(k, str) and k.upper() in a:
                av = a[k.upper()]
            else:  # ksqlDB's ExpectedRecordComparator: an absent field reads as NULL
                av = None
            if not matches(v, av):
                return False
        return True
    if isinstance(e, list):
        return isinstance(a, list) and len(a) == len(e) and all(matches(x, y) for x, y in zip(e, a))
    if _num(e):
        return _num(a) and _numbers_match(e, a)
    if isinstance(e, str):
        if isinstance(a, str):
            return e == a
        if isinstance(a, float):
            special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
            if e in special:
                x = special[e]
                return (math.isnan(a) and math.isnan(x)) or a == x
            return False
        if isinstance(a, Decimal):
            try:
                d = Decimal(e)
            except Exception:  # noqa: BLE001
                return False
            return d == a and d.as_tuple().exponent == a.as_tuple().exponent
        if isinstance(a, (bytes, bytearray)):
            return base64.b64encode(bytes(a)).decode("ascii") == e
        return False
    return e == a
