"""The models topic (`fraud_models`): publish a `ModelBundle` as a new version, read the
roles and versions back, change the roles (promote, roll back).

Layout (`fraudstream.core.model_roles`): each version's bundle under key
`<name>@<version>`, value `ModelBundle.to_bytes()`; the roles (champion, challenger,
former champions) under key `<name>`. The topic is compacted: every version and the
latest roles record stay; a tombstone on `<name>` withdraws the model. `publish_bundle` creates the topic with
`cleanup.policy=compact` and a `max.message.bytes` large enough for a model;
`latest_bundle` reads it back. The format itself is `fraudstream.core.model_bundle`
(no Kafka there); this module is its Kafka side, used by the trainer and the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fraudstream.clients.kafka_config import admin_config, producer_config
from fraudstream.clients.topic_reader import TopicReadError, read_to_end
from fraudstream.core.errors import KafkaUnavailableError
from fraudstream.core.model_bundle import ModelBundle, ModelBundleError
from fraudstream.core.model_roles import (Roles, RolesError, bundle_key, is_bundle_bytes, legacy_roles,
                                          parse_bundle_key, roles_key)
from fraudstream.core.settings import TOPICS

#: Topic-level `max.message.bytes` of `fraud_models`. The default autoencoder is about
#: 40 KB; 32 MiB leaves room for much wider layers and stays below the broker's
#: `socket.request.max.bytes` (100 MB).
MODELS_TOPIC_MAX_MESSAGE_BYTES = 32 * 1024 * 1024

def _admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient(admin_config(bootstrap))


def ensure_models_topic(
    bootstrap: str,
    topic: str = TOPICS.models,
    max_message_bytes: int = MODELS_TOPIC_MAX_MESSAGE_BYTES,
    timeout: float = 30.0,
) -> None:
    """Create `topic` compacted (one partition, so order per name is total) if missing.

    An existing topic is made compacted if it is not (a client may have auto-created it
    with the broker defaults) and a `max.message.bytes` smaller than needed is raised,
    since otherwise publishing a larger model fails on the broker.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       NewTopic, ResourceType)

    admin = _admin(bootstrap)
    try:
        meta = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer: {exc}") from exc
    if topic not in meta.topics or meta.topics[topic].error is not None:
        new = NewTopic(topic, num_partitions=1, replication_factor=-1, config={
            "cleanup.policy": "compact",
            "max.message.bytes": str(max_message_bytes),
        })
        fut = admin.create_topics([new], operation_timeout=timeout)[topic]
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise ModelBundleError(f"cannot create the models topic {topic!r}: {exc}") from exc
        _wait_topic_visible(admin, topic, timeout)
        return
    res = ConfigResource(ResourceType.TOPIC, topic)
    try:
        configs = admin.describe_configs([res])[res].result(timeout=timeout)
    except KafkaException as exc:
        raise ModelBundleError(f"cannot read the configuration of {topic!r}: {exc}") from exc
    changes = []
    if "compact" not in configs["cleanup.policy"].value:
        # e.g. auto-created by a client that asked for its metadata before the first publish
        changes.append(ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET))
    current = int(configs["max.message.bytes"].value)
    if current < max_message_bytes:
        changes.append(ConfigEntry("max.message.bytes", str(max_message_bytes),
                                   incremental_operation=AlterConfigOpType.SET))
    if changes:
        res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=changes)
        try:
            admin.incremental_alter_configs([res])[res].result(timeout=timeout)
        except KafkaException as exc:
            raise ModelBundleError(
                f"topic {topic!r} needs {', '.join(f'{c.name}={c.value}' for c in changes)} "
                f"(it has cleanup.policy={configs['cleanup.policy'].value}, max.message.bytes={current}) "
                f"and changing it failed: {exc}"
            ) from exc


