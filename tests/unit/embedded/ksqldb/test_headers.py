"""Header columns (`HEADERS`, `HEADER('k')`) and header propagation to the sink."""

from __future__ import annotations

import json

import pytest

from fraudstream.embedded.ksqldb import (
    Engine,
    InMemorySchemaRegistry,
    InMemoryTopicAdmin,
    InputRecord,
    KsqlStatementError,
)
from tests.support.messages import ConsumedMessage

SOURCE = (
    "CREATE STREAM S (K STRING KEY, V INT, A BYTES HEADER('a'), H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> "
    "HEADERS) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);"
)


@pytest.fixture
def engine():
    return Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry(), None)


def test_header_columns_read_headers_and_outputs_keep_them(engine):
    with pytest.raises(KsqlStatementError, match="Schema already contains a HEADERS column"):
        engine.execute(SOURCE.replace("V INT,", "V INT, H2 ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS,"))
    engine.execute(SOURCE + "CREATE STREAM O AS SELECT K, V, A, H FROM S WHERE V > 0;")
    hs = (("a", b"1"), ("b", None), ("a", b"2"))
    recs = [InputRecord(b"k", b'{"V": 1, "A": "ignored", "H": "ignored"}', 5, 0, 0, hs),
            InputRecord(b"k", b'{"V": 2}', 5, 0, 1)]
    q = engine.queries["CSAS_O_1"].pipeline
    for out, errs in (q.process(recs), q.process_messages([ConsumedMessage.from_row(r) for r in recs])):
        assert errs == []
        assert json.loads(out[0].value) == {
            "V": 1, "A": "Mg==",  # the last header with key 'a'
            "H": [{"KEY": "a", "VALUE": "MQ=="}, {"KEY": "b", "VALUE": None}, {"KEY": "a", "VALUE": "Mg=="}],
        }
        assert tuple(out[0].headers) == hs
        assert json.loads(out[1].value) == {"V": 2, "A": None, "H": []}


def test_header_columns_are_read_only(engine):
    engine.execute(SOURCE)
    with pytest.raises(KsqlStatementError, match="Cannot insert into HEADER columns: A"):
        engine.execute("INSERT INTO S (K, A) VALUES ('k', NULL);")
    with pytest.raises(KsqlStatementError, match="Invalid type for HEADER\\('x'\\) column: expected BYTES, got INTEGER"):
        engine.execute("CREATE STREAM T (X INT HEADER('x')) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', PARTITIONS=1);")
