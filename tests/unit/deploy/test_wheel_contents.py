"""A plain (non-editable) install must carry everything the CLI reads at run time.

`fraudstream ksql apply` and the demo read the pipeline's statements; when they were
looked up relative to the source file, a wheel install found site-packages/ksql (which is
ksql-python's package) and applied nothing. The wheel is built and unpacked here, and the
CLI is imported from the unpacked copy, as `pip install .` would lay it out.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.deploy_files import ROOT


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("fraudstream-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def test_the_wheel_holds_every_statement_file(unpacked_wheel: Path):
    sources = sorted(p.relative_to(ROOT / "ksql") for p in (ROOT / "ksql").rglob("*.ksql"))
    assert sources, "no statements in ksql/"
    installed = sorted(p.relative_to(unpacked_wheel / "fraudstream" / "statements")
                       for p in (unpacked_wheel / "fraudstream" / "statements").rglob("*.ksql"))
    assert installed == sources


def test_an_installed_cli_applies_the_installed_statements(unpacked_wheel: Path):
    code = "from fraudstream.cli.ksql_cmd import DEFAULT_DIR; import fraudstream; print(DEFAULT_DIR); print(fraudstream.__file__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=unpacked_wheel, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(unpacked_wheel), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    statements, package = proc.stdout.split()
    assert Path(package).is_relative_to(unpacked_wheel)  # the unpacked copy, not the checkout
    assert Path(statements) == unpacked_wheel / "fraudstream" / "statements"


def test_the_checkout_resolves_to_its_own_folder():
    from fraudstream.cli.ksql_cmd import DEFAULT_DIR
    assert (DEFAULT_DIR / "01_source.ksql").is_file()
