"""Loading QTT files and expanding each case into runs (`format` × `config`).

Files are read unmodified (JSON with exact decimals via `parse_float=Decimal`). A run
is skipped only when it is disabled (`enabled: false`) or uses a format the engine does
not support (none today); the reason is kept for the report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.shared import shared_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ((shared_dir() or REPO_ROOT.parent / "shared") / "ksql-conformance" / "qtt")
OWN_CASES_DIR = Path(__file__).resolve().parent / "cases"

UNSUPPORTED_FORMATS: tuple[str, ...] = ()

#: the files the pass-rate goal is measured over (issue "Done when")
GOAL_FILES = [
    "project-filter", "select", "where", "like", "case-expression", "cast",
    "binary-arithmetic", "operators", "concat", "null", "string", "substring", "len", "math",
    "delimited", "json", "avro", "formats", "kafka", "key-schemas", "insert-into",
    "partition-by", "quoted-identifiers", "sink-topic-naming", "drop_source",
]


@dataclass
class Run:
    file: str
    name: str  # full name: "<file stem> - <case name>[ - <format>][ - <prop>=<value>]"
    case: dict[str, Any]
    statements: list[str]
    properties: dict[str, Any]
    format: str | None = None
    skip_reason: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def strip_comments(text: str) -> str:
    """JSON with `//` and `/* */` comments as ksqlDB's test loader reads it (Jackson's
    ALLOW_COMMENTS): comments outside strings become nothing; nothing else is relaxed."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated /* comment")
            out.append(" ")
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load_json(path: Path) -> dict[str, Any]:
    """A corpus file as ksqlDB reads it (comments allowed, exact decimals)."""
    text = path.read_text(encoding="utf-8")
    return json.loads(strip_comments(text), parse_float=Decimal)


def _uses_unsupported(case: dict[str, Any], statements: list[str]) -> str | None:
    text = " ".join(statements).upper()
    for fmt in UNSUPPORTED_FORMATS:
        if re.search(rf"['\"]{fmt}['\"]", text):
            return fmt
    for t in case.get("topics", []) or []:
        for key in ("keyFormat", "valueFormat", "format"):
            v = str(t.get(key, "")).upper()
            if v in UNSUPPORTED_FORMATS:
                return v
    return None


def expand(file: str, case: dict[str, Any]) -> list[Run]:
    stem = file[:-5] if file.endswith(".json") else file
    formats = case.get("format") or [None]
    configs = case.get("config") or [None]
    runs: list[Run] = []
    for fmt in formats:
        for cfg in configs:
            name = f"{stem} - {case['name']}"
            statements = list(case["statements"])
            if fmt is not None:
                name += f" - {fmt}"
                statements = [s.replace("{FORMAT}", fmt) for s in statements]
            props = dict(case.get("properties") or {})
            if cfg is not None:
                for k, v in list(props.items()):
                    if v == "{CONFIG}":
                        props[k] = cfg
                        name += f" - {k}={cfg}"
            run = Run(file, name, case, statements, props, fmt)
            if case.get("enabled", True) is False:
                run.skip_reason = "disabled in the corpus (enabled: false)"
            else:
                bad = _uses_unsupported(case, statements)
                if bad:
                    run.skip_reason = f"format {bad} is not supported by the engine"
            runs.append(run)
    return runs


def resolve_files(args: list[str]) -> list[Path]:
    """File arguments: paths, or names/stems looked up in the corpus and our cases."""
    if not args:
        return [CORPUS_DIR / f"{name}.json" for name in GOAL_FILES]
    out = []
    for a in args:
        p = Path(a)
        if p.exists():
            out.append(p)
            continue
        stem = a[:-5] if a.endswith(".json") else a
        for base in (CORPUS_DIR, OWN_CASES_DIR):
            cand = base / f"{stem}.json"
            if cand.exists():
                out.append(cand)
                break
        else:
            raise FileNotFoundError(f"QTT file not found: {a}")
    return out


def load_runs(path: Path) -> list[Run]:
    data = load_json(path)
    runs: list[Run] = []
    for case in data.get("tests", []):
        runs.extend(expand(path.name, case))
    return runs
