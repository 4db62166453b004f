"""The scorer's view of the Confluent wire format: `fraudstream.core.avro_wire`, with its two
failure kinds mapped onto the scorer's own: an undecodable record is a `BadRecord`
(dead-lettered), a registry that does not answer is a `SchemaRegistryError` (the batch's
transaction aborts and is retried)."""

from __future__ import annotations

from typing import Any

from fraudstream.core import avro_wire
from fraudstream.core.avro_wire import HEADER, MAGIC, WireEncoder  # noqa: F401  (re-exported)
from fraudstream.core.errors import ConfigError
from fraudstream.scorer.errors import BadRecord, SchemaRegistryError


def registry_client(url: str):
    try:
        return avro_wire.registry_client(url)
    except ConfigError as exc:
        raise SchemaRegistryError(f"{exc} (the scorer reads and writes Avro)") from exc


class WriterSchemas(avro_wire.WriterSchemas):
    def get(self, schema_id: int) -> Any:
        try:
            return super().get(schema_id)
        except avro_wire.UndecodableRecord as exc:
            raise BadRecord("undecodable", exc.reason) from exc
        except avro_wire.RegistryUnavailable as exc:
            raise SchemaRegistryError(str(exc)) from exc


def split_header(value: bytes | None) -> int:
    try:
        return avro_wire.split_header(value)
    except avro_wire.UndecodableRecord as exc:
        raise BadRecord("undecodable", exc.reason) from exc


def decode(value: bytes | None, schemas: WriterSchemas) -> tuple[int, dict]:
    """(schema id, record) of one wire-format value; BadRecord if it does not decode fully."""
    try:
        return avro_wire.decode(value, schemas)
    except avro_wire.UndecodableRecord as exc:
        raise BadRecord("undecodable", exc.reason) from exc
    except avro_wire.RegistryUnavailable as exc:
        raise SchemaRegistryError(str(exc)) from exc


def register_value_schema(client, topic: str, schema: dict) -> int:
    try:
        return avro_wire.register_value_schema(client, topic, schema)
    except avro_wire.RegistryUnavailable as exc:
        raise SchemaRegistryError(str(exc)) from exc
