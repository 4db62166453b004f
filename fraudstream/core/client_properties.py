"""The user's client properties file: how every client reaches a secured cluster.

Moving from the embedded stack to one's own Kafka (Confluent Cloud, MSK, a company
cluster) means TLS and SASL settings for every client, plus credentials for the schema
registry and the KSQL server. They live in one file, in the format Confluent's examples
use for librdkafka clients (Java-style `key=value` lines, `#` comments), named by
`--kafka-config FILE` or `KAFKA_CONFIG_FILE`:

    bootstrap.servers=pkc-xxxxx.europe-west1.gcp.confluent.cloud:9092
    security.protocol=SASL_SSL
    sasl.mechanisms=PLAIN
    sasl.username=<api key>
    sasl.password=<api secret>
    schema.registry.url=https://psrc-xxxxx.europe-west1.gcp.confluent.cloud
    basic.auth.credentials.source=USER_INFO
    basic.auth.user.info=<registry key>:<registry secret>
    ksql.url=https://pksqlc-xxxxx.europe-west1.gcp.confluent.cloud:443
    ksql.basic.auth.user.info=<ksqlDB key>:<ksqlDB secret>

Keys are split three ways: `schema.registry.*` and `basic.auth.*` configure the schema
registry client (confluent-kafka's SchemaRegistryClient), `ksql.*` the KSQL REST client,
everything else is a librdkafka property for every Kafka client (producers, KSQL engine,
trainer, scorer, monitor, CLI), merged over the project's defaults in
`fraudstream.clients.kafka_config`. This module only reads and splits the file and knows
which values are secret; it lives in core because the endpoints (core.settings) and the
registry client (core.avro_wire) read it too.

Hand-written rather than a library's: Python has no `.properties` reader in the standard
library, and the subset Confluent's files use (one `key=value` or `key: value` per line,
comments, trailing-backslash continuations) is a few lines; jproperties would add a
dependency for escapes these files never contain.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fraudstream.core.errors import ConfigError

ENV_CONFIG_FILE = "KAFKA_CONFIG_FILE"

# Values never printed, logged or put into an error message.
SECRET_KEYS = frozenset({
    "sasl.password", "sasl.oauthbearer.client.secret", "sasl.jaas.config", "ssl.key.password",
    "ssl.keystore.password", "ssl.key.pem", "ssl_key", "ssl.truststore.password",
    "basic.auth.user.info", "bearer.auth.token", "bearer.auth.client.secret",
    "schema.registry.basic.auth.user.info", "ksql.basic.auth.user.info", "ksql.ssl.key.password",
})
REDACTED = "***"

# Java clients' properties that librdkafka does not take, with what to write instead.
JAVA_ONLY = {
    "sasl.jaas.config": "librdkafka takes sasl.username and sasl.password instead",
    "sasl.mechanism": "librdkafka spells it sasl.mechanisms",
    "ssl.truststore.location": "librdkafka takes a PEM file: ssl.ca.location",
    "ssl.truststore.password": "librdkafka takes a PEM file: ssl.ca.location",
    "client.dns.lookup": "librdkafka has no such property; leave it out",
    "key.serializer": "leave serializers out: fraudstream chooses them",
    "value.serializer": "leave serializers out: fraudstream chooses them",
    "key.deserializer": "leave deserializers out: fraudstream chooses them",
    "value.deserializer": "leave deserializers out: fraudstream chooses them",
}

# File keys of the schema registry client -> confluent-kafka SchemaRegistryClient keys.
_REGISTRY_KEYS = {
    "schema.registry.url": "url",
    "basic.auth.credentials.source": "basic.auth.credentials.source",
    "basic.auth.user.info": "basic.auth.user.info",
    "schema.registry.basic.auth.credentials.source": "basic.auth.credentials.source",
    "schema.registry.basic.auth.user.info": "basic.auth.user.info",
    "schema.registry.ssl.ca.location": "ssl.ca.location",
    "schema.registry.ssl.certificate.location": "ssl.certificate.location",
    "schema.registry.ssl.key.location": "ssl.key.location",
    "schema.registry.ssl.key.password": "ssl.key.password",
}
_KSQL_KEYS = {
    "ksql.url": "url",
    "ksql.basic.auth.user.info": "basic.auth.user.info",
    "ksql.ssl.ca.location": "ssl.ca.location",
    "ksql.ssl.certificate.location": "ssl.certificate.location",
    "ksql.ssl.key.location": "ssl.key.location",
    "ksql.ssl.key.password": "ssl.key.password",
}
_PATH_KEYS = {"ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.crl.location",
              "ssl.keystore.location"}


@dataclass(frozen=True)
class ClientProperties:
    """The file's settings, split by client; empty when no file is configured."""

    path: Path | None = None
    kafka: dict[str, str] = field(default_factory=dict)
    schema_registry: dict[str, str] = field(default_factory=dict)
    ksql: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # file key -> line, for error messages

    def where(self, key: str) -> str:
        """`FILE:LINE` of a key, for messages that send the user to the right line."""
        line = self.lines.get(key)
        return f"{self.path}:{line}" if self.path and line else str(self.path or "the client properties")


