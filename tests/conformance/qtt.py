"""Run ksqlDB QTT files through the embedded engine and report pass/fail/skip counts.

    python -m tests.conformance.qtt [FILES...] [--json PATH] [-v]

Without FILES it runs the 25 files of the pass-rate goal from
../shared/ksql-conformance/qtt/ (unmodified). FILES may be paths or stems (`select`,
`mask` for our own cases under tests/conformance/cases/). One line per file, then
`qtt: passed=P failed=F skipped=S`; `--json` writes the same counts per file.
Skipped runs (unsupported format, disabled) are listed with their reason; `-v` also
lists each failure with its reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.conformance.loader import load_runs, resolve_files
from tests.conformance.runner import Result, run_case


def run_files(paths: list[Path]) -> dict[str, list[Result]]:
    """Every run of every file; a file that cannot be read counts as one failure naming
    the file and the error, and the other files still run."""
    out: dict[str, list[Result]] = {}
    for p in paths:
        try:
            runs = load_runs(p)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            out[p.name] = [Result(f"{p.name}", "failed", f"cannot read {p}: {type(exc).__name__}: {exc}")]
            continue
        out[p.name] = [run_case(r) for r in runs]
    return out


def summarize(results: dict[str, list[Result]]) -> dict[str, dict[str, int]]:
    counts = {}
    for f, rs in results.items():
        counts[f] = {
            "passed": sum(r.status == "passed" for r in rs),
            "failed": sum(r.status == "failed" for r in rs),
            "skipped": sum(r.status == "skipped" for r in rs),
        }
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.conformance.qtt", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="QTT files (paths or stems); default: the 25 goal files")
    ap.add_argument("--json", dest="json_path", help="write per-file counts as JSON to PATH")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure and its reason")
    args = ap.parse_args(argv)
    try:
        paths = resolve_files(args.files)
    except FileNotFoundError as e:
        print(str(e), file=sys.stderr)
        return 2
    results = run_files(paths)
    counts = summarize(results)
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for f, rs in results.items():
        c = counts[f]
        for k in total:
            total[k] += c[k]
        print(f"{f}: passed={c['passed']} failed={c['failed']} skipped={c['skipped']}")
        for r in rs:
            if r.status == "skipped":
                print(f"  skipped: {r.name}: {r.reason}")
            elif r.status == "failed" and args.verbose:
                print(f"  FAILED: {r.name}\n    " + r.reason.replace("\n", "\n    "))
    if args.json_path:
        Path(args.json_path).write_text(
            json.dumps({"files": counts, "total": total}, indent=2) + "\n", encoding="utf-8"
        )
    print(f"qtt: passed={total['passed']} failed={total['failed']} skipped={total['skipped']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
