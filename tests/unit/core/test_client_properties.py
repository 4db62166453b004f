"""The client properties file: parsed as Confluent's examples write it, split by client,
merged over the defaults without overriding what the code's guarantees rest on, and
never shown with its secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.clients import kafka_config
from fraudstream.core import client_properties
from fraudstream.core.errors import ConfigError
from fraudstream.core.settings import Endpoints

CONFLUENT_EXAMPLE = """\
# Required connection configs for Kafka producer, consumer, and admin
bootstrap.servers=pkc-abcde.europe-west1.gcp.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=KAFKAKEY
sasl.password=kafka/secret+with=signs
! a Java-style comment
# Best practice for higher availability in librdkafka clients prior to 1.7
session.timeout.ms: 45000
ssl.ca.location=certs/ca.pem

# Required connection configs for Confluent Cloud Schema Registry
schema.registry.url=https://psrc-xyz.europe-west1.gcp.confluent.cloud
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=SRKEY:sr-secret
ksql.url=https://pksqlc-1.europe-west1.gcp.confluent.cloud:443
ksql.basic.auth.user.info=KSQLKEY:ksql-secret
linger.ms = \\
   50
"""


@pytest.fixture
def props_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "client.properties"
    path.write_text(CONFLUENT_EXAMPLE)
    monkeypatch.setenv("KAFKA_CONFIG_FILE", str(path))
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "KSQL_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_confluents_format_is_split_by_client(props_file: Path):
    props = client_properties.load()
    assert props.kafka["sasl.password"] == "kafka/secret+with=signs"  # '=' inside a value stays
    assert props.kafka["session.timeout.ms"] == "45000"  # `key: value`
    assert props.kafka["linger.ms"] == "50"  # continuation line
    assert props.kafka["ssl.ca.location"] == str(props_file.parent / "certs" / "ca.pem")  # relative to the file
    assert props.schema_registry == {"url": "https://psrc-xyz.europe-west1.gcp.confluent.cloud",
                                     "basic.auth.user.info": "SRKEY:sr-secret"}
    assert props.ksql == {"url": "https://pksqlc-1.europe-west1.gcp.confluent.cloud:443",
                          "basic.auth.user.info": "KSQLKEY:ksql-secret"}
    assert not any(k.startswith(("schema.registry", "basic.auth", "ksql")) for k in props.kafka)
    assert props.where("sasl.password") == f"{props_file.resolve()}:6"


def test_endpoints_come_from_the_file_unless_the_environment_sets_them(props_file: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    ep = Endpoints.from_env()
    assert ep.bootstrap_servers == "pkc-abcde.europe-west1.gcp.confluent.cloud:9092"
    assert ep.schema_registry_url == "https://psrc-xyz.europe-west1.gcp.confluent.cloud"
    assert ep.ksql_url == "https://pksqlc-1.europe-west1.gcp.confluent.cloud:443"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "other:9092")
    assert Endpoints.from_env().bootstrap_servers == "other:9092"


def test_the_file_is_merged_over_the_defaults_but_not_over_the_guarantees(props_file: Path):
    conf = kafka_config.consumer_config("broker:9092", "fraudstream-scorer", {
        "isolation.level": "read_committed", "enable.auto.commit": False, "session.timeout.ms": 10_000,
        "linger.ms": 5})
    assert conf["bootstrap.servers"] == "broker:9092"  # the explicit endpoint wins over the file's
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.username"] == "KAFKAKEY"
    assert conf["session.timeout.ms"] == "45000" and conf["linger.ms"] == "50"  # tuning: the file wins
    assert conf["group.id"] == "fraudstream-scorer" and conf["isolation.level"] == "read_committed"
    assert conf["enable.auto.commit"] is False


def test_a_file_cannot_switch_off_exactly_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "c.properties"
    path.write_text("isolation.level=read_uncommitted\nenable.auto.commit=true\ntransactional.id=mine\n")
    monkeypatch.setenv("KAFKA_CONFIG_FILE", str(path))
    conf = kafka_config.producer_config("b:1", {"transactional.id": "fraudstream-scorer.0",
                                                "enable.idempotence": True})
    assert conf["transactional.id"] == "fraudstream-scorer.0"
    consumer = kafka_config.consumer_config("b:1", "g", {"isolation.level": "read_committed",
                                                         "enable.auto.commit": False})
    assert consumer["isolation.level"] == "read_committed" and consumer["enable.auto.commit"] is False


def test_without_a_file_nothing_changes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KAFKA_CONFIG_FILE", raising=False)
    assert kafka_config.producer_config("b:1", {"linger.ms": 5}) == {"bootstrap.servers": "b:1", "linger.ms": 5}


def test_secrets_are_redacted_everywhere_they_could_be_shown(props_file: Path):
    props = client_properties.load()
    shown = client_properties.redact({**props.kafka, **props.schema_registry})
    text = repr(shown)
    for secret in ("kafka/secret+with=signs", "sr-secret"):
        assert secret not in text
    assert shown["sasl.username"] == "KAFKAKEY"
    assert client_properties.redact_url("https://u:pw@h.example:8081/x") == "https://u:***@h.example:8081/x"
    assert client_properties.redact_url("https://h.example") == "https://h.example"
    message = "auth failed for KAFKAKEY with kafka/secret+with=signs and sr-secret"
    assert client_properties.scrub(message) == "auth failed for KAFKAKEY with *** and ***"


@pytest.mark.parametrize("line, expected", [
    ("sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required;",
     "c.properties:2: sasl.jaas.config is a Java client property; librdkafka takes sasl.username"),
    ("ssl.truststore.location=/x.jks", "c.properties:2: ssl.truststore.location is a Java client property"),
    ("schema.registry.basic.auth.userinfo=a:b", "c.properties:2: unknown schema registry setting"),
    ("this is not a property line", ""),
])
def test_mistakes_name_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, expected: str):
    path = tmp_path / "c.properties"
    path.write_text(f"# comment\n{line}\n")
    monkeypatch.setenv("KAFKA_CONFIG_FILE", str(path))
    if not expected:  # a key with spaces and no separator is read as `key value`, librdkafka judges it
        with pytest.raises(ConfigError, match=r"c\.properties:2: No such configuration property"):
            kafka_config.validate_file()
        return
    with pytest.raises(ConfigError) as info:
        client_properties.load()
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_librdkafka_judges_names_and_values_with_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "c.properties"
    monkeypatch.setenv("KAFKA_CONFIG_FILE", str(path))
    path.write_text("security.protocol=SASL_SSL\nsasl.password=hunter22\nsocket.timeout.ms=soon\n")
    with pytest.raises(ConfigError) as info:
        kafka_config.validate_file()
    assert str(info.value).startswith(f"{path.resolve()}:3: ") and "hunter22" not in str(info.value)
    path.write_text("security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=u\n"
                    "sasl.password=hunter22\nsession.timeout.ms=45000\n")
    kafka_config.validate_file()  # a good file passes


def test_a_missing_file_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KAFKA_CONFIG_FILE", str(tmp_path / "nope.properties"))
    with pytest.raises(ConfigError, match="cannot read the Kafka client properties .*nope.properties"):
        Endpoints.from_env()
