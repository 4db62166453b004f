"""Where the tests and benchmarks find the project's shared folder (data samples, ksqlDB's
conformance corpus), read in place and never copied into the repository.

Test and benchmark support only: the product never reads this folder, so its settings
(`fraudstream.core.settings`) do not know about it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_SHARED = "FRAUDSTREAM_SHARED_DIR"


def shared_dir() -> Path | None:
    """The shared folder, or None when it is absent.

    It sits next to the checkout (`../shared`); a clone elsewhere (a CI work directory)
    finds it through FRAUDSTREAM_SHARED_DIR or the workplace's fixed location /work/shared.
    """
    candidates = [os.environ.get(ENV_SHARED, ""), str(REPO_ROOT.parent / "shared"), "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "data").is_dir():
            return Path(candidate).resolve()
    return None
