"""Stream-table joins in the pure layer: planning (names, key, validation) and the
pipeline's table state (upserts, tombstones, NULL keys, bad records, rebuild)."""

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
from fraudstream.embedded.ksqldb.server.statements import StatementHandler
from tests.support.messages import ConsumedMessage

STREAM = ("CREATE STREAM TX (ID BIGINT KEY, `USER` VARCHAR, AMOUNT DOUBLE) "
          "WITH (KAFKA_TOPIC='tx', VALUE_FORMAT='JSON', PARTITIONS=2);")
TABLE = ("CREATE TABLE USERS (USERID VARCHAR PRIMARY KEY, CITY VARCHAR, REGION VARCHAR) "
         "WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON', PARTITIONS=1);")
JOIN = ("CREATE STREAM ENRICHED AS SELECT T.`USER`, T.ID, AMOUNT, CITY FROM TX T "
        "LEFT JOIN USERS U ON T.`USER` = U.USERID EMIT CHANGES;")


@pytest.fixture
def engine():
    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute(STREAM + "\n" + TABLE)
    return e


def tx(id_: int, user: str | None, amount: float, ts: int = 0, offset: int = 0) -> InputRecord:
    value = json.dumps({"USER": user, "AMOUNT": amount}).encode()
    return InputRecord(id_.to_bytes(8, "big", signed=True), value, ts, 0, offset)


def user(uid: str, city: str | None, ts: int = 0, offset: int = 0, region: str = "R") -> InputRecord:
    value = None if city is None else json.dumps({"CITY": city, "REGION": region}).encode()
    return InputRecord(uid.encode(), value, ts, 0, offset)


def decode(outputs):
    return [(o.key.decode() if o.key is not None else None, json.loads(o.value), o.timestamp)
            for o in outputs]


def the_query(engine):
    (q,) = engine.queries.values()
    return q


def test_left_join_keys_by_the_join_value_and_names_columns_like_ksqldb(engine):
    engine.execute(JOIN)
    q = the_query(engine)
    sink = engine.metastore.get("ENRICHED")
    # a qualified column keeps its name unless another source has one like it (ksqlDB's
    # AstSanitizer): here none does, so T.`USER` is USER and T.ID is ID
    assert str(sink.schema) == "`USER` STRING KEY, `ID` BIGINT, `AMOUNT` DOUBLE, `CITY` STRING"
    assert (q.source_names, q.source_topics) == (["TX", "USERS"], ["tx", "users"])
    p = q.pipeline
    assert p.update_table([user("alice", "Paris", ts=1)]) == []
    out, errs = p.process([tx(1, "alice", 10.0, ts=50), tx(2, "bob", 20.0, ts=60)])
    assert errs == []
    assert decode(out) == [
        ("alice", {"ID": 1, "AMOUNT": 10.0, "CITY": "Paris"}, 50),  # stream-side timestamp
        ("bob", {"ID": 2, "AMOUNT": 20.0, "CITY": None}, 60),  # no user: NULL city, still keyed
    ]


def test_table_updates_and_tombstones_change_later_lookups_only(engine):
    engine.execute(JOIN)
    p = the_query(engine).pipeline
    p.update_table([user("alice", "Paris")])
    first, _ = p.process([tx(1, "alice", 1.0)])
    p.update_table([user("alice", "Oslo", offset=1)])
    second, _ = p.process([tx(2, "alice", 2.0)])
    p.update_table([user("alice", None, offset=2)])  # tombstone
    third, _ = p.process([tx(3, "alice", 3.0)])
    assert [v["CITY"] for _, v, _ in decode(first + second + third)] == ["Paris", "Oslo", None]
    assert p.table_rows == {}


def test_inner_join_drops_unmatched_null_key_and_null_value_records(engine):
    engine.execute("CREATE STREAM M AS SELECT T.`USER`, AMOUNT, CITY FROM TX T "
                   "JOIN USERS U ON T.`USER` = U.USERID;")
    p = the_query(engine).pipeline
    p.update_table([user("alice", "Paris")])
    out, errs = p.process([
        tx(1, "alice", 1.0), tx(2, "nobody", 2.0), tx(3, None, 3.0),
        InputRecord((4).to_bytes(8, "big"), None, 0, 0, 9),  # NULL stream value: no join
    ])
    assert errs == []
    assert decode(out) == [("alice", {"AMOUNT": 1.0, "CITY": "Paris"}, 0)]


