"""Kafka client configuration, built in one place for every client in the project.

Producers, trainer, scorer, monitor, the CLI, the stack manager, the KSQL engine and the
schema registry all build their librdkafka configuration here, so whatever a cluster
needs from every client (bootstrap servers today; TLS and SASL properties from a
properties file for a user's own cluster) is added once, in `client_config`, and reaches
all of them. Each call site passes only what is particular to it (a group, an isolation
level, batching), which wins over the common part.

Kept as plain dictionaries because that is what confluent-kafka takes; the functions only
merge, they never hide a setting.

The user's properties file (`--kafka-config FILE` / `KAFKA_CONFIG_FILE`, read by
`fraudstream.core.client_properties`) is merged over the defaults: its librdkafka
properties (security.protocol, sasl.*, ssl.*, timeouts, client.id, ...) win over what a
call site sets for tuning, except the few settings the code's guarantees rest on
(`CALL_SITE_KEYS`: group ids, transactions, isolation, offset handling, callbacks), which
the call site keeps. An explicit bootstrap (KAFKA_BOOTSTRAP_SERVERS, --bootstrap-servers)
wins over the file's `bootstrap.servers`.

`check_connection` is the one start-up probe: it turns a wrong password or a failed TLS
handshake into a one-line error within the connect timeout (librdkafka otherwise retries
forever and the call times out with "transport failure"), and never quotes a secret.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from fraudstream.core import client_properties
from fraudstream.core.errors import ConfigError, KafkaAuthError, KafkaUnavailableError

Settings = Mapping[str, Any]

# What the code's correctness rests on: a user's file never overrides these when the call
# site sets them (exactly-once scoring needs its transactional id and read_committed, a
# bounded read its own group and no auto commit, ...).
CALL_SITE_KEYS = frozenset({
    "group.id", "group.instance.id", "transactional.id", "isolation.level", "enable.auto.commit",
    "enable.auto.offset.store", "enable.idempotence", "enable.partition.eof", "auto.offset.reset",
    "partition.assignment.strategy", "on_delivery", "error_cb", "stats_cb", "throttle_cb", "oauth_cb",
    "logger", "log_level",
})


def file_properties() -> dict[str, str]:
    """The librdkafka properties of the configured properties file ({} without one)."""
    return client_properties.load().kafka


def client_config(bootstrap: str, settings: Settings | None = None) -> dict[str, Any]:
    """What every client needs to reach the cluster, then the call site's `settings`,
    then the user's properties file over both (except `CALL_SITE_KEYS` the call site set)."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap}
    if settings:
        conf.update(settings)
    for key, value in file_properties().items():
        if key == "bootstrap.servers" and bootstrap:
            continue
        if key in CALL_SITE_KEYS and key in conf:
            continue
        conf[key] = value
    return conf


def consumer_config(bootstrap: str, group: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """A consumer's configuration. `group=None` gives a group id of its own to a consumer
    that only assigns partitions and never commits (librdkafka requires some group id)."""
    return client_config(bootstrap, {"group.id": group or f"fraudstream-reader-{uuid.uuid4().hex[:12]}",
                                     **(settings or {})})


def producer_config(bootstrap: str, settings: Settings | None = None) -> dict[str, Any]:
    return client_config(bootstrap, settings)


def admin_config(bootstrap: str, settings: Settings | None = None) -> dict[str, Any]:
    return client_config(bootstrap, settings)


def validate_file() -> None:
    """Let librdkafka judge the properties file once, before any client starts: an unknown
    property or a bad value becomes a ConfigError naming the file and line. The check
    builds a client without brokers, so nothing connects."""
    from confluent_kafka import Consumer, KafkaException

    props = client_properties.load()
    if props.path is None:
        return
    conf = {k: v for k, v in props.kafka.items() if k != "bootstrap.servers"}
    try:
        Consumer({**conf, "group.id": "fraudstream-validate", "logger": _Quiet(), "log_level": 0}).close()
    except (KafkaException, ValueError, TypeError) as exc:
        detail = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        detail = client_properties.scrub(detail, conf)
        named = [k for k in conf if f'"{k}"' in detail or f" {k}" in detail]
        where = props.where(named[0]) if named else str(props.path)
        raise ConfigError(f"{where}: {detail}") from None


# librdkafka error codes that retrying will not fix: the cluster refused who we are.
_AUTH_CODES = {"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED", "_SSL", "TOPIC_AUTHORIZATION_FAILED",
               "CLUSTER_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED"}


def check_connection(bootstrap: str, timeout: float, settings: Settings | None = None) -> Any:
    """Cluster metadata once Kafka at `bootstrap` answers; `KafkaAuthError` as soon as it
    refuses the credentials or the TLS handshake fails, `KafkaUnavailableError` after
    `timeout` seconds of silence. Both one line, without secrets."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    if not bootstrap:
        raise ConfigError("no Kafka cluster configured: set KAFKA_BOOTSTRAP_SERVERS, bootstrap.servers in the "
                          "properties file (--kafka-config), or start the embedded stack (`fraudstream up`)")
    refused: list[Any] = []
    conf = admin_config(bootstrap, {"logger": _Quiet(), "log_level": 0, **(settings or {})})
    conf["error_cb"] = refused.append
    admin = AdminClient(conf)
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            return admin.list_topics(timeout=max(0.05, min(0.5, deadline - time.monotonic())))
        except KafkaException as exc:
            last = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        admin.poll(0)  # serves error_cb
        for err in refused:
            if err.name() in _AUTH_CODES or "authentication" in err.str().lower() or "SSL" in err.str():
                raise KafkaAuthError(_auth_message(bootstrap, err.str(), conf)) from None
        if time.monotonic() >= deadline:
            raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer within {timeout:g} s ({last})")


def _auth_message(bootstrap: str, reason: str, conf: Mapping[str, Any]) -> str:
    # librdkafka's reason starts with the broker's address and ends with its state machine
    reason = reason.split(": ", 1)[1] if reason.startswith(("sasl_", "ssl:", "plaintext:")) else reason
    reason = reason.split(" (after ", 1)[0]
    props = client_properties.load()
    where = f" in {props.path}" if props.path else ""
    user = conf.get("sasl.username")
    who = f" for user {user}" if user else ""
    if "ssl" in reason.lower() or "certificate" in reason.lower():
        hint = f"check ssl.ca.location{where} and that the host names the certificate"
    else:
        hint = f"check sasl.mechanisms, sasl.username and sasl.password{where}"
    return client_properties.scrub(f"Kafka at {bootstrap} refused the connection{who}: {reason}; {hint}",
                                   {k: v for k, v in conf.items() if isinstance(v, str)})


class _Quiet:
    """A librdkafka logger that drops everything: the probe reports what matters itself."""

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None