def _wait_topic_visible(admin, topic: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = admin.list_topics(topic=topic, timeout=timeout)
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return
        time.sleep(0.1)
    raise ModelBundleError(f"topic {topic!r} was created but did not become visible within {timeout:.0f}s")


@dataclass
class ModelsState:
    """What the models topic says about one model name: its roles and every published
    version's bundle bytes (decoded on demand)."""

    name: str
    roles: Roles | None = None
    bundles: dict[int, bytes] = field(default_factory=dict)
    where: dict[int, str] = field(default_factory=dict)  # version -> "partition P offset O"

    def apply(self, key: bytes | None, value: bytes | None, where: str) -> bool:
        """Take one record of the topic into account; True when it concerned this name."""
        version = parse_bundle_key(key, self.name)
        if version is not None:
            if value is None:
                self.bundles.pop(version, None)
            else:
                self.bundles[version] = value
                self.where[version] = where
            return True
        if key != roles_key(self.name):
            return False
        if value is None:  # a tombstone withdraws the model: no roles, nothing scores
            self.roles = None
        elif is_bundle_bytes(value):  # written before versions had keys of their own
            bundle = ModelBundle.from_bytes(value)
            self.bundles[bundle.version] = value
            self.where[bundle.version] = where
            self.roles = legacy_roles(self.name, bundle.version, self.roles)
        else:
            self.roles = Roles.from_bytes(value, self.name)
        return True

    @property
    def newest_version(self) -> int | None:
        return max(self.bundles) if self.bundles else None

    def bundle(self, version: int) -> ModelBundle:
        if version not in self.bundles:
            raise RolesError(f"model {self.name!r} has no published version {version} "
                             f"(published: {', '.join(map(str, sorted(self.bundles))) or 'none'})")
        try:
            return ModelBundle.from_bytes(self.bundles[version])
        except ModelBundleError as exc:
            raise ModelBundleError(f"model {self.name!r} v{version} ({self.where.get(version, '?')}) "
                                   f"does not decode: {exc}") from exc


def read_state(bootstrap: str, topic: str, name: str, timeout: float = 30.0) -> ModelsState:
    """The roles and bundles of `name`, read from the beginning to the end offsets of now."""
    from confluent_kafka import KafkaException

    state = ModelsState(name)
    settings = {"fetch.message.max.bytes": MODELS_TOPIC_MAX_MESSAGE_BYTES}
    try:
        for batch in read_to_end(bootstrap, topic, settings=settings, batch_size=100, timeout=timeout):
            for msg in batch:
                state.apply(msg.key(), msg.value(), f"partition {msg.partition()} offset {msg.offset()}")
    except KafkaException as exc:
        raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer: {exc}") from exc
    except TopicReadError as exc:
        raise ModelBundleError(str(exc)) from exc
    return state


class _Writer:
    """A transactional producer for one model name's records. Its transactional id is the
    name's, so of two processes changing the same model's roles at once the later one
    fences the earlier, whose commit fails: a role change is never lost by a race."""

    def __init__(self, bootstrap: str, topic: str, name: str, timeout: float) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.timeout = timeout
        self.delivered: dict[bytes, tuple[int, int]] = {}
        self.errors: list[str] = []
        self.producer = Producer(producer_config(bootstrap, {
            "transactional.id": f"fraudstream-models.{topic}.{name}",
            "enable.idempotence": True,
            "acks": "all",
            "message.max.bytes": MODELS_TOPIC_MAX_MESSAGE_BYTES,
            "compression.type": "none",
            "transaction.timeout.ms": int(max(timeout, 10.0) * 1000),
            "on_delivery": self._on_delivery,
        }))
        self._call("starting the transaction", lambda: self.producer.init_transactions(timeout))

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.delivered[msg.key()] = (msg.partition(), msg.offset())

    def _call(self, what: str, fn) -> None:
        from confluent_kafka import KafkaException

        try:
            fn()
        except KafkaException as exc:
            raise ModelBundleError(f"writing to {self.topic!r}: {what} failed: {exc} (did another process change "
                                   f"this model's roles at the same moment? then try again)") from exc

    def write(self, records: list[tuple[bytes, bytes]]) -> None:
        """All records in one transaction: the scorers see all of them or none."""
        self._call("beginning the transaction", self.producer.begin_transaction)
        for key, value in records:
            self.producer.produce(self.topic, key=key, value=value)
        self._call("committing", lambda: self.producer.commit_transaction(self.timeout))
        if self.errors:
            raise ModelBundleError(f"writing to {self.topic!r} failed: {self.errors[0]}")


def publish_bundle(
    bootstrap: str,
    bundle: ModelBundle,
    topic: str = TOPICS.models,
    timeout: float = 60.0,
    role: str = "champion",
) -> tuple[int, int]:
    """Publish `bundle` as a new version of its model, as `role`: `champion` (the scorers
    switch to it; what `fraudstream train --publish-as champion` and the API do) or
    `challenger` (shadow-scored; the trainer's default). The first version of a name is
    always the champion. Returns the bundle record's (partition, offset).

    The bundle (key `<name>@<version>`) and the new roles (key `<name>`) are written in one
    Kafka transaction after acks from all replicas, so a return means both are durable and
    every scorer will see the version and its role together.
    """
    payload = bundle.to_bytes()
    if len(payload) > MODELS_TOPIC_MAX_MESSAGE_BYTES - 4096:
        raise ModelBundleError(
            f"bundle {bundle.name!r} is {len(payload)} bytes, more than the models topic accepts "
            f"({MODELS_TOPIC_MAX_MESSAGE_BYTES}): use smaller layers"
        )
    ensure_models_topic(bootstrap, topic, timeout=timeout)
    writer = _Writer(bootstrap, topic, bundle.name, timeout)
    state = read_state(bootstrap, topic, bundle.name, timeout=timeout)
    if bundle.version in state.bundles:
        raise ModelBundleError(f"model {bundle.name!r} v{bundle.version} is published already")
    roles = (state.roles or Roles(name=bundle.name)).publish(bundle.version, role)
    key = bundle_key(bundle.name, bundle.version)
    writer.write([(key, payload), (roles_key(bundle.name), roles.to_bytes())])
    return writer.delivered[key]


def change_roles(bootstrap: str, topic: str, name: str, change: Callable[[Roles], Roles],
                 timeout: float = 60.0) -> tuple[Roles, Roles]:
    """Apply `change` to the current roles of `name` and write the result; (before, after).
    Every version the new roles name must be published (its bundle must decode)."""
    writer = _Writer(bootstrap, topic, name, timeout)
    state = read_state(bootstrap, topic, name, timeout=timeout)
    if state.roles is None:
        raise RolesError(f"model {name!r} has no champion in {topic!r} (nothing published, or withdrawn)")
    after = change(state.roles)
    for version in after.versions():
        state.bundle(version)  # raises when missing or undecodable
    writer.write([(roles_key(name), after.to_bytes())])
    return state.roles, after


def latest_bundle(
    bootstrap: str,
    topic: str = TOPICS.models,
    name: str = "fraud-autoencoder",
    timeout: float = 30.0,
) -> ModelBundle | None:
    """The champion of `name`: the bundle the scorers score with; None when there is no such
    topic or model, or the model was withdrawn with a tombstone on its roles key.

    Reads every partition from the beginning to the end offsets taken at the start
    (`read_state`). A champion bundle that does not decode raises `ModelBundleError`
    naming its partition and offset.
    """
    state = read_state(bootstrap, topic, name, timeout=timeout)
    if state.roles is None or state.roles.champion is None:
        return None
    return state.bundle(state.roles.champion)
