"""Run ksqlDB's REST query validation (RQTT) files through the embedded engine's REST flow.

    python -m tests.conformance.rqtt [FILES...] [--json PATH] [-v] [--http]

Without FILES it runs every file of ../shared/ksql-conformance/rqtt/ (unmodified). The
second conformance suite next to QTT (`python -m tests.conformance.qtt`): same loader,
same report (one line per file, then `rqtt: passed=P failed=F skipped=S`). In process by
default; `--http` sends every case to a real KSQL server over HTTP (`rest_http.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conformance.loader import CORPUS_DIR, load_runs
from tests.conformance.qtt import summarize
from tests.conformance.rest_runner import run_rest_case
from tests.conformance.runner import Result

RQTT_DIR = CORPUS_DIR.parent / "rqtt"


def resolve(args: list[str]) -> list[Path]:
    if not args:
        return sorted(RQTT_DIR.glob("*.json"))
    out = []
    for a in args:
        p = Path(a)
        if not p.exists():
            p = RQTT_DIR / (a if a.endswith(".json") else f"{a}.json")
        if not p.exists():
            raise FileNotFoundError(f"RQTT file not found: {a}")
        out.append(p)
    return out


def run_files(paths: list[Path], server=None) -> dict[str, list[Result]]:
    """Every case of every file; a file that cannot be read is one failure, the rest run.
    With `server` (`rest_http.Server`) the cases go to that KSQL server over HTTP."""
    out: dict[str, list[Result]] = {}
    for p in paths:
        try:
            runs = load_runs(p)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            out[p.name] = [Result(p.name, "failed", f"cannot read {p}: {type(exc).__name__}: {exc}")]
            continue
        if server is None:
            out[p.name] = [run_rest_case(r) for r in runs]
        else:
            from tests.conformance.rest_http import run_http_case

            out[p.name] = [run_http_case(r, server) for r in runs]
    return out


@contextmanager
def private_server(workdir: Path) -> Iterator:
    """An embedded broker, schema registry and KSQL server of this run's own, stopped at the end."""
    from fraudstream.embedded.kafka import KafkaBroker
    from fraudstream.embedded.ksqldb.launcher import start_ksql_server, stop_ksql_server
    from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry
    from tests.conformance.rest_http import Server

    broker = KafkaBroker(workdir / "kafka")
    broker.start()
    registry = ksql = None
    try:
        registry_url, registry = start_registry(broker.bootstrap, log_file=workdir / "registry.log")
        ksql_url, ksql = start_ksql_server(broker.bootstrap, registry_url, log_file=workdir / "ksqldb.log",
                                           service_id="rqtt_")
        yield Server(ksql_url, broker.bootstrap, registry_url)
    finally:
        if ksql is not None:
            stop_ksql_server(ksql)
        if registry is not None:
            stop_registry(registry)
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.conformance.rqtt", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="RQTT files (paths or stems); default: all of rqtt/")
    ap.add_argument("--json", dest="json_path", help="write per-file counts as JSON to PATH")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure and its reason")
    ap.add_argument("--http", action="store_true",
                    help="run the cases against a KSQL server over HTTP (a private embedded broker, "
                         "registry and server are started and stopped)")
    args = ap.parse_args(argv)
    try:
        paths = resolve(args.files)
    except FileNotFoundError as e:
        print(str(e), file=sys.stderr)
        return 2
    if args.http:
        with tempfile.TemporaryDirectory(prefix="rqtt-http-") as tmp, private_server(Path(tmp)) as server:
            results = run_files(paths, server)
    else:
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
        Path(args.json_path).write_text(json.dumps({"files": counts, "total": total}, indent=2) + "\n",
                                        encoding="utf-8")
    print(f"rqtt: passed={total['passed']} failed={total['failed']} skipped={total['skipped']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
