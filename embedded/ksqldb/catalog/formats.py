"""Serialization formats: names, properties, features and what each one can carry.

ksqlDB validates a source's schema against its key and value formats when the source
is created; the rules (supported types, single-field formats, map keys, delimiters,
WRAP_SINGLE_VALUE) and their messages are collected here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fraudstream.embedded.ksqldb.errors import KsqlStatementError
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct, SqlType

SUPPORTED = ("KAFKA", "JSON", "DELIMITED", "AVRO", "JSON_SR", "PROTOBUF", "PROTOBUF_NOSR", "NONE")
KNOWN_UNSUPPORTED: tuple[str, ...] = ()
SCHEMA_FORMATS = ("AVRO", "PROTOBUF", "JSON_SR")
#: formats this engine reads and writes through the schema registry: it infers columns
#: from their registered schemas and registers the schemas it derives (SCHEMA_INFERENCE)
REGISTRY_FORMATS = ("AVRO", "JSON_SR", "PROTOBUF")
#: the registry's schemaType for each of them
REGISTRY_SCHEMA_TYPES = {"AVRO": "AVRO", "JSON_SR": "JSON", "PROTOBUF": "PROTOBUF"}
PROTOBUF_FORMATS = ("PROTOBUF", "PROTOBUF_NOSR")

WRAP_SINGLES = "WRAP_SINGLES"
UNWRAP_SINGLES = "UNWRAP_SINGLES"

_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class FormatInfo:
    name: str
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, key: str) -> str | None:
        for k, v in self.properties:
            if k == key:
                return v
        return None

    @property
    def delimiter(self) -> str:
        return self.prop("delimiter") or ","


@dataclass(frozen=True)
class SerdeFeatures:
    features: frozenset[str] = field(default_factory=frozenset)

    @property
    def unwrap(self) -> bool:
        return UNWRAP_SINGLES in self.features

    def as_list(self) -> list[str]:
        return sorted(self.features)


def check_format_name(name: str) -> str:
    upper = name.upper()
    if upper in SUPPORTED:
        return upper
    if upper in KNOWN_UNSUPPORTED:
        raise KsqlStatementError(f"The '{upper}' format is not supported by this engine.")
    raise KsqlStatementError(f"Unknown format: {upper}")


def parse_delimiter(value: str, prop: str = "VALUE_DELIMITER") -> str:
    special = {"TAB": "\t", "SPACE": " "}
    if value.upper() in special:
        return special[value.upper()]
    if value == "" or value.isspace():
        raise KsqlStatementError(
            f"Failed to prepare statement: Configuration {prop} is invalid: Delimiter cannot be "
            "empty, if you meant to have a tab or space for delimiter, please use the special "
            "values 'TAB' or 'SPACE'\nExample valid value: ';'"
        )
    if len(value) != 1:
        raise KsqlStatementError(
            f"Failed to prepare statement: Configuration {prop} is invalid: Invalid delimiter "
            f"value: '{value}'. Delimiter must be a single character or TAB,SPACE\n"
            "Example valid value: ';'"
        )
    return value


#: serde features each format supports (ksqlDB's `Format.supportedFeatures()`)
SUPPORTED_FEATURES: dict[str, frozenset[str]] = {
    "JSON": frozenset({WRAP_SINGLES, UNWRAP_SINGLES}),
    "AVRO": frozenset({WRAP_SINGLES, UNWRAP_SINGLES}),
    "PROTOBUF": frozenset({WRAP_SINGLES}),  # ProtobufFormat: no UNWRAP_SINGLES
    "PROTOBUF_NOSR": frozenset({WRAP_SINGLES, UNWRAP_SINGLES}),
    "JSON_SR": frozenset({WRAP_SINGLES, UNWRAP_SINGLES}),
    "KAFKA": frozenset({UNWRAP_SINGLES}),
    "DELIMITED": frozenset({UNWRAP_SINGLES}),
    "NONE": frozenset(),
}


def supports_wrapping(fmt: str) -> bool:
    """Both wrapped and unwrapped single values: the format has a choice to record."""
    return SUPPORTED_FEATURES.get(fmt, frozenset()) >= {WRAP_SINGLES, UNWRAP_SINGLES}


def default_key_features(fmt: str, key_columns: list[Column]) -> SerdeFeatures:
    """A single key column is always unwrapped where the format could do either."""
    if supports_wrapping(fmt) and len(key_columns) == 1:
        return SerdeFeatures(frozenset({UNWRAP_SINGLES}))
    return SerdeFeatures()


def config_wrap_single_values(value: object) -> bool | None:
    """`ksql.persistence.wrap.single.values`: unset (None), or a boolean."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def value_features(
    fmt: str, wrap_single_value: bool | None, value_columns: list[Column],
    config_wrap: bool | None = None,
) -> SerdeFeatures:
    """ksqlDB's value wrapping rules: an explicit `WRAP_SINGLE_VALUE` must be supported by
    the format and needs a single value column; otherwise a single column takes the
    server's `ksql.persistence.wrap.single.values` when the format supports it."""
    supported = SUPPORTED_FEATURES.get(fmt, frozenset())
    single = len(value_columns) == 1
    if wrap_single_value is not None:
        feature = WRAP_SINGLES if wrap_single_value else UNWRAP_SINGLES
        if feature not in supported:
            raise KsqlStatementError(
                f"Format '{fmt}' does not support 'WRAP_SINGLE_VALUE' set to "
                f"'{'true' if wrap_single_value else 'false'}'."
            )
        if not single:
            raise KsqlStatementError(
                "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
            )
        return SerdeFeatures(frozenset({feature}))
    if not single or config_wrap is None:
        return SerdeFeatures()
    feature = WRAP_SINGLES if config_wrap else UNWRAP_SINGLES
    return SerdeFeatures(frozenset({feature})) if feature in supported else SerdeFeatures()


