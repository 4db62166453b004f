"""JSON Schema documents (schemaType JSON): validated, stored in canonical form.

Confluent's registry parses a JSON schema with everit (draft 7 unless `$schema` names
another dialect), rejects one that is not a schema, and stores `JsonSchema.canonicalString()`:
the document re-serialised by Jackson, compact, keys in their written order. Two
registrations are the same schema when their documents are equal as JSON (object key
order aside). Validation here is the `jsonschema` library's meta-schema check for the
document's dialect (draft 7 by default), the same rule set everit enforces.

Compatibility between JSON schemas (Confluent's JsonSchemaDiff) is not checked: a new
JSON version is accepted under any level; a version whose schemaType differs from the
previous one is refused, as Confluent's `ParsedSchema.isBackwardCompatible` does
("Incompatible because of different schema type").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import jsonschema
from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft7Validator, validator_for

from fraudstream.embedded.schema_registry import jsontext
from fraudstream.embedded.schema_registry.errors import InvalidSchemaError


@dataclass(frozen=True)
class JsonSchemaDoc:
    canonical: str
    equality_key: str

    @property
    def schema_type(self) -> str:
        return "JSON"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def parse(text: object) -> JsonSchemaDoc:
    """Parse and validate schema text; InvalidSchemaError (42201) naming the problem."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchemaError("Invalid schema: the schema must be a non-empty string holding a JSON schema")
    try:
        doc = jsontext.loads(text)
    except ValueError as exc:
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: not valid JSON: {exc}") from None
    if not isinstance(doc, (dict, bool)):
        raise InvalidSchemaError(
            f"Invalid schema {_clip(text)}, details: a JSON schema is an object or a boolean")
    try:
        cls = validator_for(doc, default=Draft7Validator) if isinstance(doc, dict) else Draft7Validator
        cls.check_schema(doc)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise InvalidSchemaError(
            f"Invalid schema {_clip(text)}, details: {exc.message}" + (f" at {where}" if where else "")
        ) from None
    except jsonschema.exceptions.UnknownType as exc:  # pragma: no cover - defensive
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: {exc}") from None
    canonical = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    key = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return JsonSchemaDoc(canonical=canonical, equality_key=key)
