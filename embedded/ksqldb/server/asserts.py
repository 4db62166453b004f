"""ASSERT TOPIC / ASSERT SCHEMA, as ksqlDB's AssertTopicExecutor, AssertSchemaExecutor and
AssertExecutor answer them.

The check is retried every 100 ms until it holds or the statement's TIMEOUT (default
`ksql.assert.topic.default.timeout.ms` / `ksql.assert.schema.default.timeout.ms`,
1000 ms) runs out; a failed assertion is HTTP 417 (error code 41700) with ksqlDB's
message. Nothing is recorded in the command topic: an assertion changes no state. The
sandbox pass that validates a request does not wait on them (ksqlDB validates them with
NO_VALIDATION).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import KsqlError
from fraudstream.embedded.ksqldb.server.listings import EngineView
from fraudstream.embedded.ksqldb.sql import tree

RETRY_MS = 100
DEFAULT_TIMEOUT_MS = 1000


class KsqlAssertionError(KsqlError):
    """An ASSERT statement did not hold (ksqlDB's Errors.assertionFailedError: 417)."""

    error_code = 41700


def _retry(timeout_ms: int, check: Callable[[], None]) -> None:
    """RetryUtil.retryWithBackoff(timeout / 100 retries, 100 ms apart)."""
    retries = timeout_ms // RETRY_MS
    for attempt in range(retries + 1):
        try:
            check()
            return
        except KsqlError:
            if attempt >= retries:
                raise
            time.sleep(RETRY_MS / 1000)


def _timeout(stmt: Any, view: EngineView, key: str) -> int:
    if stmt.timeout_ms is not None:
        return int(stmt.timeout_ms)
    raw = view.props.get(key, view.engine.config.get(key, DEFAULT_TIMEOUT_MS))
    try:
        return int(raw)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_MS


def _check_topic(stmt: tree.AssertTopic, view: EngineView) -> None:
    info = view.engine.admin.describe_topic(stmt.topic)
    if not stmt.exists:
        if info is not None:
            raise KsqlError(f"Topic {stmt.topic} exists")
        return
    if info is None:
        raise KsqlError(f"Topic {stmt.topic} does not exist")
    errors = []
    for key, want in stmt.properties.items():
        actual = {"PARTITIONS": info.partitions, "REPLICAS": info.replicas}.get(key.upper())
        if actual is None:
            errors.append(f"Cannot assert unknown topic property: {key}")
        elif isinstance(want, bool) or not isinstance(want, int) or want != actual:
            errors.append(f"Mismatched configuration for topic {stmt.topic}: "
                          f"For config {key.lower()}, expected {want} got {actual}")
    if errors:
        raise KsqlError("\n".join(errors))


def _schema_exists(stmt: tree.AssertSchema, view: EngineView) -> bool:
    registry = view.engine.registry
    if registry is None:
        raise KsqlError("Cannot check schema existence: no schema registry is configured")
    if stmt.subject is not None and stmt.schema_id is not None:
        return stmt.subject in registry.subjects_by_id(stmt.schema_id)
    if stmt.schema_id is not None:
        return registry.get_by_id(stmt.schema_id) is not None
    return registry.get_latest(stmt.subject) is not None


def _check_schema(stmt: tree.AssertSchema, view: EngineView) -> None:
    exists = _schema_exists(stmt, view)
    subject = f" subject name {stmt.subject}" if stmt.subject is not None else ""
    sid = f" id {stmt.schema_id}" if stmt.schema_id is not None else ""
    if stmt.exists and not exists:
        raise KsqlError(f"Schema with{subject}{sid} does not exist")
    if not stmt.exists and exists:
        raise KsqlError(f"Schema with{subject}{sid} exists")


def _run(stmt: Any, view: EngineView, key: str, check: Callable[[Any, EngineView], None]) -> None:
    if view.engine.dry:
        return
    try:
        _retry(_timeout(stmt, view, key), lambda: check(stmt, view))
    except KsqlAssertionError:
        raise
    except KsqlError as e:
        raise KsqlAssertionError(e.message) from None


def assert_topic(stmt: tree.AssertTopic, view: EngineView) -> dict:
    _run(stmt, view, "ksql.assert.topic.default.timeout.ms", _check_topic)
    return {"@type": "assert_topic", "statementText": stmt.text, "topicName": stmt.topic,
            "exists": stmt.exists, "warnings": []}


def assert_schema(stmt: tree.AssertSchema, view: EngineView) -> dict:
    _run(stmt, view, "ksql.assert.schema.default.timeout.ms", _check_schema)
    return {"@type": "assert_schema", "statementText": stmt.text, "subject": stmt.subject,
            "id": stmt.schema_id, "exists": stmt.exists, "warnings": []}


ASSERTS: dict[type, Callable[[Any, EngineView], dict]] = {
    tree.AssertTopic: assert_topic,
    tree.AssertSchema: assert_schema,
}
