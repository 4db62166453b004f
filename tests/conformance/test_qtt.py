"""The conformance goal as a test: ksqlDB's own QTT cases through the embedded engine.

The 25 files of the issue's "Done when" must pass at >= 95% (passed / (passed + failed));
skips are only for unsupported formats or disabled cases. Our MASK cases must all pass.
"""

from __future__ import annotations

import json

import pytest

from tests.conformance import qtt
from tests.conformance.loader import CORPUS_DIR, GOAL_FILES, OWN_CASES_DIR, load_runs
from tests.conformance.runner import run_case

pytestmark = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(), reason=f"the ksqlDB conformance corpus is not present at {CORPUS_DIR}"
)


def test_goal_files_pass_rate_at_least_95_percent():
    results = qtt.run_files([CORPUS_DIR / f"{n}.json" for n in GOAL_FILES])
    counts = qtt.summarize(results)
    passed = sum(c["passed"] for c in counts.values())
    failed = sum(c["failed"] for c in counts.values())
    assert len(counts) == 25
    assert passed + failed > 500, "the corpus should yield over 500 runnable cases"
    ratio = passed / (passed + failed)
    failures = [f"{r.name}: {r.reason.splitlines()[0]}" for rs in results.values() for r in rs
                if r.status == "failed"]
    assert ratio >= 0.95, f"pass rate {ratio:.3f} < 0.95; failures:\n" + "\n".join(failures)


def test_skips_only_for_unsupported_formats_or_disabled_cases():
    for name in GOAL_FILES:
        for run in load_runs(CORPUS_DIR / f"{name}.json"):
            if run.skip_reason:
                assert ("not supported by the engine" in run.skip_reason
                        or "disabled" in run.skip_reason), run.name


def test_own_mask_cases_all_pass():
    results = [run_case(r) for r in load_runs(OWN_CASES_DIR / "mask.json")]
    assert len(results) >= 8
    bad = [f"{r.name}: {r.reason}" for r in results if r.status != "passed"]
    assert not bad, "\n".join(bad)


def test_own_rule_cases_all_pass():
    """Our QTT-format cases for ksqlDB rules (tests/conformance/cases/*.json) all pass."""
    files = sorted(OWN_CASES_DIR.glob("*.json"))
    results = [run_case(r) for f in files for r in load_runs(f)]
    assert len(files) >= 2 and len(results) >= 10
    bad = [f"{r.name}: {r.reason}" for r in results if r.status != "passed"]
    assert not bad, "\n".join(bad)


def test_cli_prints_per_file_lines_and_writes_json(tmp_path, capsys):
    out = tmp_path / "qtt.json"
    assert qtt.main(["select", "mask", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("select.json: passed=")
    assert lines[-1].startswith("qtt: passed=")
    data = json.loads(out.read_text())
    assert set(data["files"]) == {"select.json", "mask.json"}
    total = data["total"]
    assert total["passed"] + total["failed"] + total["skipped"] == sum(
        sum(c.values()) for c in data["files"].values()
    )


def test_a_wrong_expectation_is_reported_as_failure():
    """The harness must be able to fail: flip an expected value and check the verdict."""
    runs = load_runs(CORPUS_DIR / "select.json")
    run = next(r for r in runs if r.name.endswith("value column"))
    assert run_case(run).status == "passed"
    run.case = json.loads(json.dumps(run.case, default=str))
    run.case["outputs"][0]["value"]["NEW_NAME"] = "not-a"
    assert run_case(run).status == "failed"


#: stateful files (joins, aggregations, windows): passes measured when every join kind,
#: SESSION windows, EMIT FINAL and windowed sources landed; a drop below is a regression.
#: What still fails there: Kafka Streams' internal topic names in `post` (joins), the
#: `Statement: …` tail of three messages and an ANTLR wording (group-by), runtime
#: failures ksqlDB turns into a stopped query (sum).
STATEFUL_FLOORS = {"joins": 138, "stream-table-join": 5, "group-by": 152, "count": 7, "sum": 13,
                   "tumbling-windows": 7, "join-with-custom-timestamp": 10, "fk-n-way-join": 9,
                   "windowed-source": 2}


def test_stateful_files_do_not_regress():
    results = qtt.run_files([CORPUS_DIR / f"{n}.json" for n in STATEFUL_FLOORS])
    counts = qtt.summarize(results)
    low = {f: c["passed"] for f, c in counts.items() if c["passed"] < STATEFUL_FLOORS[f[:-5]]}
    assert not low, f"passes below the floor {STATEFUL_FLOORS}: {low}"
    assert all(counts[f"{n}.json"]["failed"] == 0 for n in (
        "stream-table-join", "count", "tumbling-windows", "join-with-custom-timestamp", "fk-n-way-join",
        "windowed-source"))


#: files whose last failures were fixed by following ksqlDB's rules (ASSERT grammar, the
#: stream-table join key check, struct expansion in joins, PARTITION BY's SELECT * over a
#: join, the sink TIMESTAMP check before the key check): every case passes; a drop
#: below is a regression
ALL_PASS_FILES = {"asserts": 2, "multi-col-keys": 19, "partition-by": 84, "select-struct-all": 6,
                  "timestampformat": 11}


def test_files_that_fully_pass_stay_so():
    results = qtt.run_files([CORPUS_DIR / f"{n}.json" for n in ALL_PASS_FILES])
    counts = qtt.summarize(results)
    low = {f: (c["passed"], c["failed"]) for f, c in counts.items()
           if c["passed"] < ALL_PASS_FILES[f[:-5]] or c["failed"]}
    assert not low, f"below {ALL_PASS_FILES} or failing: {low}"


def test_topics_register_in_java_hashmap_order():
    """The harness hands out schema ids in the order ksqlDB's test driver registers them
    (a java.util.HashMap of topic names): String.hashCode and HashMap's buckets."""
    from tests.conformance.runner import _java_string_hash, java_hashmap_order

    assert _java_string_hash("hello") == 99162322  # "hello".hashCode() in Java
    assert _java_string_hash("polygenelubricants") == (-2147483648) & 0xFFFFFFFF  # Integer.MIN_VALUE
    assert java_hashmap_order(["OUTPUT", "input"]) == ["input", "OUTPUT"]
    keys = [f"t{i}" for i in range(20)]  # past 12 keys the table doubles to 32 buckets
    assert sorted(java_hashmap_order(keys)) == sorted(keys)


#: passes reached in files that still have failures ksqlDB-side behaviours we do not
#: follow (elements: a CSAS whose registered schema has an extra required field, which
#: ksqlDB turns into a stopped query)
PASS_FLOORS = {"elements": 87}


def test_pass_floors():
    results = qtt.run_files([CORPUS_DIR / f"{n}.json" for n in PASS_FLOORS])
    counts = qtt.summarize(results)
    low = {f: c["passed"] for f, c in counts.items() if c["passed"] < PASS_FLOORS[f[:-5]]}
    assert not low, f"passes below the floor {PASS_FLOORS}: {low}"
