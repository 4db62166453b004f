"""DEFINE / UNDEFINE / ${name}: ksqlDB's VariableSubstitutor and VariableExecutor rules."""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb import Engine, InMemorySchemaRegistry, InMemoryTopicAdmin, KsqlParseError
from fraudstream.embedded.ksqldb.server.statements import StatementHandler
from fraudstream.embedded.ksqldb.sql.variables import Variables, sanitize, substitute


def test_substitutes_identifiers_literals_and_inside_strings():
    v = Variables({"Col": "X", "n": "5", "t": "my'topic"})
    out = substitute("SELECT ${col}, ${N} FROM S WHERE A = '${t}-${missing}';", v)
    assert out == "SELECT X, 5 FROM S WHERE A = 'my''topic-${missing}';"


def test_define_applies_to_the_statements_after_it_and_undefine_removes():
    v = Variables()
    out = substitute("SELECT ${a} FROM S; DEFINE a = 'B'; DEFINE b = '${a}2'; SELECT ${a}, ${b} FROM S; "
                     "UNDEFINE a; SELECT ${a} FROM S;", v)
    assert out == ("SELECT ${a} FROM S; DEFINE a = 'B'; DEFINE b = 'B2'; SELECT B, B2 FROM S; "
                   "UNDEFINE a; SELECT ${a} FROM S;")
    assert v.items() == [("b", "B2")]


def test_sanitize_doubles_quotes_and_keeps_a_quoted_value_quoted():
    assert sanitize("it's") == "it''s"
    assert sanitize("'it's'") == "'it''s'"
    assert substitute("SELECT ${v} FROM S;", Variables({"v": "'x'"})) == "SELECT 'x' FROM S;"


@pytest.fixture
def ksql():
    return StatementHandler(Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())).handle


def test_handler_runs_substituted_statements_and_lists_variables(ksql):
    out = ksql("DEFINE fmt = 'JSON'; DEFINE topic_name = 'it''s'; "
               "CREATE STREAM S (ID INT KEY, V STRING) WITH (kafka_topic='${topic_name}', value_format='${fmt}', "
               "partitions=1); SHOW VARIABLES; UNDEFINE nope;")
    assert "KAFKA_TOPIC='it''s'" in out[0]["statementText"]
    assert out[1]["variables"] == [{"name": "fmt", "value": "JSON"}, {"name": "topic_name", "value": "it's"}]
    assert out[2]["@type"] == "warning_entity"
    assert out[2]["message"] == "Cannot undefine variable 'nope' which was never defined"


def test_session_variables_and_the_switch(ksql):
    out = ksql("CREATE STREAM ${name} (ID INT KEY) WITH (kafka_topic='t', format='JSON', partitions=1);",
               {}, {"NAME": "FROM_SESSION"})
    assert out[0]["commandId"] == "stream/`FROM_SESSION`/create"
    with pytest.raises(KsqlParseError, match=r"^Illegal argument at Line: 1, Col: 15\. Identifier names"):
        ksql("CREATE STREAM ${name} (ID INT KEY) WITH (kafka_topic='t', format='JSON');",
             {"ksql.variable.substitution.enable": "false"}, {"name": "X"})


def test_undefined_literal_variable_is_ksqldb_s_illegal_argument(ksql):
    ksql("CREATE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='s', format='JSON', partitions=1);")
    with pytest.raises(KsqlParseError, match=r"^Illegal argument at Line: 1, Col: 46\.$"):
        ksql("CREATE STREAM T AS SELECT * FROM S WHERE V = ${nope};")