def test_left_join_keeps_a_record_whose_join_key_is_null(engine):
    engine.execute(JOIN)
    p = the_query(engine).pipeline
    out, errs = p.process([tx(1, None, 1.0)])
    assert errs == []
    assert decode(out) == [(None, {"ID": 1, "AMOUNT": 1.0, "CITY": None}, 0)]


def test_bad_table_records_change_nothing_and_are_reported(engine):
    engine.execute(JOIN)
    p = the_query(engine).pipeline
    p.update_table([user("alice", "Paris")])
    errs = p.update_table([
        InputRecord(b"alice", b"{not json", 0, 0, 5),
        InputRecord(None, b'{"CITY": "X"}', 0, 0, 6),
    ])
    assert [(e.stage, e.topic, e.offset) for e in errs] == [
        ("deserialize value", "users", 5), ("table key", "users", 6)]
    assert p.table_rows["alice"][1] == "Paris"


def test_state_is_a_plain_dict_that_a_replay_rebuilds_identically(engine):
    engine.execute(JOIN)
    p = the_query(engine).pipeline
    history = [user("a", "Paris", offset=0), user("b", "Rome", offset=1), user("a", None, offset=2),
               user("c", "Oslo", ts=7, offset=3)]
    p.update_table(history)
    before = dict(p.table_rows)
    assert set(before) == {"b", "c"}
    assert before["c"] == ("c", "Oslo", "R", 7, 0, 3)  # key, values, ROWTIME, ROWPARTITION, ROWOFFSET
    p.reset_table()
    assert p.table_rows == {}
    p.update_table(history)
    assert p.table_rows == before


def test_process_topic_dispatches_table_and_stream_records(engine):
    engine.execute(JOIN)
    p = the_query(engine).pipeline
    assert p.process_topic("users", [user("alice", "Paris")]) == ([], [])
    out, _ = p.process_topic("tx", [tx(1, "alice", 1.0)])
    assert decode(out)[0][1]["CITY"] == "Paris"


def test_partition_by_null_over_a_join_gives_keyless_output_with_every_column_in_the_value(engine):
    engine.execute("CREATE STREAM K WITH (VALUE_FORMAT='JSON') AS SELECT ID, MASK_LEFT(`USER`, 2) AS `USER`, "
                   "CITY FROM TX T LEFT JOIN USERS U ON T.`USER` = U.USERID PARTITION BY NULL;")
    sink = engine.metastore.get("K")
    assert str(sink.schema) == "`ID` BIGINT, `USER` STRING, `CITY` STRING"
    p = the_query(engine).pipeline
    p.update_table([user("alice", "Paris")])
    out, _ = p.process([tx(7, "alice", 1.0)])
    assert [(o.key, json.loads(o.value)) for o in out] == [(None, {"ID": 7, "USER": "xxice", "CITY": "Paris"})]


@pytest.mark.parametrize("sql, message", [
    ("CREATE STREAM O AS SELECT T.`USER`, CITY FROM TX T FULL OUTER JOIN USERS U ON T.`USER` = U.USERID;",
     "Invalid join type: full-outer join not supported for stream-table join. Got TX [FULL] OUTER JOIN USERS."),
    ("CREATE STREAM O AS SELECT U.USERID, AMOUNT FROM USERS U JOIN TX T ON T.`USER` = U.USERID;",
     "Invalid join order: table-stream joins are not supported; only stream-table joins. "
     "Got USERS [INNER] JOIN TX."),
    ("CREATE STREAM O AS SELECT T.`USER`, AMOUNT FROM TX T JOIN USERS U ON T.`USER` = U.CITY;",
     "Invalid join condition: stream-table joins require to join on the table's primary key. "
     "Got T.USER = U.CITY."),
    ("CREATE STREAM O AS SELECT T.ID, CITY FROM TX T JOIN USERS U ON T.ID = U.USERID;",
     "Invalid join condition: types don't match. Got T.ID{BIGINT} = U.USERID{STRING}."),
    ("CREATE STREAM O AS SELECT AMOUNT, CITY FROM TX T JOIN USERS U ON T.`USER` = U.USERID;",
     "must include the join expressions T.USER or U.USERID in its projection (eg, SELECT T.USER...)."),
    ("CREATE STREAM O AS SELECT T.`USER`, T.`USER` AS X, CITY FROM TX T JOIN USERS U ON T.`USER` = U.USERID;",
     "The projection contains a key column (`T_USER`) more than once, aliased as: USER and X."),
    ("CREATE STREAM O AS SELECT T.`USER`, CITY FROM TX T JOIN USERS U ON T.`USER` = 'a';",
     "Invalid comparison expression ''a'' in join '(T.USER = 'a')'."),
    ("CREATE STREAM O AS SELECT T.`USER`, CITY FROM TX T JOIN USERS U ON Z.`USER` = U.USERID;",
     "'Z' is not a valid stream/table name or alias."),
    ("CREATE STREAM O AS SELECT T.`USER`, CITY FROM TX T JOIN USERS U ON T.NOPE = U.USERID;",
     "JOIN ON column 'T.NOPE' cannot be resolved."),
])
def test_join_validation_messages(engine, sql, message):
    with pytest.raises(KsqlStatementError) as e:
        engine.execute(sql)
    assert message in e.value.message
    assert engine.queries == {}


