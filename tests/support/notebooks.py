"""Run a notebook top to bottom in a real Jupyter kernel (nbclient), as `jupyter execute`
does, then ask the same kernel about the variables the notebook left behind.

The kernel is the `python3` kernel of the environment running the tests (ipykernel's own
spec: this interpreter), started in notebooks/ with this process's environment, so the
notebook reads KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL and KSQL_URL as a user's does.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class Executed:
    notebook: nbformat.NotebookNode
    facts: dict  # what the probe printed, as JSON
    seconds: float  # the notebook's cells, kernel start included, probe excluded

    def outputs(self, output_type: str) -> list[dict]:
        return [o for c in self.notebook.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == output_type]

    def cell_seconds(self) -> list[tuple[int, float]]:
        """(cell index, seconds) of each code cell, from the timing nbclient records."""
        from datetime import datetime

        out = []
        for i, c in enumerate(self.notebook.cells):
            t = c.metadata.get("execution", {})
            if c.cell_type == "code" and "shell.execute_reply" in t:
                start, end = (datetime.fromisoformat(t[k].replace("Z", "+00:00"))
                              for k in ("iopub.execute_input", "shell.execute_reply"))
                out.append((i, (end - start).total_seconds()))
        return out

    def images(self) -> int:
        return sum("image/png" in o.get("data", {}) for o in self.outputs("display_data"))


def execute(name: str, probe: str, cell_timeout: float = 600) -> Executed:
    """Run notebooks/<name> cell by cell (a failing cell raises nbclient's
    CellExecutionError with the cell's traceback), then `probe`, code that prints one
    JSON line about the notebook's variables."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=cell_timeout,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    started = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - started
        check = nbformat.v4.new_code_cell(probe)
        nb.cells.append(check)
        client.execute_cell(check, len(nb.cells) - 1)
    nb.cells.pop()
    printed = "".join(o.get("text", "") for o in check.outputs if o.output_type == "stream" and o.name == "stdout")
    return Executed(nb, json.loads(printed.strip().splitlines()[-1]), seconds)
