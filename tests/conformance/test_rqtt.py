"""The REST query validation files (rqtt/) as the second conformance suite, and the
loader reading corpus files as ksqlDB does (comments allowed; an unreadable file is that
file's failure, not the run's)."""

from __future__ import annotations

import json

import pytest

from tests.conformance import qtt, rqtt
from tests.conformance.loader import CORPUS_DIR, load_runs, strip_comments
from tests.conformance.rest_runner import run_rest_case

pytestmark = pytest.mark.skipif(
    not rqtt.RQTT_DIR.is_dir(), reason=f"the ksqlDB REST query corpus is not present at {rqtt.RQTT_DIR}"
)

#: passes measured when the suite was added; a drop below is a regression
FLOORS = {"pull-queries-against-streams.json": 13, "pull-queries-against-cst-materialized.json": 4,
          "pull-queries-against-ctas-materialized.json": 31, "pull-queries-with-struct-star.json": 3,
          "push-queries.json": 54, "insert-values.json": 46, "pull-queries-with-predicates.json": 13,
          "pull-queries-against-materialized-aggregates.json": 121, "pull-queries-with-limit-clause.json": 11}


def test_rest_files_do_not_regress():
    results = rqtt.run_files([rqtt.RQTT_DIR / f for f in FLOORS])
    counts = qtt.summarize(results)
    low = {f: c["passed"] for f, c in counts.items() if c["passed"] < FLOORS[f]}
    assert not low, f"passes below the floor {FLOORS}: {low}"


def test_a_wrong_expected_row_fails():
    run = next(r for r in load_runs(rqtt.RQTT_DIR / "pull-queries-against-streams.json") if r.name.endswith("simple"))
    assert run_rest_case(run).status == "passed"
    run.case = json.loads(json.dumps(run.case, default=str))
    rows = run.case["responses"][-1]["query"]
    row = next(r for r in rows if "row" in r)
    row["row"]["columns"][-1] = 999
    assert run_rest_case(run).status == "failed"


def test_comments_are_read_as_ksqldb_reads_them():
    text = '{"a": "x // not a comment /* nor this */", // a comment\n "b": [1, /* here */ 2], "c": "q\\"//"}'
    assert json.loads(strip_comments(text)) == {"a": "x // not a comment /* nor this */", "b": [1, 2], "c": 'q"//'}


def test_a_file_with_comments_loads_and_a_broken_file_is_reported_not_fatal(tmp_path):
    assert len(load_runs(CORPUS_DIR / "attr.json")) > 0
    broken = tmp_path / "broken.json"
    broken.write_text('{"tests": [ {"name": ')
    results = qtt.run_files([broken, CORPUS_DIR / "len.json"])
    (bad,) = results["broken.json"]
    assert bad.status == "failed" and "broken.json" in bad.reason and "JSONDecodeError" in bad.reason
    assert any(r.status == "passed" for r in results["len.json"])


#: files run against a real KSQL server over HTTP, and the passes measured there
HTTP_FLOORS = {"pull-queries-against-streams.json": 13, "pull-queries-with-struct-star.json": 3,
               "push-queries.json": 45}


@pytest.mark.slow
@pytest.mark.integration
def test_rest_files_over_http_against_a_running_server(tmp_path):
    """The same cases sent to a KSQL server over HTTP (its own broker, registry and server,
    since every case drops what it created), as ksqlDB's RestQueryTranslationTest does."""
    with rqtt.private_server(tmp_path) as server:
        results = rqtt.run_files([rqtt.RQTT_DIR / f for f in HTTP_FLOORS], server)
    counts = qtt.summarize(results)
    print({f: c for f, c in counts.items()})
    low = {f: c["passed"] for f, c in counts.items() if c["passed"] < HTTP_FLOORS[f]}
    assert not low, f"passes over HTTP below the floor {HTTP_FLOORS}: {low}"
