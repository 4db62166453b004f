"""What `fraud_models` holds, for the models page.

Every record of the compacted topic is read (compaction may not have run, so a version
may appear more than once: its last record counts): each version (key `<name>@<version>`)
with its offline metrics, threshold and training data, and each model's roles record (key
`<name>`, `fraudstream.core.model_roles`), which says which version is the champion the
scorers score with, which the challenger they shadow-score. A bundle under the key
`<name>` itself (written before versions had keys of their own) is that model's champion
until a roles record says otherwise. The live comparison comes from the KSQL quality
table and the scores follower, joined on MODEL_VERSION by the page.

Promote and roll back call the functions `fraudstream models` calls
(`fraudstream.clients.model_admin`), through `Lifecycle`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fraudstream.core.settings import TOPICS


@dataclass
class ModelVersion:
    name: str
    version: int
    created_ms: int
    threshold: float
    threshold_rule: str
    score_kind: str
    metrics: dict
    training_rows: int
    partition: int
    offset: int
    current: bool = False  # the champion: what the scorers score with
    role: str = ""  # champion | challenger | previous champion | retired | withdrawn

    def as_dict(self) -> dict:
        test = self.metrics.get("test") if isinstance(self.metrics, dict) else None
        test = test if isinstance(test, dict) else {}
        corrected = test.get("prevalence_corrected") if isinstance(test.get("prevalence_corrected"), dict) else {}
        raw = test.get("raw") if isinstance(test.get("raw"), dict) else {}
        return {"name": self.name, "version": self.version, "created_ms": self.created_ms,
                "threshold": self.threshold, "threshold_rule": self.threshold_rule, "score_kind": self.score_kind,
                "current": self.current, "role": self.role, "training_rows": self.training_rows,
                "roc_auc": test.get("roc_auc"), "auprc": raw.get("auprc"),
                "auprc_corrected": corrected.get("auprc"), "precision": raw.get("precision"),
                "recall": raw.get("recall"), "test_rows": test.get("rows"), "test_frauds": test.get("frauds"),
                "offset": self.offset}


def read_models(bootstrap: str, topic: str = TOPICS.models, timeout: float = 10.0) -> list[ModelVersion]:
    """Every version in `topic` with its role, newest version first; [] when the topic
    does not exist. Records that do not decode are left out."""
    from fraudstream.clients.models_topic import MODELS_TOPIC_MAX_MESSAGE_BYTES
    from fraudstream.clients.topic_reader import read_to_end
    from fraudstream.core.model_bundle import ModelBundle, ModelBundleError
    from fraudstream.core.model_roles import Roles, RolesError, is_bundle_bytes, legacy_roles

    versions: dict[tuple[str, int], ModelVersion] = {}  # the last record of each version
    roles: dict[str, Roles | None] = {}  # None: withdrawn (a tombstone on the name)
    settings = {"fetch.message.max.bytes": MODELS_TOPIC_MAX_MESSAGE_BYTES}
    for batch in read_to_end(bootstrap, topic, settings=settings, batch_size=100, timeout=timeout):
        for msg in batch:
            key = (msg.key() or b"").decode("utf-8", "replace")
            value = msg.value()
            if value is None:
                name, _, version = key.rpartition("@")
                if name and version.isdigit():
                    versions.pop((name, int(version)), None)
                else:
                    roles[key] = None
                continue
            if not is_bundle_bytes(value):
                try:
                    roles[key] = Roles.from_bytes(value, key)
                except RolesError:
                    pass
                continue
            try:
                b = ModelBundle.from_bytes(value)
            except ModelBundleError:
                continue
            rows = sum(max(0, r.end_offset - r.start_offset) for r in b.training_offsets)
            versions[(b.name, b.version)] = ModelVersion(b.name, b.version, b.created_ms, float(b.threshold),
                                                         b.threshold_rule, b.score_kind, b.metrics, rows,
                                                         msg.partition(), msg.offset())
            if key == b.name:  # the layout before versions had keys: this one is the champion
                roles[key] = legacy_roles(b.name, b.version, roles.get(key))
    for m in versions.values():
        m.role = _role(roles[m.name], m.version) if m.name in roles else ""
        m.current = m.role == "champion"
    return sorted(versions.values(), key=lambda m: (m.version, m.offset), reverse=True)


def _role(roles: Any, version: int) -> str:
    if roles is None:
        return "withdrawn"
    if version == roles.champion:
        return "champion"
    if version == roles.challenger:
        return "challenger"
    return "previous champion" if version in roles.previous else "retired"


class Lifecycle:
    """Promote and roll back as `fraudstream models` does, for the version the page names
    (its model is found in the topic: several models may share it)."""

    def __init__(self, topic: str = TOPICS.models) -> None:
        self.topic = topic

    def _name_of(self, ep: Any, version: int | None) -> str:
        found = read_models(ep.bootstrap_servers, self.topic)
        for m in found:
            if (version is None and m.role == "champion") or m.version == version:
                return m.name
        raise LookupError(f"no version {version} in {self.topic!r}" if version is not None
                          else f"no model in {self.topic!r} has a champion")

    def promote(self, ep: Any, version: int) -> str:
        from fraudstream.clients import model_admin

        name = self._name_of(ep, version)
        before, after = model_admin.promote(ep.bootstrap_servers, name, version, topic=self.topic)
        return f"{name}: champion v{before.champion} -> v{after.champion}"

    def rollback(self, ep: Any, version: int | None = None) -> str:
        from fraudstream.clients import model_admin

        name = self._name_of(ep, version)
        before, after = model_admin.rollback(ep.bootstrap_servers, name, topic=self.topic)
        return f"{name}: rolled back from v{before.champion} to v{after.champion}"


def lifecycle(topic: str = TOPICS.models) -> Lifecycle:
    """Promote / roll back for the models page."""
    return Lifecycle(topic)


class ModelsCache:
    """`read_models` at most every `ttl_s` (a page load must not read the topic each time)."""

    def __init__(self, ttl_s: float = 3.0) -> None:
        self.ttl_s = ttl_s
        self._at = 0.0
        self._value: list[ModelVersion] = []
        self._error = ""
        self._for = ""

    def get(self, bootstrap: str, topic: str = TOPICS.models) -> tuple[list[ModelVersion], str]:
        if bootstrap == self._for and time.monotonic() - self._at < self.ttl_s:
            return self._value, self._error
        try:
            self._value, self._error = (read_models(bootstrap, topic) if bootstrap else []), \
                ("" if bootstrap else "no cluster configured")
        except Exception as exc:
            self._value, self._error = [], " ".join(str(exc).split())[:300]
        self._at, self._for = time.monotonic(), bootstrap
        return self._value, self._error

    def invalidate(self) -> None:
        self._at = 0.0
