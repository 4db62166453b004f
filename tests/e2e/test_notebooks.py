"""Both notebooks, top to bottom, in a Jupyter kernel (nbclient), against the embedded stack
(or the cluster the environment names), after the set-up their introductions ask for.

What is checked is what a user looks for: rows came back from the queries; the model was
trained, evaluated, published and read back; the running scorer scored live events with
it and the push query showed those scores; every figure was drawn. The run times are
printed (`-s`) for docs/DESIGN.md; no test asserts a timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fraudstream.clients.ksql_rest import KsqlClient, apply
from tests.support.notebooks import ROOT, execute

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(kafka_bootstrap: str, schema_registry_url: str, ksql_url: str, monkeypatch: pytest.MonkeyPatch,
             tmp_path: Path):
    """The three URLs in the environment (the kernel inherits it), the users produced and
    the pipeline's statements applied, as `fraudstream produce users && fraudstream ksql apply`."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.setenv("KSQL_URL", ksql_url)
    monkeypatch.setenv("FRAUDSTREAM_HOME", str(tmp_path / "home"))  # never a user's stack
    from fraudstream.cli.main import main

    assert main(["produce", "users", "--quiet"]) == 0
    with KsqlClient(ksql_url) as client:
        apply(client, ROOT / "ksql")
    return main


def test_querying_streams_notebook(pipeline):
    assert pipeline(["produce", "transactions", "--count", "3000", "--unlabeled-fraction", "0.3",
                     "--quiet", "--seed", "3"]) == 0
    run = execute("querying_streams.ipynb", probe=(
        "import json; print(json.dumps({'df': len(df), 'classes': sorted(set(df['CLASS'])), "
        "'big': len(big), 'big_min_amount': float(big['AMOUNT'].min()), "
        "'labels': {str(k): int(v) for k, v in labels.items()}, "
        "'users': len(users), 'unique_users': bool(users['USERID'].is_unique), "
        "'streams': sorted(s['name'] for s in streams)}))"))
    print(f"\nquerying_streams.ipynb: {run.seconds:.1f}s; per code cell: "
          + ", ".join(f"{i}: {s:.1f}s" for i, s in run.cell_seconds()))
    facts = run.facts
    assert facts["df"] == 200 and set(facts["classes"]) <= {"0", "1"}
    assert facts["big"] == 5 and facts["big_min_amount"] > 100  # the pull query's WHERE and LIMIT
    assert set(facts["labels"]) <= {"0", "1", "-1"} and sum(facts["labels"].values()) == 50
    assert facts["users"] == 20 and facts["unique_users"]
    assert {"CREDITCARDFRAUD_SOURCE", "CREDITCARDFRAUD_PREPROCESSED_AVRO",
            "CREDITCARDFRAUD_SCORING_AVRO"} <= set(facts["streams"])
    assert not run.outputs("error")


@pytest.mark.slow
def test_fraud_model_notebook_publishes_a_model_the_running_scorer_uses(pipeline, tmp_path: Path):
    """The notebook's introduction, for the embedded stack: 30,000 labelled events of
    history, the scorer running, live events streaming while the notebook runs."""
    assert pipeline(["produce", "transactions", "--count", "30000", "--quiet", "--seed", "11"]) == 0
    env = dict(os.environ)
    tag = uuid.uuid4().hex[:6]
    cli = [sys.executable, "-m", "fraudstream.cli.main"]
    scorer = subprocess.Popen([*cli, "score", "--metrics-port", "-1", "--group", f"nb-scorer-{tag}",
                               "--instance-id", f"nb-{tag}"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "scorer.log", "w"))
    live = subprocess.Popen([*cli, "produce", "transactions", "--rate", "50", "--unlabeled-fraction", "0.3",
                             "--id-start", "time", "--seed", "12", "--quiet"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "live.log", "w"))
    try:
        run = execute("fraud_model.ipynb", probe=(
            "import json; print(json.dumps({'rows': len(df), 'train_frauds': data.split.sizes()['train']['frauds'], "
            "'epochs': model.epochs_run, 'roc_auc': m['roc_auc'], 'forest_roc_auc': baseline['roc_auc'], "
            "'confusion': m['confusion_matrix'], 'test_rows': len(data.split.y_test), "
            "'version': bundle.version, 'threshold': bundle.threshold, 'rule': bundle.threshold_rule, "
            "'watched': len(watched), 'watched_versions': sorted(set(int(v) for v in watched['MODEL_VERSION'])), "
            "'watched_thresholds': sorted(set(float(v) for v in watched['THRESHOLD']))}))"))
    finally:
        for proc in (live, scorer):
            proc.terminate()
        for proc in (live, scorer):
            proc.wait(timeout=60)
    print(f"\nfraud_model.ipynb: {run.seconds:.1f}s; per code cell: "
          + ", ".join(f"{i}: {s:.1f}s" for i, s in run.cell_seconds()))
    facts = run.facts
    assert facts["rows"] >= 30000 and facts["train_frauds"] == 0 and 1 <= facts["epochs"] <= 10
    c = facts["confusion"]
    assert c["tn"] + c["fp"] + c["fn"] + c["tp"] == facts["test_rows"]
    assert facts["roc_auc"] > 0.9 and facts["forest_roc_auc"] > 0.5  # synthetic frauds stand out
    assert facts["rule"] == "max-f1"

    # published, read back by a client other than the notebook's
    import fraudstream as fs

    assert fs.load_model().version == facts["version"]
    # the scorer that ran all along scored live events with it, and the push query saw them
    assert facts["watched"] == 10 and facts["watched_versions"] == [facts["version"]]
    assert facts["watched_thresholds"] == [facts["threshold"]]
    assert "model_swapped" in (tmp_path / "scorer.log").read_text()

    assert not run.outputs("error")
    assert run.images() == 6  # balance, distributions, amount, loss, 2x2 evaluation, comparison
