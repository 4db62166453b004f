"""The dead-code finder reports nothing unexplained.

vulture reads the installed packages, the tests and the benchmarks (code used only by tests
and benchmarks counts as used: fixtures start services through the launchers) and reports
on the packages only (pytest's conventions, `pytestmark` and fixtures, look unused to it).
What it reports but is used (names called by a framework, from generated code, by name) is listed
with its reason in tests/support/vulture_whitelist.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["fraudstream", "producers", "trainer", "scorer", "monitor", "console", "embedded", "tests", "bench"]


def test_vulture_reports_nothing_unexplained() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vulture", *SOURCES, "tests/support/vulture_whitelist.py",
         "--min-confidence", "60", "--ignore-names", "_c_*,_t_*"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert not proc.stderr.strip(), proc.stderr
    reported = [line for line in proc.stdout.splitlines() if not line.startswith(("tests/", "bench/"))]
    assert not reported, ("dead code (remove it, or explain it in tests/support/vulture_whitelist.py):\n"
                          + "\n".join(reported))
