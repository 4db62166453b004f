"""Avro schema-resolution rules: hand-derived answers, cross-checked with fastavro's reader."""

from __future__ import annotations

import io
import json

import fastavro
import pytest

from fraudstream.embedded.schema_registry.avro_schema import parse
from fraudstream.embedded.schema_registry.compatibility import CompatibilityLevel, can_read, check
from tests.unit.embedded.schema_registry.evolutions import EVOLUTIONS, Evolution, rec

CASES = {e.id: e for e in EVOLUTIONS}


def _reads(writer: str, reader: str, datum: object) -> bool:
    """Does fastavro's read-time resolution turn `datum`, written with `writer`, into a `reader` record?"""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(json.loads(writer)), datum)
    buf.seek(0)
    try:
        fastavro.schemaless_reader(buf, fastavro.parse_schema(json.loads(writer)),
                                   fastavro.parse_schema(json.loads(reader)))
        return True
    except Exception:
        return False


@pytest.mark.parametrize("evo", EVOLUTIONS, ids=[e.id for e in EVOLUTIONS])
def test_direction_answers(evo: Evolution) -> None:
    old, new = parse(evo.old).root, parse(evo.new).root
    assert (not can_read(new, old)) is evo.backward, can_read(new, old)
    assert (not can_read(old, new)) is evo.forward, can_read(old, new)


@pytest.mark.parametrize("evo", EVOLUTIONS, ids=[e.id for e in EVOLUTIONS])
def test_answers_agree_with_fastavro_resolution(evo: Evolution) -> None:
    """Compatible: every sample reads. Incompatible: some sample exercising the change fails."""
    backward_reads = [_reads(evo.old, evo.new, d) for d in evo.old_data]
    forward_reads = [_reads(evo.new, evo.old, d) for d in evo.new_data]
    assert all(backward_reads) is evo.backward
    assert all(forward_reads) is evo.forward


@pytest.mark.parametrize("level", list(CompatibilityLevel))
@pytest.mark.parametrize("evo", EVOLUTIONS, ids=[e.id for e in EVOLUTIONS])
def test_levels(evo: Evolution, level: CompatibilityLevel) -> None:
    expected = {
        "NONE": True,
        "BACKWARD": evo.backward,
        "FORWARD": evo.forward,
        "FULL": evo.backward and evo.forward,
    }[level.value.removesuffix("_TRANSITIVE")]
    messages = check(level, parse(evo.new), [(1, parse(evo.old))])
    assert (not messages) is expected, messages


def test_transitive_checks_every_version_non_transitive_only_the_latest() -> None:
    v1 = parse(rec([{"name": "id", "type": "string"}]))
    v2 = parse(rec([{"name": "id", "type": "string"}, {"name": "a", "type": "int", "default": 0}]))
    # v3 drops the default of `a`: it cannot read v1 data (no `a`, no default) but reads v2's.
    v3 = parse(rec([{"name": "id", "type": "string"}, {"name": "a", "type": "int"}]))
    history = [(1, v1), (2, v2)]
    assert check(CompatibilityLevel.BACKWARD, v3, history) == []
    messages = check(CompatibilityLevel.BACKWARD_TRANSITIVE, v3, history)
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m for m in messages)
    assert "{oldSchemaVersion: 1}" in messages
    assert check(CompatibilityLevel.FULL, v3, history) == []
    assert check(CompatibilityLevel.FULL_TRANSITIVE, v3, history) != []
    # Forward transitive: v1 (the oldest reader) cannot read v3? It can (ignores `a`): still fine.
    assert check(CompatibilityLevel.FORWARD_TRANSITIVE, v3, history) == []


def test_forward_transitive_catches_an_old_reader() -> None:
    v1 = parse(rec([{"name": "id", "type": "string"}, {"name": "n", "type": "int"}]))
    v2 = parse(rec([{"name": "id", "type": "string"}, {"name": "n", "type": "int", "default": 0}]))
    v3 = parse(rec([{"name": "id", "type": "string"}]))   # v2 reads it (default), v1 does not
    assert check(CompatibilityLevel.FORWARD, v3, [(1, v1), (2, v2)]) == []
    assert check(CompatibilityLevel.FORWARD_TRANSITIVE, v3, [(1, v1), (2, v2)]) != []


def test_messages_name_the_problem_and_the_old_version() -> None:
    evo = CASES["add_field_without_default"]
    messages = check(CompatibilityLevel.BACKWARD, parse(evo.new), [(7, parse(evo.old))])
    assert messages[0].startswith("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'")
    assert "'amount'" in messages[0]
    assert "{oldSchemaVersion: 7}" in messages
    assert "{compatibility: 'BACKWARD'}" in messages


def test_error_kinds() -> None:
    def kinds(evo_id: str, direction: str) -> set[str]:
        evo = CASES[evo_id]
        old, new = parse(evo.old).root, parse(evo.new).root
        found = can_read(new, old) if direction == "backward" else can_read(old, new)
        return {p.kind for p in found}

    assert kinds("int_to_string", "backward") == {"TYPE_MISMATCH"}
    assert kinds("enum_remove_symbol", "backward") == {"MISSING_ENUM_SYMBOLS"}
    assert kinds("rename_record", "backward") == {"NAME_MISMATCH"}
    assert kinds("fixed_size_change", "backward") == {"FIXED_SIZE_MISMATCH"}
    assert kinds("union_add_branch", "forward") == {"MISSING_UNION_BRANCH"}


def test_level_parsing_is_case_insensitive() -> None:
    assert CompatibilityLevel.parse("full_transitive") is CompatibilityLevel.FULL_TRANSITIVE
    assert CompatibilityLevel.parse(" Backward ") is CompatibilityLevel.BACKWARD
    assert CompatibilityLevel.parse("SIDEWAYS") is None
    assert CompatibilityLevel.parse(None) is None


def test_top_level_primitive_and_union_schemas() -> None:
    assert can_read(parse('"long"').root, parse('"int"').root) == []
    assert can_read(parse('"int"').root, parse('"long"').root) != []
    assert can_read(parse('["null","long"]').root, parse('"int"').root) == []
    assert can_read(parse('"long"').root, parse('["int","long"]').root) == []
    assert can_read(parse('"int"').root, parse('["int","long"]').root) != []
