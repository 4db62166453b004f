"""Translation between SQL types and JSON Schema, as ksqlDB's JSON_SR format does it.

ksqlDB's `JsonSchemaTranslator` goes through Kafka Connect: SQL type → Connect schema
(`SchemaConverters`, every type optional) → JSON Schema (Confluent's `JsonSchemaData`,
decimals NUMERIC), and back for inference. The rules reproduced here:

SQL → JSON Schema (`json_schema_for_columns`):
- every SQL type is optional in Connect, so each value is `{"oneOf": [{"type": "null"}, T]}`;
  a struct field's schema carries `"connect.index": <field position>` beside the `oneOf`;
- INTEGER/BIGINT: `{"type": "integer", "connect.type": "int32"|"int64"}`; DOUBLE:
  `{"type": "number", "connect.type": "float64"}`; BOOLEAN, STRING plain; BYTES:
  `{"type": "string", "connect.type": "bytes"}` (base64 text);
- DECIMAL(p, s): `{"type": "number", "title": "org.apache.kafka.connect.data.Decimal",
  "connect.version": 1, "connect.parameters": {"scale": "s", "connect.decimal.precision": "p"},
  "connect.type": "bytes"}`;
- TIMESTAMP/DATE/TIME: integers titled with the Connect logical name (`...data.Timestamp`,
  `...Date`, `...Time`), `connect.version` 1, `connect.type` int64/int32/int32;
- ARRAY: `{"type": "array", "items": T}`;
- MAP: ksqlDB's map keys are *optional* strings, and `JsonSchemaData` writes an object
  only for required string keys, so a map is an array of `{"key": K, "value": V}` objects
  (`"connect.type": "map"`), and map values are written that way;
- STRUCT: `{"type": "object", "properties": {...}}`; the top-level record of a wrapped
  value is required (no `oneOf`) and has no title (a `fullSchemaName` is not applied).

JSON Schema → SQL (`sql_type_of`, inference): `connect.type` decides numbers (int8/16/32 →
INTEGER, int64 → BIGINT, float32/64 → DOUBLE, bytes → DECIMAL when titled Decimal else
BYTES); without it `integer` → BIGINT and `number` → DOUBLE; a `oneOf`/`anyOf` of null and
one schema is that schema; object properties are ordered by `connect.index`; an object
marked `connect.type: map` or an array of key/value objects marked so is a MAP; `$ref`s
into the same document are followed; field names are upper-cased unless the schema was
named by id (ksqlDB's ORIGINAL_FIELD_NAME policy).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Sequence

from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIME,
    TIMESTAMP,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)
from fraudstream.embedded.ksqldb.errors import KsqlStatementError

CONNECT = "org.apache.kafka.connect.data."
DECIMAL_NAME = CONNECT + "Decimal"
_LOGICAL = {"TIMESTAMP": ("Timestamp", "int64"), "DATE": ("Date", "int32"), "TIME": ("Time", "int32")}
_NULL = {"type": "null"}
ONE_OF_FIELD = "io.confluent.connect.json.OneOf.field."


# ------------------------------------------------------------------ SQL → JSON Schema


def _required(t: SqlType, title: str | None = None) -> dict[str, Any]:
    """The schema of a non-null value of `t` (Connect's non-optional form)."""
    base = t.base
    if base == "BOOLEAN":
        return {"type": "boolean"}
    if base == "STRING":
        return {"type": "string"}
    if base == "INTEGER":
        return {"type": "integer", "connect.type": "int32"}
    if base == "BIGINT":
        return {"type": "integer", "connect.type": "int64"}
    if base == "DOUBLE":
        return {"type": "number", "connect.type": "float64"}
    if base == "BYTES":
        return {"type": "string", "connect.type": "bytes"}
    if isinstance(t, SqlDecimal):
        return {
            "type": "number", "title": DECIMAL_NAME, "connect.version": 1,
            "connect.parameters": {"scale": str(t.scale), "connect.decimal.precision": str(t.precision)},
            "connect.type": "bytes",
        }
    if base in _LOGICAL:
        name, ctype = _LOGICAL[base]
        return {"type": "integer", "title": CONNECT + name, "connect.version": 1, "connect.type": ctype}
    if isinstance(t, SqlArray):
        return {"type": "array", "items": _optional(t.item)}
    if isinstance(t, SqlMap):
        entry = {"type": "object", "properties": {
            "key": _optional(t.key, index=0), "value": _optional(t.value, index=1)}}
        return {"type": "array", "items": entry, "connect.type": "map"}
    if isinstance(t, SqlStruct):
        return _object([(n, ft) for n, ft in t.fields], title)
    raise KsqlStatementError(f"JSON_SR cannot represent type {t}")


def _optional(t: SqlType, index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"oneOf": [dict(_NULL), _required(t)]}
    if index is not None:
        out["connect.index"] = index
    return out


def _object(fields: Sequence[tuple[str, SqlType]], title: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    if title:
        out["title"] = title
    out["properties"] = {n: _optional(ft, index=i) for i, (n, ft) in enumerate(fields)}
    return out


def json_schema_for_columns(columns: Sequence[Column], *, unwrapped: bool) -> dict[str, Any]:
    """The JSON Schema ksqlDB registers for a key or value of these columns. No name:
    ConnectFormatSchemaTranslator.toParsedSchema names nothing and JsonSchemaTranslator
    ignores its format properties, so a `*_SCHEMA_FULL_NAME` leaves JSON_SR schemas as they are."""
    if unwrapped and len(columns) == 1:
        return _optional(columns[0].type)
    return _object([(c.name, c.type) for c in columns], None)


# ------------------------------------------------------------------ JSON Schema → SQL


class _Resolver:
    """Follows `$ref`s that point into the same document (`#/definitions/X`, `#/$defs/X`)."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def deref(self, schema: Any, seen: tuple[str, ...] = ()) -> Any:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if ref in seen:
                raise KsqlStatementError(f"Recursive JSON schema reference {ref} is not supported")
            seen = seen + (ref,)
            if not ref.startswith("#"):
                raise KsqlStatementError(f"JSON schema reference {ref} outside the schema is not supported")
            node = self.root
            for part in [p for p in ref[1:].split("/") if p]:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise KsqlStatementError(f"JSON schema reference {ref} does not resolve")
                node = node[part]
            schema = node
        return schema


def _non_null(subs: list[Any], r: _Resolver) -> list[Any]:
    return [s for s in subs if not (isinstance(r.deref(s), dict) and r.deref(s).get("type") == "null")]


class Unsupported(KsqlStatementError):
    """A type ksqlDB cannot take (ConnectKsqlSchemaTranslator.UnsupportedTypeException): a
    struct field of such a type is left out, at the root it fails the inference."""


class NotCompatible(KsqlStatementError):
    """The registered schema cannot give columns (SchemaRegistryTopicSchemaSupplier
    .notCompatible words it with the topic and schema)."""


def _sql_type(schema: Any, r: _Resolver, upper: bool) -> SqlType:
    """SQL type of a schema: JsonSchemaData.toConnectSchema, then ConnectKsqlSchemaTranslator
    (int8/16/32 → INTEGER, int64 → BIGINT, float32/64 → DOUBLE, the Connect logical names on
    the matching physical type, map keys checked then STRING)."""
    schema = r.deref(schema)
    if schema is True or schema == {}:
        raise Unsupported("Unsupported type: an empty schema (any value)")
    if not isinstance(schema, dict):
        raise Unsupported(f"Unsupported JSON schema: {json.dumps(schema)}")
    for key in ("oneOf", "anyOf"):
        subs = schema.get(key)
        if isinstance(subs, list):
            rest = _non_null(subs, r)
            if len(rest) == 1:
                return _sql_type(rest[0], r, upper)
            # a union: Connect's struct with one optional field per branch
            return _fields([(ONE_OF_FIELD + str(i), s) for i, s in enumerate(rest)], r, upper)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for s in schema["allOf"]:
            s = r.deref(s)
            if isinstance(s, dict) and isinstance(s.get("properties"), dict):
                merged.update(s["properties"])
        if merged:
            return _fields(list(merged.items()), r, upper)
        subs = [r.deref(s) for s in schema["allOf"]]
        typed = [s for s in subs if isinstance(s, dict) and ("type" in s or "oneOf" in s or "anyOf" in s)]
        if typed:
            return _sql_type(typed[0], r, upper)
        raise Unsupported(f"Unsupported criterion allOf for {json.dumps(schema)[:200]}")
    typ = schema.get("type")
    if isinstance(typ, list):
        rest = [x for x in typ if x != "null"]
        if len(rest) == 1:
            return _sql_type({**schema, "type": rest[0]}, r, upper)
        return _fields([(ONE_OF_FIELD + str(i), {**schema, "type": t}) for i, t in enumerate(rest)], r, upper)
    ctype = schema.get("connect.type")
    title = schema.get("title")
    if typ is None:
        if "enum" in schema or "const" in schema:
            return STRING
        if "properties" in schema:
            typ = "object"
        elif "items" in schema:
            typ = "array"
    if typ == "boolean":
        return BOOLEAN
    if typ in ("integer", "number"):
        if ctype is None:
            ctype = "int64" if typ == "integer" else "float64"
        if ctype == "bytes":
            if title == DECIMAL_NAME:
                params = schema.get("connect.parameters") or {}
                return SqlDecimal(int(params.get("connect.decimal.precision", 64)), int(params.get("scale", 0)))
            return BYTES
        if ctype == "int64":
            return TIMESTAMP if title == CONNECT + "Timestamp" else BIGINT
        if ctype == "int32":
            return {CONNECT + "Time": TIME, CONNECT + "Date": DATE}.get(title, INTEGER)
        if ctype in ("int8", "int16"):
            return INTEGER
        if ctype in ("float32", "float64"):
            return DOUBLE
        raise Unsupported(f"Unsupported type {ctype}")
    if typ == "string":
        return BYTES if ctype == "bytes" else STRING
    if typ == "array":
        items = r.deref(schema.get("items"))
        if items is None:
            raise Unsupported("Array schema did not specify the items type")
        if ctype == "map" and isinstance(items, dict) and isinstance(items.get("properties"), dict):
            props = items["properties"]
            return _map(props.get("key"), props.get("value"), r, upper)
        return SqlArray(_sql_type(items, r, upper))
    if typ == "object":
        if ctype == "map":
            return SqlMap(STRING, _sql_type(schema.get("additionalProperties"), r, upper))
        return _fields(_ordered_properties(schema.get("properties") or {}, r), r, upper)
    raise Unsupported(f"Unsupported type: {typ if typ is not None else json.dumps(schema)[:200]}")


def _map(key: Any, value: Any, r: _Resolver, upper: bool) -> SqlMap:
    """toKsqlMapSchema: the key must be an integer, boolean or string; the map's key is STRING."""
    kt = _sql_type(key, r, upper)
    if kt not in (INTEGER, BIGINT, BOOLEAN, STRING, DATE, TIME, TIMESTAMP):
        raise Unsupported(f"Unsupported type for map key: {kt}")
    return SqlMap(STRING, _sql_type(value, r, upper))


def _ordered_properties(props: dict[str, Any], r: _Resolver) -> list[tuple[str, Any]]:
    """Properties in `connect.index` order (JsonSchemaData.toConnectSchema: a property
    without an index takes the count of those placed so far, a later one may replace it)."""
    placed: dict[int, tuple[str, Any]] = {}
    for name, sub in props.items():
        idx = sub.get("connect.index") if isinstance(sub, dict) else None
        if not isinstance(idx, int):
            idx = len(placed)
        placed[idx] = (name, sub)
    return [placed[i] for i in sorted(placed)]


def _fields(props: list[tuple[str, Any]], r: _Resolver, upper: bool) -> SqlStruct:
    """toKsqlStructSchema: names upper-cased or kept; a field of an unsupported type is left out."""
    out = []
    for n, sub in props:
        try:
            out.append((n.upper() if upper else n, _sql_type(sub, r, upper)))
        except Unsupported:
            continue
    return SqlStruct(tuple(out))


def sql_type_of(schema: Any, upper: bool = True) -> SqlType:
    return _sql_type(schema, _Resolver(schema), upper)


def columns_from_schema(schema_text: str, *, unwrapped: bool, is_key: bool,
                        original_names: bool = False) -> list[tuple[str, SqlType]]:
    """Columns inferred from a registered JSON schema (ConnectFormatSchemaTranslator.toColumns):
    unwrapped (keys always), one column ROWKEY/ROWVAL of the schema's type; wrapped, the
    fields of the (possibly nullable) object, which must have some of a supported type."""
    try:
        schema = json.loads(schema_text)
    except ValueError as e:
        raise NotCompatible(f"Registered JSON schema is not valid JSON: {e}") from e
    upper = not original_names
    r = _Resolver(schema)
    try:
        t = _sql_type(schema, r, upper)
    except Unsupported as e:
        raise NotCompatible(f"Unsupported type at root of schema: {e}") from e
    if unwrapped:
        return [("ROWKEY" if is_key else "ROWVAL", t)]
    if not isinstance(t, SqlStruct):
        raise NotCompatible(
            "Schema returned from schema registry is anonymous type. To use this schema with "
            "ksqlDB, set 'WRAP_SINGLE_VALUE=false' in the WITH clause properties.")
    if not t.fields:
        raise NotCompatible("Schema does not include any columns with types that ksqlDB supports.")
    return list(t.fields)


# ------------------------------------------------------------------ values for a given schema


def shape_for_schema(value: Any, schema: Any, r: _Resolver | None = None) -> Any:
    """A SQL value (dict for structs, dict for maps) laid out for a registered schema:
    object properties in the schema's order (matched exactly, then case-insensitively,
    missing ones null), maps marked as key/value arrays turned into such arrays."""
    if r is None:
        r = _Resolver(schema)
    schema = r.deref(schema)
    if value is None or not isinstance(schema, dict):
        return value
    for key in ("oneOf", "anyOf"):
        subs = schema.get(key)
        if isinstance(subs, list):
            rest = _non_null(subs, r)
            return shape_for_schema(value, rest[0], r) if len(rest) == 1 else value
    typ = schema.get("type")
    if isinstance(typ, list):
        rest = [x for x in typ if x != "null"]
        typ = rest[0] if len(rest) == 1 else None
    if typ is None and "properties" in schema:
        typ = "object"
    if typ == "array":
        items = r.deref(schema.get("items"))
        if schema.get("connect.type") == "map" and isinstance(value, dict):
            props = items.get("properties", {}) if isinstance(items, dict) else {}
            return [{"key": shape_for_schema(k, props.get("key"), r),
                     "value": shape_for_schema(v, props.get("value"), r)} for k, v in value.items()]
        if isinstance(value, list):
            return [shape_for_schema(x, items, r) for x in value]
        return value
    if typ in ("number", "integer") and isinstance(value, str):
        try:  # a string for a number (QTT files write decimals as strings)
            return Decimal(value) if typ == "number" or "." in value else int(value)
        except (ValueError, ArithmeticError):
            return value
    if typ == "object" and isinstance(value, dict):
        if schema.get("connect.type") == "map" or "properties" not in schema:
            extra = schema.get("additionalProperties")
            return {str(k): shape_for_schema(v, extra, r) for k, v in value.items()}
        out = {}
        upper = None
        for name, sub in _ordered_properties(schema["properties"], r):
            if name in value:
                v = value[name]
            else:
                if upper is None:
                    upper = {str(k).upper(): x for k, x in value.items()}
                v = upper.get(name.upper())
            out[name] = shape_for_schema(v, sub, r)
        return out
    return value


def unshape_maps(value: Any, schema: Any, r: _Resolver | None = None) -> Any:
    """The inverse for maps: key/value arrays a schema marks as maps become objects
    (what a reader holding the writer's schema sees, JsonSchemaData.toConnectData)."""
    if r is None:
        r = _Resolver(schema)
    schema = r.deref(schema)
    if value is None or not isinstance(schema, dict):
        return value
    for key in ("oneOf", "anyOf"):
        subs = schema.get(key)
        if isinstance(subs, list):
            rest = _non_null(subs, r)
            return unshape_maps(value, rest[0], r) if len(rest) == 1 else value
    items = r.deref(schema.get("items"))
    if isinstance(value, list):
        if schema.get("connect.type") == "map" and isinstance(items, dict):
            props = items.get("properties", {})
            return {str(unshape_maps(e.get("key"), props.get("key"), r)):
                    unshape_maps(e.get("value"), props.get("value"), r)
                    for e in value if isinstance(e, dict)}
        return [unshape_maps(x, items, r) for x in value]
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            return {k: unshape_maps(x, props.get(k), r) for k, x in value.items()}
        extra = schema.get("additionalProperties")
        return {k: unshape_maps(x, extra, r) for k, x in value.items()}
    return value
