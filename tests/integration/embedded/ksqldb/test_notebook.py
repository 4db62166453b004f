"""The Jupyter notebook's code cells run, in order, against the KSQL server with the real
ksql-python client, after the pipeline's own statements were applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudstream.clients.ksql_rest import KsqlClient, apply

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]


def test_notebook_cells_run_against_the_pipeline(kafka_bootstrap: str, schema_registry_url: str,
                                                 ksql_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.setenv("KSQL_URL", ksql_url)
    from fraudstream.cli.main import main

    assert main(["produce", "users", "--quiet"]) == 0  # the users table's schema comes from here
    with KsqlClient(ksql_url) as client:
        apply(client, ROOT / "ksql")

    assert main(["produce", "transactions", "--count", "3000", "--unlabeled-fraction", "0.3",
                 "--quiet", "--seed", "3"]) == 0

    notebook = json.loads((ROOT / "notebooks" / "querying_streams.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 6
    namespace: dict = {}
    for i, source in enumerate(cells):
        try:
            exec(compile(source, f"notebook cell {i}", "exec"), namespace)
        except Exception as exc:  # name the cell that failed
            pytest.fail(f"notebook code cell {i} failed: {type(exc).__name__}: {exc}\n{source}")
    df = namespace["df"]
    assert len(df) == 200 and set(df["CLASS"]) <= {"0", "1"}
    assert set(namespace["labels"].index) <= {"0", "1", "-1"} and namespace["labels"].sum() == 50
    assert len(namespace["users"]) == 20 and namespace["users"]["USERID"].is_unique
