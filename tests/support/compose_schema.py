"""The Compose specification's JSON schema, as check-jsonschema ships it.

There is no Docker engine on CI machines, so docker-compose.yml is validated against the
Compose specification's JSON schema instead. The PyPI package check-jsonschema (a test
dependency) vendors compose-spec/schema/compose-spec.json with its licence and keeps it
current, so the schema comes with `pip install` and needs no other tool or download.
"""

from __future__ import annotations

import json
from importlib import resources

PACKAGE = "check_jsonschema.builtin_schemas.vendor"
MEMBER = "compose-spec.json"


def load_schema() -> dict:
    return json.loads(resources.files(PACKAGE).joinpath(MEMBER).read_text(encoding="utf-8"))


if __name__ == "__main__":
    schema = load_schema()
    print(f"Compose JSON schema from check-jsonschema: {schema.get('title')} ({schema.get('$schema')})")
