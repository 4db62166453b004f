"""The README's notebook install line, run as written in a fresh virtualenv, gives a
working ksql-python client: the notebook's code cells run in that environment against
the KSQL server (the embedded one, unless KSQL_URL points elsewhere).

This is the check that would have caught `pip install ksql-python-ng` resolving httpx
0.28, whose request() no longer takes the `cert=` ksql-python-ng passes (TypeError on the
first client.ksql()).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.clients.ksql_rest import KsqlClient, apply
from tests.support.deploy_files import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def readme_install_lines() -> list[list[str]]:
    """The `pip install` lines of the README's "From Jupyter" section, as argument lists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### From Jupyter", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("pip install"):
                lines.append(shlex.split(line))
    return lines


def test_the_readme_names_the_notebook_extra():
    lines = readme_install_lines()
    assert lines, "the README's From Jupyter section has no `pip install` line"
    assert any("[notebook]" in word for line in lines for word in line)


def test_readme_install_lines_give_a_working_notebook(tmp_path: Path, kafka_bootstrap: str,
                                                      schema_registry_url: str, ksql_url: str,
                                                      monkeypatch: pytest.MonkeyPatch):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    for line in readme_install_lines():
        proc = subprocess.run([str(python), "-m", *line, "--quiet", "--disable-pip-version-check"], cwd=ROOT,
                              capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, f"`{shlex.join(line)}` failed:\n{proc.stderr[-3000:]}"

    # The pipeline's statements and some data, as the notebook's introduction asks.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    monkeypatch.setenv("KSQL_URL", ksql_url)
    from fraudstream.cli.main import main

    assert main(["produce", "users", "--quiet"]) == 0
    with KsqlClient(ksql_url) as client:
        apply(client, ROOT / "ksql")
    assert main(["produce", "transactions", "--count", "2000", "--unlabeled-fraction", "0.3",
                 "--quiet", "--seed", "5"]) == 0

    notebook = json.loads((ROOT / "notebooks" / "querying_streams.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    runner = tmp_path / "run_cells.py"
    runner.write_text(
        "import json, sys\n"
        "cells = json.load(open(sys.argv[1]))\n"
        "ns = {}\n"
        "for i, src in enumerate(cells):\n"
        "    try:\n"
        "        exec(compile(src, f'notebook cell {i}', 'exec'), ns)\n"
        "    except Exception as exc:\n"
        "        print(f'cell {i} failed: {type(exc).__name__}: {exc}', file=sys.stderr)\n"
        "        sys.exit(1)\n"
        "import httpx, ksql\n"
        "print(json.dumps({'rows': len(ns['df']), 'httpx': httpx.__version__}))\n")
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["KSQL_URL"] = ksql_url
    # outside the checkout, so only what the venv installed can be imported
    proc = subprocess.run([str(python), str(runner), str(tmp_path / "cells.json")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rows"] == 200
    assert result["httpx"].startswith("0.27"), result
