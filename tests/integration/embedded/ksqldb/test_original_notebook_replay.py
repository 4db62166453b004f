"""The original Kafka + KSQL + Keras demo notebook, replayed through ksql-python-ng.

Kai Waehner's `python-jupyter-apache-kafka-ksql-tensorflow-keras` (2019, KSQL 5.0) is where
this project comes from: a notebook that declares the raw DELIMITED stream with
`client.create_stream`, derives the labelled Avro stream with `client.create_stream_as`
and a condition, looks at it with SHOW/DESCRIBE, tries MASK_LEFT and IFNULL, reads rows
with `SELECT … LIMIT n` (no EMIT CHANGES), declares a user table with
`client.create_table(…, key='userid')` and joins the transactions with it (its companion
script adds the premium-city join). Its data file is `creditcard_extended.csv` (10 rows,
one without a label), read in place from the shared folder.

The calls below are written from that description, in the notebook's order, with the
notebook's own arguments; only the object names get a suffix, so the session's other
tests (which declare the pipeline's own `creditcardfraud_source`) are not disturbed.
Where ksqlDB itself changed since KSQL 5.0, the step must fail with ksqlDB's own error,
and the step after it runs the statement a user writes today:

* `WITH (KEY='userid')` is gone (ksqlDB 0.10): keys are declared `PRIMARY KEY` columns;
* a join's result must carry the join key in its projection (ksqlDB 0.10);
* `USERID = 1` compares VARCHAR with INTEGER, which ksqlDB refuses (KSQL 5 coerced).

Everything else works unchanged, including the four `SELECT … LIMIT n` queries, which
ksqlDB (0.23 and later) answers as pull queries on a stream: the topic is read from its
beginning to its current end, and the query returns.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from ksql import KSQLAPI
from ksql.errors import KSQLError

pytestmark = pytest.mark.integration

FEATURES = [f"V{i}" for i in range(1, 29)]
# The notebook's create_stream columns, exactly (`Class string`: STRING is VARCHAR's alias).
SOURCE_COLUMNS = ["Id bigint", "Timestamp varchar", "User varchar", "Time int",
                  *(f"{v} double" for v in FEATURES), "Amount double", "Class string"]
PREPROCESSED_COLUMNS = ["Time", *FEATURES, "Amount", "Class"]
PREMIUM_USERS = {"Kai": "Premium Munich", "Dirk": "Premium Berlin"}
OTHER_USERS = {"Hans": "Hamburg", "Flo": "Cologne"}


def masked_left_2(user: str) -> str:
    """MASK_LEFT(x, 2) as ksqlDB documents it: upper -> X, lower -> x, digit -> n, other -> -."""
    return "".join("X" if c.isupper() else "x" if c.islower() else "n" if c.isdigit() else "-"
                   for c in user[:2]) + user[2:]


def read_extended_csv(shared_data) -> list[dict]:
    """The notebook's data file: Id,Timestamp,User,Time,V1..V28,Amount,Class, no header."""
    path = shared_data / "creditcard_extended.csv"
    names = ["Id", "Timestamp", "User", "Time", *FEATURES, "Amount", "Class"]
    with path.open(newline="") as fh:
        rows = [dict(zip(names, fields)) for fields in csv.reader(fh)]
    assert len(rows) == 10 and sum(r["Class"] == "" for r in rows) == 1, f"unexpected content of {path}"
    return rows


def pull(client: KSQLAPI, sql: str) -> tuple[dict, list[list]]:
    """A query through ksql-python-ng's default path, as the notebook calls it: (header, rows)."""
    chunks = [json.loads(chunk) for chunk in client.query(sql) if chunk.strip()]
    assert chunks and "columnNames" in chunks[0], f"no header answered {sql!r}: {chunks[:2]}"
    return chunks[0], chunks[1:]


def wait_for(what: str, probe: Callable[[], list], enough: int, timeout: float = 90.0,
             nudge: Callable[[], None] | None = None) -> list:
    """Poll `probe` until it returns at least `enough` rows; `nudge` feeds more events meanwhile."""
    deadline = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < deadline:
        rows = probe()
        if len(rows) >= enough:
            return rows
        if nudge is not None:
            nudge()
        time.sleep(1.0)
    pytest.fail(f"{what}: {len(rows)} row(s) after {timeout:.0f}s, expected at least {enough}")


def ksql_error(call: Callable[[], object]) -> str:
    with pytest.raises(KSQLError) as info:
        call()
    assert info.value.error_code == 40001, info.value
    return str(info.value.msg)


