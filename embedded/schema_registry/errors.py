"""Errors of the embedded schema registry, shaped like the real Confluent Schema Registry's.

Every failure a client can cause maps to one HTTP status plus the JSON body
`{"error_code": int, "message": str}`; codes and message texts follow the real registry
(`rest/exceptions/Errors.java` and friends in confluentinc/schema-registry) so that
clients which branch on `error_code` (ksqlDB treats a subject as absent only on 40401,
the Python client surfaces `SchemaRegistryError.error_code`) behave identically.

The classes double as Python exceptions of the in-memory store, so a caller that embeds
the store (the KSQL engine's conformance harness) catches the same types the HTTP layer
turns into responses.

Like the KSQL engine's, these derive from `Exception`: the registry stands in for another
product and answers its clients in that product's terms (docs/DESIGN.md, "Layers").
"""

from __future__ import annotations

COMPATIBILITY_LEVELS_HINT = (
    "Invalid compatibility level. Valid values are none, backward, forward, full, "
    "backward_transitive, forward_transitive, and full_transitive"
)


class SchemaRegistryError(Exception):
    """Base class: an error with an HTTP status and a registry error code."""

    http_status: int = 500
    error_code: int = 50001

    def __init__(self, message: str, *, http_status: int | None = None, error_code: int | None = None):
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status
        if error_code is not None:
            self.error_code = error_code

    def body(self) -> dict[str, object]:
        return {"error_code": self.error_code, "message": self.message}


# ---- 404 -------------------------------------------------------------------------------

class SubjectNotFoundError(SchemaRegistryError):
    http_status = 404
    error_code = 40401

    def __init__(self, subject: str):
        super().__init__(f"Subject '{subject}' not found.")
        self.subject = subject


class VersionNotFoundError(SchemaRegistryError):
    http_status = 404
    error_code = 40402

    def __init__(self, version: int | str):
        super().__init__(f"Version {version} not found.")


class SchemaNotFoundError(SchemaRegistryError):
    http_status = 404
    error_code = 40403

    def __init__(self, schema_id: int | None = None):
        super().__init__("Schema not found" if schema_id is None else f"Schema {schema_id} not found")


class SubjectSoftDeletedError(SchemaRegistryError):
    http_status = 404
    error_code = 40404

    def __init__(self, subject: str):
        # The real registry's text has no space after the first full stop; kept as is.
        super().__init__(f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently")


class SubjectNotSoftDeletedError(SchemaRegistryError):
    http_status = 404
    error_code = 40405

    def __init__(self, subject: str):
        super().__init__(f"Subject '{subject}' was not deleted first before being permanently deleted")


class VersionSoftDeletedError(SchemaRegistryError):
    http_status = 404
    error_code = 40406

    def __init__(self, subject: str, version: int | str):
        super().__init__(
            f"Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
        )


class VersionNotSoftDeletedError(SchemaRegistryError):
    http_status = 404
    error_code = 40407

    def __init__(self, subject: str, version: int | str):
        super().__init__(
            f"Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
        )


class SubjectCompatibilityNotConfiguredError(SchemaRegistryError):
    http_status = 404
    error_code = 40408

    def __init__(self, subject: str):
        super().__init__(f"Subject '{subject}' does not have subject-level compatibility configured")


# ---- 409 -------------------------------------------------------------------------------

class IncompatibleSchemaError(SchemaRegistryError):
    http_status = 409
    error_code = 40901

    def __init__(self, subject: str, details: list[str]):
        super().__init__(
            f'Schema being registered is incompatible with an earlier schema for subject "{subject}", '
            f"details: [{', '.join(details)}]"
        )
        self.details = details


# ---- 422 -------------------------------------------------------------------------------

class InvalidSchemaError(SchemaRegistryError):
    http_status = 422
    error_code = 42201


class InvalidVersionError(SchemaRegistryError):
    http_status = 422
    error_code = 42202

    def __init__(self, version: object):
        super().__init__(
            f"The specified version '{version}' is not a valid version id. "
            'Allowed values are between [1, 2^31-1] and the string "latest"'
        )


class InvalidCompatibilityLevelError(SchemaRegistryError):
    http_status = 422
    error_code = 42203

    def __init__(self, message: str = COMPATIBILITY_LEVELS_HINT):
        super().__init__(message)


class SchemaTooLargeError(SchemaRegistryError):
    http_status = 422
    error_code = 42209


# ---- 5xx: the backing Kafka log failed ---------------------------------------------------

class StoreError(SchemaRegistryError):
    """Writing to or reading from the `_schemas` topic failed; nothing was acknowledged."""

    http_status = 500
    error_code = 50001


class StoreTimeoutError(StoreError):
    http_status = 500
    error_code = 50002


# ---- process-level errors (not HTTP) -----------------------------------------------------

class RegistryStartError(Exception):
    """The registry process could not start (broker unreachable, port taken, bad topic)."""

    exit_code = 3