def test_the_joined_table_cannot_be_dropped_while_a_query_reads_it(engine):
    engine.execute(JOIN)
    with pytest.raises(KsqlStatementError) as e:
        engine.execute("DROP TABLE USERS;")
    assert "ENRICHED" in e.value.message
    (desc,) = StatementHandler(engine).handle("DESCRIBE USERS;")
    assert [q["id"] for q in desc["sourceDescription"]["readQueries"]] == ["CSAS_ENRICHED_2"]


def test_stream_stream_joins_run_in_the_join_pipeline_and_push_joins_return_rows(engine):
    from fraudstream.embedded.ksqldb.operators.joining import JoinPipeline

    engine.execute("CREATE STREAM TX2 (ID BIGINT KEY, V INT) WITH (KAFKA_TOPIC='tx2', VALUE_FORMAT='JSON', PARTITIONS=2);")
    engine.execute("CREATE STREAM O AS SELECT A.ID, V FROM TX A JOIN TX2 B WITHIN 1 MINUTE ON A.ID = B.ID;")
    (q,) = engine.queries.values()
    assert isinstance(q.pipeline, JoinPipeline) and q.source_topics == ["tx", "tx2"]
    assert q.pipeline.process_topic("tx", [tx(1, "alice", 1.0, ts=10)]) == ([], [])
    out, errs = q.pipeline.process_topic("tx2", [InputRecord((1).to_bytes(8, "big"), b'{"V": 5}', 20, 0, 0)])
    assert errs == [] and [(json.loads(o.value), o.timestamp) for o in out] == [({"V": 5}, 20)]
    push = engine.create_push_query("SELECT T.`USER`, CITY FROM TX T JOIN USERS U ON T.`USER` = U.USERID EMIT CHANGES;")
    assert push.source_topics == ["tx", "users"] and push.column_names == ["USER", "CITY"]
    assert push.rows_of("users", [user("alice", "Paris")]) == ([], [])
    assert push.rows_of("tx", [tx(1, "alice", 1.0, ts=10), tx(2, "bob", 2.0, ts=11, offset=1)]) == (
        [["alice", "Paris"]], [])


def test_the_scoring_join_takes_the_columnar_path_with_identical_bytes():
    """ksql/04_scoring.ksql's query (DELIMITED -> AVRO with a LEFT JOIN): the batch path
    looks rows up like the per-record path and writes the same bytes."""
    import io
    import struct
    from pathlib import Path

    import fastavro

    from fraudstream.embedded.ksqldb.microbench import SOURCE, USERS, make_rows

    root = Path(__file__).resolve().parents[4]
    registry, admin = InMemorySchemaRegistry(), InMemoryTopicAdmin()
    admin.create_topic("users", 3, 1)
    user_schema = (root / "fraudstream" / "core" / "schemas" / "user.avsc").read_text()
    sid = registry.register("users-value", user_schema)
    e = Engine(admin, registry)
    e.execute(SOURCE.split("CREATE STREAM creditcardfraud_preprocessed_avro")[0])
    e.execute((root / "ksql" / "02_users.ksql").read_text())
    e.execute((root / "ksql" / "04_scoring.ksql").read_text())
    (q,) = e.queries.values()
    p = q.pipeline
    assert p._columnar is not None
    parsed = fastavro.parse_schema(json.loads(user_schema))
    records = []
    for i, name in enumerate(USERS[:-2]):  # two users unknown: LEFT JOIN gives NULL cities
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, {"NAME": name, "CITY": f"city-{name}", "GENDER": "F",
                                                 "REGION": "R"})
        records.append(InputRecord(name.encode(), b"\x00" + struct.pack(">I", sid) + buf.getvalue(), 0, 0, i))
    assert p.update_table(records) == []
    rows = make_rows(300)
    columnar = p._columnar.run(rows)
    assert columnar is not None
    row_path = p._run(rows, p.query_id, p.source_topic, p.sink_topic)
    assert columnar == row_path
    assert len(row_path[0]) == 300 and row_path[1] == []
    assert all(o.key is None for o in row_path[0])