def test_the_original_notebook_runs_unchanged_except_where_ksqldb_changed(
        ksql_url: str, kafka_bootstrap: str, shared_data):
    tag = uuid.uuid4().hex[:6]
    source, preprocessed = f"creditcardfraud_source_{tag}", f"creditcardfraud_preprocessed_avro_{tag}"
    users, per_user, premium = f"users_{tag}", f"creditcardfraud_per_user_{tag}", f"creditcardfraud_premium_{tag}"
    rows = read_extended_csv(shared_data)
    lines = (shared_data / "creditcard_extended.csv").read_text().splitlines()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    batches = [0]

    def produce_batch() -> None:
        """The notebook's `kafka-console-producer < creditcard_extended.csv`: no key, one line each."""
        for line in lines:
            producer.produce(source, value=line.encode())
        assert producer.flush(30) == 0
        batches[0] += 1

    # ! kafka-topics --create --topic creditcardfraud_source --partitions 3 --replication-factor 1
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(source, 3, 1), NewTopic(users, 3, 1)]).values():
        future.result(timeout=30)

    client = KSQLAPI(ksql_url)  # the notebook's constructor, version check included

    assert client.create_stream(table_name=source, columns_type=SOURCE_COLUMNS, topic=source,
                                value_format="DELIMITED") is True
    assert client.create_stream_as(table_name=preprocessed, select_columns=PREPROCESSED_COLUMNS,
                                   src_table=source, conditions="Class IS NOT NULL",
                                   kafka_topic=preprocessed, value_format="AVRO") is True

    streams = {s["name"]: s for s in client.ksql("show streams")[0]["streams"]}
    assert streams[source.upper()]["valueFormat"] == "DELIMITED"
    assert streams[preprocessed.upper()]["valueFormat"] == "AVRO"
    assert streams[preprocessed.upper()]["topic"] == preprocessed
    desc = client.ksql(f"describe {preprocessed.upper()}")[0]["sourceDescription"]
    assert [f["name"] for f in desc["fields"]] == [c.upper() for c in PREPROCESSED_COLUMNS]
    assert [f["schema"]["type"] for f in desc["fields"]][:2] == ["INTEGER", "DOUBLE"]
    assert len(desc["writeQueries"]) == 1 and "Class IS NOT NULL" in desc["writeQueries"][0]["queryString"]

    # The persistent query reads from `latest` (ksqlDB's default, and the notebook could not
    # SET it), so events must arrive after it started; the notebook says as much ("get data
    # into the query"). Until then each second brings the file once more.
    produce_batch()
    wait_for(f"{preprocessed} filled by its CSAS",
             lambda: pull(client, f"SELECT * FROM {preprocessed.upper()} LIMIT 1")[1], 1, nudge=produce_batch)
    # from here on, every batch but the ones before the query started is in the stream
    labelled = [r for r in rows if r["Class"]]
    by_time_amount = {(int(r["Time"]), float(r["Amount"])): r["Class"] for r in labelled}

    # query = client.query('SELECT * FROM CREDITCARDFRAUD_PREPROCESSED_AVRO LIMIT 1')
    header, got = pull(client, f"SELECT * FROM {preprocessed.upper()} LIMIT 1")
    assert header["columnNames"] == [c.upper() for c in PREPROCESSED_COLUMNS]
    # which row comes first depends on the partition read first (the records have no key)
    assert len(got) == 1 and len(got[0]) == 31
    assert (got[0][0], got[0][29]) in by_time_amount and got[0][30] in ("0", "1")

    # Anonymisation: SELECT Id, MASK_LEFT(User, 2) FROM creditcardfraud_source LIMIT 1
    header, got = pull(client, f"SELECT Id, MASK_LEFT(User, 2) FROM {source} LIMIT 1")
    assert header["columnNames"] == ["ID", "KSQL_COL_0"] and header["columnTypes"] == ["BIGINT", "STRING"]
    masked = {int(r["Id"]): masked_left_2(r["User"]) for r in rows}
    assert len(got) == 1 and masked[got[0][0]] == got[0][1]
    # Augmentation: SELECT Id, IFNULL(Class, '-1') FROM creditcardfraud_source LIMIT 1
    header, got = pull(client, f"SELECT Id, IFNULL(Class, '-1') FROM {source} LIMIT 1")
    classes = {int(r["Id"]): r["Class"] or "-1" for r in rows}
    assert len(got) == 1 and classes[got[0][0]] == got[0][1]
    # ... and over the whole topic (no LIMIT): the unlabelled row 4 reads '-1'
    _, every = pull(client, f"SELECT Id, IFNULL(Class, '-1') FROM {source};")
    assert len(every) == 10 * batches[0] and {i: c for i, c in every} == classes and classes[4] == "-1"

    # The user table, as the notebook declares it: KEY in the WITH clause is ksqlDB-0.10 history.
    message = ksql_error(lambda: client.create_table(
        table_name=users, columns_type=["userid varchar", "gender varchar", "regionid varchar"],
        topic=users, key="userid", value_format="AVRO"))
    assert message == "Invalid config variable(s) in the WITH clause: KEY"
    # What to run instead (README, "From Jupyter"): the key is a PRIMARY KEY column.
    created = client.ksql(f"CREATE TABLE {users} (userid VARCHAR PRIMARY KEY, gender VARCHAR, regionid VARCHAR, "
                          f"city VARCHAR) WITH (kafka_topic='{users}', value_format='AVRO');")
    assert created[0]["commandStatus"]["status"] == "SUCCESS"
    for user, city in {**PREMIUM_USERS, **OTHER_USERS}.items():
        client.ksql(f"INSERT INTO {users} (userid, gender, regionid, city) "
                    f"VALUES ('{user}', 'OTHER', 'Region_1', '{city}');")

    # The notebook's stream-table join: VARCHAR compared with a number, and no key projected.
    original_join = (f"CREATE STREAM {per_user} WITH (VALUE_FORMAT='AVRO', KAFKA_TOPIC='{per_user}') AS "
                     f"SELECT Time, Amount, Class FROM {source} c INNER JOIN {users} u on c.user = u.userid "
                     f"WHERE u.USERID = 1")
    message = ksql_error(lambda: client.ksql(original_join))
    assert message == ("Error in WHERE expression: Cannot compare U.USERID (STRING) to 1 (INTEGER) with EQUAL."
                       "\nStatement: (U.USERID = 1)")
    message = ksql_error(lambda: client.ksql(original_join.replace("u.USERID = 1", "u.USERID = 'Kai'")))
    assert message.startswith("Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.")
    assert "must include the join expressions C.USER or U.USERID in its projection" in message

    # The premium-city join of the companion script, with the join key projected.
    premium_join = (f"CREATE STREAM {premium} WITH (VALUE_FORMAT='AVRO', KAFKA_TOPIC='{premium}') AS "
                    f"SELECT c.User AS User, Time, V1, Amount, Class, u.City AS City FROM {source} c "
                    f"INNER JOIN {users} u ON c.User = u.userid WHERE V2 IS NOT NULL AND u.CITY LIKE 'Premium%'")
    message = ksql_error(lambda: client.ksql(premium_join.replace("c.User AS User, ", "")))
    assert message.startswith("Key missing from projection (ie, SELECT).")
    created = client.ksql(premium_join, stream_properties={"ksql.streams.auto.offset.reset": "earliest"})
    assert created[0]["commandStatus"]["status"] == "SUCCESS"

    # Live events after the users are known join for sure (earlier ones may be read before
    # the table's rows, whose timestamps are later, and an inner join drops them).
    premium_rows = [r for r in rows if r["User"] in PREMIUM_USERS]
    produce_batch()
    joined = wait_for(f"{premium} filled by the join",
                      lambda: pull(client, f"SELECT * FROM {premium};")[1], len(premium_rows))
    header, joined = pull(client, f"SELECT * FROM {premium};")
    assert header["columnNames"] == ["USER", "TIME", "V1", "AMOUNT", "CLASS", "CITY"]
    assert {r[0] for r in joined} == set(PREMIUM_USERS)
    assert all(PREMIUM_USERS[r[0]] == r[5] for r in joined)
    expected = sorted((r["User"], int(r["Time"]), float(r["Amount"])) for r in premium_rows)
    assert sorted({(r[0], r[1], r[3]) for r in joined}) == expected

    # The DataFrame cell: SELECT * FROM CREDITCARDFRAUD_PREPROCESSED_AVRO LIMIT 8. The
    # notebook parsed KSQL 5's `{"row": {"columns": [ROWTIME, ROWKEY, ...]}}` lines and cut
    # the first two columns; ksqlDB's rows are the selected columns, which parse=True names.
    import pandas as pd

    wait_for(f"{preprocessed} holding the last batch",  # the CSAS may have started mid-batch
             lambda: pull(client, f"SELECT * FROM {preprocessed.upper()};")[1], 8)
    df = pd.DataFrame(list(client.query(f"SELECT * FROM {preprocessed.upper()} LIMIT 8", parse=True)))
    assert list(df.columns) == [c.upper() for c in PREPROCESSED_COLUMNS] and len(df) == 8
    assert set(df["CLASS"]) <= {"0", "1"}
    assert all((t, a) in by_time_amount and by_time_amount[(t, a)] == c
               for t, a, c in zip(df["TIME"], df["AMOUNT"], df["CLASS"]))