def _check_none(columns: list[Column]) -> None:
    if columns:
        raise KsqlStatementError(
            "The 'NONE' format can only be used when no columns are defined. Got: ["
            + ", ".join(str(c) for c in columns) + "]"
        )


def _persistence(columns: list[Column], features: SerdeFeatures) -> str:
    cols = ", ".join(str(c) for c in columns)
    feats = ", ".join(features.as_list())
    return f"Persistence{{columns=[{cols}], features=[{feats}]}}"


def _type_problem(fmt: str, t: SqlType) -> str | None:
    """Reason why `fmt` cannot carry `t`, else None."""
    base = t.base
    if fmt == "KAFKA":
        if base in ("INTEGER", "BIGINT", "DOUBLE", "STRING", "BYTES"):
            return None
        return f"The 'KAFKA' format does not support type '{base}'"
    if fmt == "DELIMITED":
        if base in ("ARRAY", "MAP", "STRUCT"):
            return f"The 'DELIMITED' format does not support type '{base}'"
        return None
    if fmt in ("JSON", "JSON_SR"):  # KsqlJsonSerdeFactory.validateSchema serves both
        return _nested_problem(t, lambda m: None if m.key.base == "STRING" else "JSON only supports MAP types with STRING keys")
    if fmt == "AVRO":
        return _nested_problem(t, lambda m: None if m.key.base == "STRING" else "Avro only supports MAPs with STRING keys")
    if fmt in PROTOBUF_FORMATS:
        return _nested_problem(t, lambda m: None if m.key.base == "STRING" else (
            "PROTOBUF format only supports MAP types with STRING keys. "
            "See https://github.com/confluentinc/ksql/issues/6177."))
    return None


def _nested_problem(t: SqlType, check_map) -> str | None:
    if isinstance(t, SqlMap):
        return check_map(t) or _nested_problem(t.value, check_map)
    if isinstance(t, SqlArray):
        return _nested_problem(t.item, check_map)
    if isinstance(t, SqlStruct):
        for _, ft in t.fields:
            p = _nested_problem(ft, check_map)
            if p:
                return p
    return None


def check_map_keys(key_columns: list[Column]) -> None:
    for c in key_columns:
        if c.type.contains_map():
            raise KsqlStatementError(
                "Map keys, including types that contain maps, are not supported as they may lead "
                f"to unexpected behavior due to inconsistent serialization. Key column name: "
                f"`{c.name}`. Column type: {c.type}. See "
                "https://github.com/confluentinc/ksql/issues/6621 for more."
            )


