"""Role changes: publish, promote, roll back, the record format, the auto-promotion rule."""

from __future__ import annotations

import pytest

from fraudstream.core.model_roles import (AutoPromoteRule, Confusion, Roles, RolesError, bundle_key, decide,
                                          is_bundle_bytes, legacy_roles, parse_bundle_key)


def test_first_version_is_champion_then_challengers_replace_each_other() -> None:
    r = Roles("m").publish(1)
    assert (r.champion, r.challenger, r.seq) == (1, None, 1)
    r = r.publish(2)
    assert (r.champion, r.challenger, r.seq) == (1, 2, 2)
    r = r.publish(3)
    assert (r.champion, r.challenger) == (1, 3)
    r = r.publish(4, role="champion")
    assert (r.champion, r.challenger, r.previous) == (4, 3, (1,))


def test_promote_and_rollback() -> None:
    r = Roles("m").publish(1).publish(2).promote(2)
    assert (r.champion, r.challenger, r.previous) == (2, None, (1,))
    with pytest.raises(RolesError, match="champion already"):
        r.promote(2)
    back = r.rollback()
    assert (back.champion, back.challenger, back.previous, back.seq) == (1, None, (), r.seq + 1)
    with pytest.raises(RolesError, match="no earlier champion"):
        back.rollback()
    # rolling back to a version that is the challenger takes it out of that role
    r = Roles("m").publish(1).publish(2, role="champion").publish(1 + 2)
    r = Roles("m", champion=2, challenger=1, previous=(1,), seq=5)
    assert r.rollback().challenger is None


def test_record_round_trip_and_keys() -> None:
    r = Roles("m").publish(5).publish(7)
    assert Roles.from_bytes(r.to_bytes(), "m") == r
    with pytest.raises(RolesError, match="does not decode"):
        Roles.from_bytes(b"\xff", "m")
    assert parse_bundle_key(bundle_key("m", 42), "m") == 42
    assert parse_bundle_key(b"m", "m") is None and parse_bundle_key(bundle_key("mx", 1), "m") is None
    assert is_bundle_bytes(b"Obj\x01...") and not is_bundle_bytes(r.to_bytes())
    assert legacy_roles("m", 9, r).champion == 9 and legacy_roles("m", 5, r) == r


def test_auto_promotion_rule() -> None:
    rule = AutoPromoteRule.parse("f1:0.05@100")
    assert (rule.metric, rule.margin, rule.min_labelled, str(rule)) == ("f1", 0.05, 100, "f1:0.05@100")
    champ, chall = Confusion(tp=40, fp=10, fn=20, tn=900), Confusion(tp=50, fp=5, fn=10, tn=905)
    assert not decide(rule, 99, champ, chall).promote  # too few labelled events
    d = decide(rule, 970, champ, chall)
    assert d.promote and d.champion == pytest.approx(80 / 110) and d.challenger == pytest.approx(100 / 115)
    assert not decide(AutoPromoteRule.parse("f1:0.2@100"), 970, champ, chall).promote  # margin not reached
    assert not decide(rule, 970, chall, champ).promote
    with pytest.raises(RolesError):
        AutoPromoteRule.parse("auc:0.1@5")
    with pytest.raises(RolesError):
        AutoPromoteRule.parse("f1 by a lot")