def test_join_pipeline_merges_topics_by_timestamp_keeping_each_partitions_order(engine):
    engine.execute("CREATE STREAM TX2 (ID BIGINT KEY, V INT) WITH (KAFKA_TOPIC='tx2', VALUE_FORMAT='JSON', PARTITIONS=2);")
    engine.execute("CREATE STREAM O AS SELECT A.ID, V, AMOUNT FROM TX A LEFT JOIN TX2 B WITHIN 1 SECOND ON A.ID = B.ID;")
    (q,) = engine.queries.values()
    k = (1).to_bytes(8, "big")
    # tx2's record (ts 5) comes before tx's later record (ts 9) of the same key, although
    # the batch lists it after; tx's own records stay in offset order (ts 9 then 7)
    msgs = [ConsumedMessage(k, b'{"USER": "u", "AMOUNT": 1.0}', 9, 0, 0, "tx"),
            ConsumedMessage(k, b'{"USER": "u", "AMOUNT": 2.0}', 7, 0, 1, "tx"),
            ConsumedMessage(k, b'{"V": 3}', 5, 1, 0, "tx2")]
    out, errs = q.pipeline.process_messages(msgs)
    assert errs == []
    assert [(json.loads(o.value), o.timestamp) for o in out] == [
        ({"V": 3, "AMOUNT": 1.0}, 9), ({"V": 3, "AMOUNT": 2.0}, 7)]


@pytest.mark.parametrize("key_format, allowed", [("KAFKA", False), ("JSON", False), ("AVRO", True), ("JSON_SR", True)])
def test_time_windowed_joins_of_different_windows_need_a_forced_repartition(key_format, allowed):
    """SchemaKStream.selectKey: re-keying a windowed source in another key format (the
    window is part of it) is refused, unless PreJoinRepartitionNode forces the
    repartition because the join key format has SCHEMA_INFERENCE (AVRO, JSON_SR,
    PROTOBUF; ksql#6332). Re-keyed in the left source's format, a time window is its start
    read back with the left window's size, so windows starting together match."""
    from fraudstream.embedded.ksqldb.serde.windowed import window_bytes

    e = Engine(InMemoryTopicAdmin(), InMemorySchemaRegistry())
    e.execute(f"CREATE STREAM S1 (ID INT KEY, V BIGINT) WITH (KAFKA_TOPIC='l', KEY_FORMAT='{key_format}', "
              "VALUE_FORMAT='JSON', PARTITIONS=1, WINDOW_TYPE='HOPPING', WINDOW_SIZE='5 SECONDS');"
              f"CREATE STREAM S2 (ID INT KEY, V BIGINT) WITH (KAFKA_TOPIC='r', KEY_FORMAT='{key_format}', "
              "VALUE_FORMAT='JSON', PARTITIONS=1, WINDOW_TYPE='TUMBLING', WINDOW_SIZE='2 SECONDS');")
    join = "CREATE STREAM O AS SELECT S1.ID, S1.V AS A, S2.V AS B FROM S1 JOIN S2 WITHIN 1 MINUTE ON S1.ID = S2.ID;"
    if not allowed:
        with pytest.raises(KsqlStatementError, match="Implicit repartitioning of windowed sources"):
            e.execute(join)
        return
    e.execute(join)
    (q,) = e.queries.values()
    kser = {n: e.metastore.get(n) for n in ("S1", "S2")}
    from fraudstream.embedded.ksqldb.serde import SerdeContext, make_key_serde

    def key(name: str, start: int, end: int) -> bytes:
        src = kser[name]
        serde = make_key_serde(src.schema.key, src.effective_key_format, SerdeContext.of(e.registry),
                               schema_id=src.key_schema_id)
        return serde.encode((1,)) + window_bytes("HOPPING", start, end)

    q.pipeline.process_topic("l", [InputRecord(key("S1", 0, 5000), b'{"V": 1}', 0, 0, 0),
                                   InputRecord(key("S1", 1000, 6000), b'{"V": 2}', 1000, 0, 1)])
    out, errs = q.pipeline.process_topic("r", [InputRecord(key("S2", 1000, 3000), b'{"V": 7}', 1000, 0, 0)])
    assert errs == [] and [json.loads(o.value) for o in out] == [{"A": 2, "B": 7}]
