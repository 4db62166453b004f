"""Model administration: what `fraudstream models` does, as functions a console can call.

* `list_versions` — every published version of a model with its role, kind, threshold
  and offline (test-split) metrics, plus the live comparison the KSQL tables hold for
  each champion/challenger pair (`ksql/monitoring/08_champion_challenger.ksql`);
* `promote` / `rollback` — change the champion for every scorer (each takes the change
  into use between two of its batches, within about a second: the watchers poll the
  models topic every 0.5 s and keep the challenger and the last champions prepared);
* `auto_promote` — apply an `AutoPromoteRule` to the live comparison of the current pair.

Role changes go through `fraudstream.clients.models_topic.change_roles` (one
transactional write of the roles record); the rules of each change are
`fraudstream.core.model_roles`. The browser console of issue 17 calls these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fraudstream.clients.models_topic import change_roles, read_state
from fraudstream.core.model_bundle import ModelBundleError
from fraudstream.core.model_roles import AutoPromoteRule, Confusion, Decision, Roles, decide
from fraudstream.core.settings import TOPICS

#: the KSQL tables `fraudstream models` reads (ksql/monitoring/08_champion_challenger.ksql)
COMPARISON_TABLE = "FRAUD_CHAMPION_CHALLENGER"
LABELLED_TABLE = "FRAUD_CHAMPION_CHALLENGER_LABELLED"


@dataclass
class VersionInfo:
    version: int
    role: str  # champion | challenger | previous champion | retired
    kind: str
    threshold: float
    threshold_rule: str
    created_ms: int
    offline: dict[str, Any]  # test-split figures of the training run


@dataclass
class Comparison:
    """What the KSQL tables say about one champion/challenger pair on the events both scored."""

    champion: int
    challenger: int
    events: int = 0
    champion_alerts: int = 0
    challenger_alerts: int = 0
    both_alerts: int = 0
    score_correlation: float | None = None
    labelled: int = 0
    frauds: int = 0
    champion_counts: Confusion = field(default_factory=Confusion)
    challenger_counts: Confusion = field(default_factory=Confusion)

    @property
    def champion_alert_rate(self) -> float | None:
        return self.champion_alerts / self.events if self.events else None

    @property
    def challenger_alert_rate(self) -> float | None:
        return self.challenger_alerts / self.events if self.events else None


@dataclass
class ModelsReport:
    name: str
    roles: Roles | None
    versions: list[VersionInfo]
    comparisons: list[Comparison]
    live_error: str = ""  # why the live comparison is missing (no KSQL, tables not created)


def list_versions(bootstrap: str, name: str, topic: str = TOPICS.models, ksql_url: str = "",
                  timeout: float = 30.0) -> ModelsReport:
    state = read_state(bootstrap, topic, name, timeout=timeout)
    roles = state.roles
    versions = []
    for v in sorted(state.bundles, reverse=True):
        try:
            b = state.bundle(v)
        except ModelBundleError as exc:
            versions.append(VersionInfo(v, _role(roles, v), "undecodable", float("nan"), str(exc), 0, {}))
            continue
        test = b.metrics.get("test", {}) if isinstance(b.metrics, dict) else {}
        offline = {}
        if isinstance(test, dict) and "roc_auc" in test:
            offline = {"roc_auc": test.get("roc_auc"), "auprc": test.get("raw", {}).get("auprc"),
                       "auprc_corrected": test.get("prevalence_corrected", {}).get("auprc"),
                       "precision": test.get("raw", {}).get("precision"), "recall": test.get("raw", {}).get("recall"),
                       "rows": test.get("rows"), "frauds": test.get("frauds")}
        versions.append(VersionInfo(v, _role(roles, v), b.kind, b.threshold, b.threshold_rule, b.created_ms, offline))
    comparisons: list[Comparison] = []
    live_error = ""
    if ksql_url:
        try:
            comparisons = live_comparisons(ksql_url)
        except Exception as exc:  # noqa: BLE001 - the live part is optional: say why it is missing
            live_error = f"no live comparison from {ksql_url}: {exc}"
    else:
        live_error = "no KSQL server configured (KSQL_URL): no live comparison"
    return ModelsReport(name, roles, versions, comparisons, live_error)


def _role(roles: Roles | None, v: int) -> str:
    if roles is None:
        return "withdrawn"
    if v == roles.champion:
        return "champion"
    if v == roles.challenger:
        return "challenger"
    if v in roles.previous:
        return "previous champion"
    return "retired"


def _num(row: dict, key: str, default: Any = 0) -> Any:
    v = row.get(key)
    return default if v is None else v


def live_comparisons(ksql_url: str, timeout: float = 30.0) -> list[Comparison]:
    """The rows of the comparison tables, by pull queries (table scans)."""
    from fraudstream.clients.ksql_rest import KsqlClient

    with KsqlClient.from_settings(ksql_url, timeout=timeout) as client:
        pairs: dict[str, Comparison] = {}
        for row in _rows(client, f"SELECT * FROM {COMPARISON_TABLE};"):
            c = Comparison(champion=int(row["CHAMPION_VERSION"]), challenger=int(row["CHALLENGER_VERSION"]),
                           events=int(_num(row, "EVENTS")), champion_alerts=int(_num(row, "CHAMPION_ALERTS")),
                           challenger_alerts=int(_num(row, "CHALLENGER_ALERTS")),
                           both_alerts=int(_num(row, "BOTH_ALERTS")),
                           score_correlation=row.get("SCORE_CORRELATION"))
            pairs[str(row["PAIR"])] = c
        try:
            labelled = _rows(client, f"SELECT * FROM {LABELLED_TABLE};")
        except Exception:  # noqa: BLE001 - the labels part needs the labels stream: optional
            labelled = []
        for row in labelled:
            c = pairs.get(str(row["PAIR"]))
            if c is None:
                continue
            c.labelled = int(_num(row, "LABELLED"))
            c.frauds = int(_num(row, "FRAUDS"))
            c.champion_counts = Confusion(int(_num(row, "CHAMPION_TP")), int(_num(row, "CHAMPION_FP")),
                                          int(_num(row, "CHAMPION_FN")), int(_num(row, "CHAMPION_TN")))
            c.challenger_counts = Confusion(int(_num(row, "CHALLENGER_TP")), int(_num(row, "CHALLENGER_FP")),
                                            int(_num(row, "CHALLENGER_FN")), int(_num(row, "CHALLENGER_TN")))
    return sorted(pairs.values(), key=lambda c: (c.champion, c.challenger))


def _rows(client, sql: str) -> list[dict]:
    header: list[str] | None = None
    rows = []
    for item in client.query(sql):
        if isinstance(item, dict) and "columnNames" in item:
            header = [str(c).upper() for c in item["columnNames"]]
        elif isinstance(item, list) and header is not None:
            rows.append(dict(zip(header, item)))
    return rows


def promote(bootstrap: str, name: str, version: int, topic: str = TOPICS.models,
            timeout: float = 60.0) -> tuple[Roles, Roles]:
    """Make `version` (published) the champion; the current one becomes the one a rollback
    returns to. (before, after)."""
    return change_roles(bootstrap, topic, name, lambda r: r.promote(version), timeout=timeout)


def rollback(bootstrap: str, name: str, topic: str = TOPICS.models, timeout: float = 60.0) -> tuple[Roles, Roles]:
    """Back to the champion before the current one. (before, after)."""
    return change_roles(bootstrap, topic, name, lambda r: r.rollback(), timeout=timeout)


def auto_promote(bootstrap: str, name: str, rule: AutoPromoteRule, ksql_url: str, topic: str = TOPICS.models,
                 timeout: float = 60.0) -> Decision:
    """Promote the challenger if `rule` says so on the live comparison of the current pair."""
    state = read_state(bootstrap, topic, name, timeout=timeout)
    roles = state.roles
    if roles is None or roles.challenger is None or roles.champion is None:
        return Decision(False, f"model {name!r} has no challenger")
    pair = next((c for c in live_comparisons(ksql_url) if (c.champion, c.challenger) == (roles.champion,
                                                                                          roles.challenger)), None)
    if pair is None:
        return Decision(False, f"no event was scored by both v{roles.champion} and v{roles.challenger} yet")
    decision = decide(rule, pair.labelled, pair.champion_counts, pair.challenger_counts)
    if decision.promote:
        challenger = roles.challenger
        change_roles(bootstrap, topic, name,
                     lambda r: r.promote(challenger, why=f"auto-promoted ({rule}: {decision.why})")
                     if r.challenger == challenger else r, timeout=timeout)
    return decision
