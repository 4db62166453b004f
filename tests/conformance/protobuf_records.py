"""PROTOBUF and PROTOBUF_NOSR records for the QTT harness, as ksqlDB's test driver makes them.

Inputs (ValueSpecProtobufSerdeSupplier): PROTOBUF with the subject's latest registered
schema, its message named by the source's full schema name or else its first, framed with
that schema's id and message indexes; PROTOBUF_NOSR (ValueSpecProtobufNoSRSerdeSupplier)
with the message ksqlDB derives from the key or value columns as a struct (a single key
column too: a message whose field 1 is the key reads the same as the wrapper the engine
uses). Field names match case-insensitively; BYTES are base64 strings.

Outputs are read back with the writer's schema (PROTOBUF: by id and message indexes) into
the value ProtobufData's toConnectData gives: proto3 defaults for unset scalars, NULL for
unset messages, a bare primitive for a wrapper message when unwrapPrimitives is set.
"""

from __future__ import annotations

import base64
from typing import Any, Sequence

from fraudstream.core import protobuf_text
from fraudstream.embedded.ksqldb.catalog.formats import FormatInfo
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.interfaces import SchemaRegistry
from fraudstream.embedded.ksqldb.serde.protobuf import (
    ProtoCodec, fill_message, message_to_dict, resolve_references,
)
from fraudstream.embedded.ksqldb.serde.protobuf_schema import UNWRAPPED, schema_for_columns
from fraudstream.embedded.ksqldb.serde.protobuf_serdes import proto_options
from fraudstream.core.avro_wire import wire_header


def _normalize(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _normalize(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_normalize(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    return v


def encode(v: Any, registry: SchemaRegistry, subject: str, fmt: FormatInfo,
           columns: Sequence[Column]) -> bytes | None:
    if v is None:
        return None
    options = proto_options(fmt)
    if fmt.name == "PROTOBUF":
        rs = registry.get_latest(subject)
        if rs is None:
            raise ValueError(f"no schema registered for subject {subject}")
        codec = ProtoCodec.of_text(rs.schema, resolve_references(registry, rs))
        name = fmt.prop("fullSchemaName") or codec.first_name()
        if name.startswith("ConnectDefault") and name not in protobuf_text.message_names(codec.main):
            name = codec.first_name()
        header = wire_header(rs.id) + protobuf_text.message_indexes_bytes(
            protobuf_text.indexes_of(codec.main, name))
    else:
        built = schema_for_columns(columns, unwrapped=False, full_name=None, options=options)
        codec = ProtoCodec.of_built(built)
        name = built.full_name
        header = b""
    m = codec.cls(name)()
    if name in UNWRAPPED:
        m.value = _scalar_spec(m.DESCRIPTOR.fields_by_name["value"], v)
    else:
        if not isinstance(v, dict):
            if len(columns) != 1:
                raise ValueError(f"a {fmt.name} record of {len(columns)} columns needs an object: {v!r}")
            v = {columns[0].name: v}
        fill_message(m, _decode_bytes(v, m.DESCRIPTOR))
    return header + m.SerializeToString()


def _scalar_spec(f, v):
    from fraudstream.embedded.ksqldb.serde.protobuf import _scalar

    if f.type == f.TYPE_BYTES and isinstance(v, str):
        return base64.b64decode(v)
    return _scalar(f, v)


def _decode_bytes(v: Any, desc) -> Any:
    """Base64 strings of BYTES fields to bytes (SpecToConnectConverter), recursively."""
    if not isinstance(v, dict):
        return v
    out = {}
    by_upper = {f.name.upper(): f for f in desc.fields}
    for k, x in v.items():
        f = desc.fields_by_name.get(k) or by_upper.get(str(k).upper())
        if f is None or x is None:
            out[k] = x
            continue
        if f.type == f.TYPE_BYTES:
            if isinstance(x, list):
                out[k] = [base64.b64decode(e) if isinstance(e, str) else e for e in x]
            else:
                out[k] = base64.b64decode(x) if isinstance(x, str) else x
        elif f.type == f.TYPE_MESSAGE:
            mt = f.message_type
            if mt.full_name == "google.protobuf.BytesValue" and isinstance(x, str):
                out[k] = base64.b64decode(x)
            elif mt.GetOptions().map_entry:
                vf = mt.fields_by_name["value"]
                if vf.type == vf.TYPE_BYTES and isinstance(x, dict):
                    out[k] = {mk: base64.b64decode(mv) if isinstance(mv, str) else mv for mk, mv in x.items()}
                elif vf.type == vf.TYPE_MESSAGE and isinstance(x, dict):
                    out[k] = {mk: _decode_bytes(mv, vf.message_type) for mk, mv in x.items()}
                else:
                    out[k] = x
            elif isinstance(x, list):
                out[k] = [_decode_bytes(e, mt) for e in x]
            elif isinstance(x, dict):
                out[k] = _decode_bytes(x, mt)
            else:
                out[k] = x
        else:
            out[k] = x
    return out


def decode(data: bytes, registry: SchemaRegistry, fmt: FormatInfo, columns: Sequence[Column]) -> Any:
    options = proto_options(fmt)
    if fmt.name == "PROTOBUF":
        from fraudstream.embedded.ksqldb.serde.protobuf import ProtoSchemaCache, _split_sr

        sid, indexes, payload = _split_sr(data)
        codec = ProtoSchemaCache(registry).codec(sid)
        name = protobuf_text.name_at(codec.main, indexes)
    else:
        built = schema_for_columns(columns, unwrapped=False, full_name=None, options=options)
        codec = ProtoCodec.of_built(built)
        name = built.full_name
        payload = data
    m = codec.cls(name).FromString(payload)
    if name in UNWRAPPED and options.unwrap_primitives:
        f = m.DESCRIPTOR.fields_by_name["value"]
        return _normalize(bytes(m.value) if f.type == f.TYPE_BYTES else m.value)
    return _normalize(message_to_dict(m, options))