def parse_properties(text: str, source: str = "<properties>") -> tuple[dict[str, str], dict[str, int]]:
    """`key=value` / `key: value` lines; `#` and `!` comments; a trailing backslash
    continues a line. Returns the values and the line each key was set on."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip() if not pending else raw.lstrip()
        if not pending:
            start = number
            if not line or line[0] in "#!":
                continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if not match:
            raise ConfigError(f"{source}:{start}: expected `key=value`, found {line[:60]!r}")
        key, value = match.group(1), match.group(2).strip()
        values[key] = value
        lines[key] = start
    return values, lines


_cache: dict[tuple[str, int, int], ClientProperties] = {}


def load(path: str | Path | None = None) -> ClientProperties:
    """Read and split the properties file (`path`, else $KAFKA_CONFIG_FILE, else none).
    Every client asks, so the result is kept until the file changes."""
    chosen = path if path is not None else os.environ.get(ENV_CONFIG_FILE, "").strip()
    if not chosen:
        return ClientProperties()
    file = Path(chosen).expanduser()
    try:
        stat = file.stat()
        key = (str(file), stat.st_mtime_ns, stat.st_size)
        if key in _cache:
            return _cache[key]
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the Kafka client properties {file} ({ENV_CONFIG_FILE} / --kafka-config): "
                          f"{exc.strerror or exc}") from exc
    props = _split(file, text)
    _cache.clear()
    _cache[key] = props
    return props


def _split(file: Path, text: str) -> ClientProperties:
    values, lines = parse_properties(text, str(file))
    props = ClientProperties(path=file.resolve(), lines=lines)
    for key, value in values.items():
        if key in JAVA_ONLY:
            raise ConfigError(f"{file}:{lines[key]}: {key} is a Java client property; {JAVA_ONLY[key]}")
        if (key in _PATH_KEYS or key.endswith(".location")) and value not in ("", "probe"):
            value = str((file.parent / Path(value).expanduser()).resolve())
        if key in _REGISTRY_KEYS:
            props.schema_registry[_REGISTRY_KEYS[key]] = value
        elif key.startswith("schema.registry."):
            raise ConfigError(f"{file}:{lines[key]}: unknown schema registry setting {key} "
                              f"(known: {', '.join(sorted(_REGISTRY_KEYS))})")
        elif key in _KSQL_KEYS:
            props.ksql[_KSQL_KEYS[key]] = value
        elif key.startswith("ksql."):
            raise ConfigError(f"{file}:{lines[key]}: unknown KSQL setting {key} (known: {', '.join(sorted(_KSQL_KEYS))})")
        else:
            props.kafka[key] = value
    _credentials_source(props)
    return props


def _credentials_source(props: ClientProperties) -> None:
    """`basic.auth.credentials.source` (Confluent's Java-style key) is not a setting of
    confluent-kafka's Python registry client: USER_INFO needs `basic.auth.user.info`,
    SASL_INHERIT takes the Kafka SASL user and password, URL the URL's user info."""
    source = props.schema_registry.pop("basic.auth.credentials.source", "").strip().upper()
    key = next((k for k in ("basic.auth.credentials.source", "schema.registry.basic.auth.credentials.source")
                if k in props.lines), "")
    if source in ("", "URL"):
        return
    if source == "USER_INFO":
        if not props.schema_registry.get("basic.auth.user.info"):
            raise ConfigError(f"{props.where(key)}: basic.auth.credentials.source=USER_INFO needs "
                              "basic.auth.user.info=KEY:SECRET")
    elif source == "SASL_INHERIT":
        user, password = props.kafka.get("sasl.username"), props.kafka.get("sasl.password")
        if not user:
            raise ConfigError(f"{props.where(key)}: SASL_INHERIT needs sasl.username and sasl.password")
        props.schema_registry["basic.auth.user.info"] = f"{user}:{password or ''}"
    else:
        raise ConfigError(f"{props.where(key)}: basic.auth.credentials.source must be USER_INFO, SASL_INHERIT "
                          f"or URL, not {source}")


def is_secret(key: str) -> bool:
    return key in SECRET_KEYS or key.endswith((".password", ".secret"))


def redact(conf: dict) -> dict:
    """A copy of a client configuration fit to print: secrets replaced, URLs without user info."""
    out = {}
    for key, value in conf.items():
        if is_secret(key):
            out[key] = REDACTED
        elif isinstance(value, str) and "://" in value:
            out[key] = redact_url(value)
        else:
            out[key] = value
    return out


def redact_url(url: str) -> str:
    """`https://user:secret@host/x` -> `https://user:***@host/x`; others unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{REDACTED}@{host}"))


def scrub(text: str, conf: dict | None = None) -> str:
    """`text` with every secret value of `conf` (default: the configured file's) replaced,
    for messages that quote something a library said."""
    if conf is None:
        props = load()
        conf = {**props.kafka, **props.schema_registry, **{f"ksql.{k}": v for k, v in props.ksql.items()}}
    for key, value in conf.items():
        if is_secret(key) and isinstance(value, str) and len(value) >= 3:
            text = text.replace(value, REDACTED)
            if key.endswith("user.info") and ":" in value:
                text = text.replace(value.split(":", 1)[1], REDACTED)
    return text
