"""Which published version of a model scores (the champion), which is shadow-scored next
to it (the challenger), and how that changes: publish, promote, roll back, auto-promote.

The models topic (`fraudstream.clients.models_topic`) holds, per model name,

* every published version's bundle, key `<name>@<version>` (compaction keeps them all,
  so a rollback always finds the previous champion's bundle), and
* one roles record, key `<name>`, value the JSON of `Roles`: champion, challenger, the
  champions before (newest last) and a sequence number that grows with every change.

Every scorer follows the roles record and takes each change into use between two of its
batches (`scorer.models.ModelWatcher`): the champion writes `fraud_scores`, the challenger
`fraud_scores_shadow`. This module is the pure part: the record's format and the rules of
each transition, with no Kafka, so the CLI, the trainer, a console and the tests apply
one set of rules.

Before this layout the key `<name>` held the newest bundle itself; such a record is still
read: as a published version that is champion (`legacy_roles`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fraudstream.core.errors import FraudstreamError

ROLES_FORMAT = 1
#: rollbacks remember this many former champions
HISTORY = 20


class RolesError(FraudstreamError):
    """A role change that cannot be made (unknown version, nothing to roll back to, ...)."""


def bundle_key(name: str, version: int) -> bytes:
    return f"{name}@{int(version)}".encode("utf-8")


def parse_bundle_key(key: bytes | None, name: str) -> int | None:
    """The version of a bundle key of model `name`, else None."""
    if key is None:
        return None
    prefix = f"{name}@".encode("utf-8")
    if not key.startswith(prefix):
        return None
    try:
        return int(key[len(prefix):].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def roles_key(name: str) -> bytes:
    return name.encode("utf-8")


def is_bundle_bytes(value: bytes | None) -> bool:
    """An Avro object container (a bundle written under the old layout), not a roles record."""
    return value is not None and value[:4] == b"Obj\x01"


@dataclass(frozen=True)
class Roles:
    """The roles of one model name's versions; `seq` grows by one with each change."""

    name: str
    champion: int | None = None
    challenger: int | None = None
    previous: tuple[int, ...] = ()  # former champions, the newest last
    seq: int = 0
    changed_ms: int = 0
    reason: str = ""

    def to_bytes(self) -> bytes:
        d = asdict(self)
        d["previous"] = list(self.previous)
        d["format"] = ROLES_FORMAT
        return json.dumps(d, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> "Roles":
        try:
            d: dict[str, Any] = json.loads(data.decode("utf-8"))
            if d.get("format", 1) > ROLES_FORMAT:
                raise RolesError(f"roles record of {name!r} has format {d['format']}: upgrade fraudstream")
            return cls(name=str(d.get("name", name)), champion=_opt_int(d.get("champion")),
                       challenger=_opt_int(d.get("challenger")),
                       previous=tuple(int(v) for v in d.get("previous", [])), seq=int(d.get("seq", 0)),
                       changed_ms=int(d.get("changed_ms", 0)), reason=str(d.get("reason", "")))
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
            raise RolesError(f"the roles record of model {name!r} does not decode: {exc}") from exc

    def versions(self) -> set[int]:
        return {v for v in (self.champion, self.challenger) if v is not None}

    def _next(self, reason: str, **changes: Any) -> "Roles":
        return replace(self, seq=self.seq + 1, changed_ms=int(time.time() * 1000), reason=reason, **changes)

    # ---- transitions ------------------------------------------------------------------
    def publish(self, version: int, role: str = "challenger") -> "Roles":
        """A new version: the champion when there is none (or `role="champion"`), else
        the challenger (replacing the one before)."""
        if role not in ("challenger", "champion"):
            raise RolesError(f"a version is published as challenger or champion, not {role!r}")
        if self.champion is None or role == "champion":
            return self._champion(version, f"published v{version} as champion")
        if version == self.champion:
            raise RolesError(f"v{version} is the champion already")
        return self._next(f"published v{version} as challenger", challenger=version)

    def promote(self, version: int, why: str = "promoted") -> "Roles":
        if version == self.champion:
            raise RolesError(f"v{version} is the champion already")
        return self._champion(version, f"{why} v{version}")

    def rollback(self) -> "Roles":
        """Back to the champion before; the current one is retired (no role)."""
        if not self.previous:
            raise RolesError(f"model {self.name!r} has no earlier champion to roll back to")
        back = self.previous[-1]
        return self._next(f"rolled back from v{self.champion} to v{back}", champion=back,
                          previous=self.previous[:-1],
                          challenger=None if self.challenger == back else self.challenger)

    def _champion(self, version: int, reason: str) -> "Roles":
        previous = self.previous if self.champion is None else (*self.previous, self.champion)[-HISTORY:]
        return self._next(reason, champion=version, previous=previous,
                          challenger=None if self.challenger == version else self.challenger)


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def legacy_roles(name: str, version: int, before: Roles | None) -> Roles:
    """A bundle written under the old layout (key `<name>`) makes its version champion."""
    base = before or Roles(name=name)
    if base.champion == version:
        return base
    return base.publish(version, role="champion")


@dataclass(frozen=True)
class AutoPromoteRule:
    """Promote the challenger when, on at least `min_labelled` labelled events scored by
    both, its `metric` (f1, precision or recall at each model's own threshold) exceeds the
    champion's by more than `margin` (absolute)."""

    min_labelled: int
    margin: float
    metric: str = "f1"

    def __post_init__(self) -> None:
        if self.metric not in ("f1", "precision", "recall"):
            raise RolesError(f"auto-promotion metric {self.metric!r}: one of f1, precision, recall")
        if self.min_labelled < 1 or not 0 <= self.margin < 1:
            raise RolesError("auto-promotion needs at least 1 labelled event and a margin in [0, 1)")

    @classmethod
    def parse(cls, text: str) -> "AutoPromoteRule":
        """'METRIC:MARGIN@N', e.g. 'f1:0.02@500' (f1 better by 0.02 on 500 labelled events)."""
        try:
            metric, rest = text.split(":", 1)
            margin, n = rest.split("@", 1)
            return cls(min_labelled=int(n), margin=float(margin), metric=metric.strip().lower())
        except ValueError:
            raise RolesError(f"--auto-promote {text!r}: write METRIC:MARGIN@N, e.g. f1:0.02@500") from None

    def __str__(self) -> str:
        return f"{self.metric}:{self.margin:g}@{self.min_labelled}"


@dataclass(frozen=True)
class Confusion:
    """Counts of one model on labelled events."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    def metric(self, name: str) -> float | None:
        return getattr(self, name)


@dataclass(frozen=True)
class Decision:
    promote: bool
    why: str
    labelled: int = 0
    champion: float | None = None
    challenger: float | None = None
    details: dict = field(default_factory=dict)


def decide(rule: AutoPromoteRule, labelled: int, champion: Confusion, challenger: Confusion) -> Decision:
    """Does the rule promote the challenger, given both models' counts on the same
    labelled events? Says why either way."""
    if labelled < rule.min_labelled:
        return Decision(False, f"{labelled} labelled events scored by both, the rule needs {rule.min_labelled}",
                        labelled)
    a, b = champion.metric(rule.metric), challenger.metric(rule.metric)
    if b is None:
        return Decision(False, f"the challenger's {rule.metric} is undefined on these events", labelled, a, b)
    base = 0.0 if a is None else a
    if b > base + rule.margin:
        return Decision(True, f"challenger {rule.metric} {b:.4f} > champion {base:.4f} + {rule.margin:g} on "
                              f"{labelled} labelled events", labelled, a, b)
    return Decision(False, f"challenger {rule.metric} {b:.4f} is not above champion {base:.4f} + "
                           f"{rule.margin:g} ({labelled} labelled events)", labelled, a, b)
