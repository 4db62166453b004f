"""The layer map of docs/DESIGN.md, enforced: imports point down only.

The contracts live in pyproject.toml (`[tool.importlinter]`): cli -> stack -> embedded ->
clients -> core; cli -> services -> clients -> core; services and the embedded stand-ins
never import each other; the KSQL engine's folders in their order. import-linter reads a
package from one folder on disk, while the repository keeps the services and `embedded`
in top-level folders installed as `fraudstream.*` (setup.py's package-dir mapping), so the
test lays the installed namespace out in a temporary folder and lints that copy.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def package_dirs() -> dict[str, str]:
    """setup.py's PACKAGE_DIRS, read without running setup()."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PACKAGE_DIRS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no PACKAGE_DIRS")


def test_imports_point_down_only(tmp_path: Path) -> None:
    root = tmp_path / "namespace"
    for package, folder in package_dirs().items():
        shutil.copytree(REPO / folder, root / package.replace(".", "/"), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(REPO / 'pyproject.toml')!r}, no_cache=True, no_logo=True))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env={"PYTHONPATH": str(root), "PATH": ""},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"an import points the wrong way (see docs/DESIGN.md, Layers):\n{proc.stdout}{proc.stderr}"
