"""The README's notebook install line, run as written in a fresh virtualenv, gives a
working notebook: that environment's `jupyter execute` runs querying_streams.ipynb top to
bottom in its own kernel against the KSQL server (the embedded one, unless KSQL_URL points
elsewhere), and the rows come back.

This is the check that would have caught `pip install ksql-python-ng` resolving httpx
0.28, whose request() no longer takes the `cert=` ksql-python-ng passes (TypeError on the
first client.ksql()).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def venv(tmp_path: Path) -> Iterator[Path]:
    """A virtualenv removed afterwards: with TensorFlow it takes ~3 GB, and pytest keeps
    the last three runs' temporary directories (a CI machine's disk filled up this way)."""
    path = tmp_path / "venv"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_readme_install_lines_give_a_working_notebook(tmp_path: Path, venv: Path, kafka_bootstrap: str,
                                                      schema_registry_url: str, ksql_url: str):
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    for line in readme_install_lines():
        proc = subprocess.run([str(python), "-m", *line, "--quiet", "--disable-pip-version-check"], cwd=ROOT,
                              capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, f"`{shlex.join(line)}` failed:\n{proc.stderr[-3000:]}"

    # The README's next lines with that venv's `fraudstream`, outside the checkout's .venv;
    # the session's stack stands in for `fraudstream up`, its URLs for `eval "$(fraudstream env)"`.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
               SCHEMA_REGISTRY_URL=schema_registry_url, KSQL_URL=ksql_url,
               FRAUDSTREAM_HOME=str(tmp_path / "home"))
    for command in (["produce", "users", "--quiet"], ["ksql", "apply"],
                    ["produce", "transactions", "--count", "2000", "--unlabeled-fraction", "0.3", "--quiet"]):
        proc = subprocess.run([str(venv / "bin" / "fraudstream"), *command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"`fraudstream {shlex.join(command)}` failed:\n{proc.stdout}{proc.stderr}"

    # `jupyter execute`: the venv's Jupyter, kernel and libraries
    out = tmp_path / "executed.ipynb"
    proc = subprocess.run([str(venv / "bin" / "jupyter"), "execute", f"--output={out}",
                           str(ROOT / "notebooks" / "querying_streams.ipynb")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    executed = json.loads(out.read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    printed = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    assert "connected to " + ksql_url in printed and "20 users shown" in printed  # rows came back
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 6  # the listings, the schema, the pull and push queries as DataFrames

    versions = subprocess.run([str(python), "-c", "import httpx, ksql, matplotlib, nbclient, ipykernel, fraudstream; "
                               "print(httpx.__version__, fraudstream.__file__)"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert versions.returncode == 0, versions.stderr
    httpx_version, where = versions.stdout.split()
    assert httpx_version.startswith("0.27") and where == str(ROOT / "fraudstream" / "__init__.py")  # editable