def _avro_name_problem(t: SqlType) -> str | None:
    if isinstance(t, SqlStruct):
        for n, ft in t.fields:
            if not _AVRO_NAME.match(n):
                return f"Illegal initial character: {n}" if not re.match(r"[A-Za-z_]", n) else f"Illegal character in: {n}"
            p = _avro_name_problem(ft)
            if p:
                return p
    if isinstance(t, SqlArray):
        return _avro_name_problem(t.item)
    if isinstance(t, SqlMap):
        return _avro_name_problem(t.value)
    return None


def validate_key(fmt: FormatInfo, columns: list[Column], features: SerdeFeatures) -> None:
    check_map_keys(columns)
    name = fmt.name
    if name == "NONE":
        _check_none(columns)
        return
    reason = None
    if name == "KAFKA" and len(columns) > 1:
        reason = (
            "The 'KAFKA' format only supports a single field. Got: ["
            + ", ".join(str(c) for c in columns) + "]"
        )
    else:
        for c in columns:
            p = _type_problem(name, c.type)
            if p:
                # KafkaSerdeFactory names no column; the DELIMITED serde does
                reason = f"{p}, column: `{c.name}`" if name == "DELIMITED" else p
                break
    if reason is None and name == "AVRO":
        for c in columns:
            if len(columns) > 1 and not _AVRO_NAME.match(c.name):
                reason = f"Schema is not compatible with Avro: Illegal initial character: {c.name}"
                break
            p = _avro_name_problem(c.type)
            if p:
                reason = f"Schema is not compatible with Avro: {p}"
                break
    if reason:
        raise KsqlStatementError(
            "Key format does not support schema.\n"
            f"format: {name}\nschema: {_persistence(columns, features)}\nreason: {reason}"
        )


def validate_value(fmt: FormatInfo, columns: list[Column], features: SerdeFeatures) -> None:
    name = fmt.name
    if name == "NONE":
        _check_none(columns)
        return
    reason = None
    if name == "KAFKA" and len(columns) > 1:
        reason = (
            "The 'KAFKA' format only supports a single field. Got: ["
            + ", ".join(str(c) for c in columns) + "]"
        )
    else:
        for c in columns:
            p = _type_problem(name, c.type)
            if p:
                reason = f"{p}, column: `{c.name}`" if name == "DELIMITED" else p
                break
    if reason is None and name == "AVRO":
        for c in columns:
            wrapped = not (features.unwrap and len(columns) == 1)
            if wrapped and not _AVRO_NAME.match(c.name):
                reason = (
                    "Schema is not compatible with Avro: Illegal initial character: " + c.name
                    if not re.match(r"[A-Za-z_]", c.name)
                    else f"Schema is not compatible with Avro: Illegal character in: {c.name}"
                )
                break
            p = _avro_name_problem(c.type)
            if p:
                reason = f"Schema is not compatible with Avro: {p}"
                break
    if reason:
        raise KsqlStatementError(
            "Value format does not support schema.\n"
            f"format: {name}\nschema: {_persistence(columns, features)}\nreason: {reason}"
        )


def check_properties(
    fmt: str, *, delimiter: str | None = None, full_schema_name: str | None = None,
    schema_id: int | None = None,
) -> None:
    unsupported = []
    if delimiter is not None and fmt != "DELIMITED":
        unsupported.append("delimiter")
    if full_schema_name is not None and fmt not in ("AVRO", "PROTOBUF", "JSON_SR"):
        unsupported.append("fullSchemaName")
    if schema_id is not None and fmt not in SCHEMA_FORMATS:
        unsupported.append("schemaId")
    if unsupported:
        raise KsqlStatementError(f"{fmt} does not support the following configs: [{', '.join(unsupported)}]")
    if full_schema_name is not None and not full_schema_name.strip():
        raise KsqlStatementError(
            f"fullSchemaName cannot be empty. Format configuration: {{fullSchemaName={full_schema_name.strip()}}}"
        )
