"""A Confluent-compatible schema registry (Avro) whose schemas live in the Kafka topic `_schemas`.

Modules: `avro_schema` (parse, Java canonical form), `compatibility` (Avro resolution
rules), `records` (`_schemas` record shapes), `store` (semantics, in memory or on a log),
`kafka_log` (the topic as the log), `app` (REST API), `launcher` (start as a subprocess),
`errors`. Run with `python -m fraudstream.embedded.schema_registry`.
"""

from fraudstream.embedded.schema_registry.errors import RegistryStartError, SchemaRegistryError
from fraudstream.embedded.schema_registry.store import SchemaStore

__all__ = ["RegistryStartError", "SchemaRegistryError", "SchemaStore"]
