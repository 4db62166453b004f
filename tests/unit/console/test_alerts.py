"""The alert book: alerts as fraud_alerts carries them, filters, and the one-verdict gate."""

from __future__ import annotations

import struct
import threading

from fraudstream.console.alerts import AlertBook, Claimed, Filters, Refused, Verdict
from fraudstream.core.alerts import alert_id


def alert_value(version: int = 7, ts: int = 1_000_000, score: float = 3.0) -> dict:
    # fraud_alerts' value columns (ksql/monitoring/04): ID is the key, not a value column
    return {"USER": "nn42", "CITY": "Kiel", "AMOUNT": 99.5, "SCORE": score, "THRESHOLD": 2.0, "MODEL_VERSION": version,
            "EXPLANATION": [{"FEATURE": "V14", "SHARE": 0.5}, {"FEATURE": "V4", "SHARE": 0.25}],
            "EVENT_TS": ts, "SCORED_TS": ts + 40}


def key(i: int) -> bytes:
    return struct.pack(">q", i)  # ksqlDB's KAFKA format for a BIGINT key


def label(i: int, value: int = 1, source: str = "analyst", by: str | None = "alice") -> dict:
    return {"ID": i, "LABEL": value, "SOURCE": source, "LABELLED_AT": 5, "NOTE": None, "GIVEN_BY": by}


def test_the_id_comes_from_the_bigint_key_or_a_value_column():
    assert alert_id(key(123456789012), {}) == 123456789012
    assert alert_id(b"42", {}) == 42
    assert alert_id(None, {"ID": 7}) == 7
    assert alert_id(b"\x01\x02", {}) is None


def test_newest_first_with_filters_by_version_label_and_time():
    book = AlertBook()
    book.add_alerts([(key(1), alert_value(7, 1000)), (key(2), alert_value(8, 3000)), (key(3), alert_value(7, 2000))])
    book.add_labels([(label(3, 0), 0, 10)])
    assert [x["alert"]["id"] for x in book.query(Filters())] == [2, 3, 1]
    assert [x["alert"]["id"] for x in book.query(Filters(model_version=7))] == [3, 1]
    assert [x["alert"]["id"] for x in book.query(Filters(label="unlabelled"))] == [2, 1]
    assert [x["alert"]["id"] for x in book.query(Filters(label="legit"))] == [3]
    assert [x["alert"]["id"] for x in book.query(Filters(label="fraud"))] == []
    assert [x["alert"]["id"] for x in book.query(Filters(since_ms=1500))] == [2, 3]
    first = book.query(Filters())[0]["alert"]
    assert first["user"] == "nn42" and first["explanation"][0] == {"feature": "V14", "share": 0.5}
    assert book.coverage() == (1, 3)


def test_undecodable_alerts_are_counted_not_kept():
    book = AlertBook()
    book.add_alerts([(b"\x01", alert_value()), (key(5), {"USER": "x"})])
    assert len(book) == 0 and book.undecodable == 2


def test_only_the_newest_alerts_are_held():
    book = AlertBook(max_alerts=3)
    book.add_alerts([(key(i), alert_value(ts=i)) for i in range(10)])
    assert [x["alert"]["id"] for x in book.query(Filters())] == [9, 8, 7]


def test_one_claim_per_alert_and_who_has_it():
    book = AlertBook()
    events = []
    book.subscribe(lambda kind, data: events.append(kind))
    book.add_alerts([(key(1), alert_value())])
    first = book.claim(1, "alice")
    assert isinstance(first, Claimed)
    second = book.claim(1, "bob")
    assert isinstance(second, Refused) and second.reason == "in-progress" and second.by == "alice"
    book.settle(first, Verdict(1, "analyst", "alice", 5, None, 0, 17))
    third = book.claim(1, "bob")
    assert isinstance(third, Refused) and third.reason == "labelled" and third.verdict.who == "alice"
    # the follower reading the same record back changes nothing
    book.add_labels([(label(1, 1, by="alice"), 0, 17)])
    assert events == ["alert", "pending", "verdict"]


def test_a_released_claim_can_be_taken_again():
    book = AlertBook()
    book.add_alerts([(key(1), alert_value())])
    c = book.claim(1, "alice")
    book.release(c)
    assert isinstance(book.claim(1, "bob"), Claimed)


def test_a_verdict_from_elsewhere_closes_the_alert():
    book = AlertBook()
    book.add_alerts([(key(1), alert_value())])
    book.add_labels([(label(1, 1, "chargeback", None), 0, 3)])
    r = book.claim(1, "alice")
    assert isinstance(r, Refused) and r.verdict.who == "chargeback"


def test_concurrent_claims_admit_exactly_one():
    book = AlertBook()
    book.add_alerts([(key(i), alert_value()) for i in range(50)])
    wins: list[tuple[int, str]] = []
    barrier = threading.Barrier(8)

    def analyst(name: str) -> None:
        barrier.wait()
        for i in range(50):
            r = book.claim(i, name)
            if isinstance(r, Claimed):
                wins.append((i, name))

    threads = [threading.Thread(target=analyst, args=(f"a{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for i, _ in wins) == list(range(50))
