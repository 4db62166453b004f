"""`fraudstream ksql`: run KSQL statements and print the results as tables.

    fraudstream ksql "SHOW STREAMS;"                 one or more statements
    fraudstream ksql -f queries.ksql                 a file
    fraudstream ksql "SELECT * FROM s EMIT CHANGES LIMIT 5;"
    fraudstream ksql apply [DIR]                     ksql/*.ksql in order, idempotently
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fraudstream.clients.ksql_rest import (
    KsqlClient,
    KsqlError,
    apply,
    is_query,
    split_statements,
    statements_in,
)
from fraudstream.core.settings import Endpoints

out = Console()
err = Console(stderr=True)



def _statements_dir() -> Path:
    """The pipeline's statements (the repository's ksql/ folder), wherever it is installed.

    setup.py installs ksql/ as the data package `fraudstream.statements`: a wheel puts it
    in site-packages/fraudstream/statements, an editable install maps it to the checkout.
    Resolving a path relative to this file instead found site-packages/ksql, which is
    ksql-python's package, after a plain `pip install .`. The checkout's folder is the
    fallback for an editable install made before the mapping existed.
    """
    spec = importlib.util.find_spec("fraudstream.statements")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "01_source.ksql").is_file():
            return Path(location)
    return Path(__file__).resolve().parents[2] / "ksql"


DEFAULT_DIR = _statements_dir()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ksql", help="run KSQL statements, or `ksql apply [DIR]` to apply ksql/*.ksql",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("statement", nargs="*", help="statement text, or `apply [DIR]`")
    p.add_argument("-f", "--file", type=Path, help="run the statements of this file")
    p.add_argument("--earliest", action="store_true",
                   help="queries read from the beginning (auto.offset.reset=earliest)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to this long for the KSQL server (and --wait-subject) first")
    p.add_argument("--wait-subject", metavar="SUBJECT", action="append", default=[],
                   help="first wait (up to --wait seconds) until the schema registry has this subject, "
                        "e.g. fraud_scores-value before statements that infer their columns from it "
                        "(repeat for several)")
    p.add_argument("--json", action="store_true", help="print the server's JSON instead of tables")
    p.set_defaults(func=run)


def _client() -> KsqlClient:
    return KsqlClient.from_settings(Endpoints.from_env().ksql_url)


def run(args: argparse.Namespace) -> int:
    words = list(args.statement)
    started = time.monotonic()
    with _client() as client:
        if args.wait:
            client.wait_ready(args.wait)
        for subject in args.wait_subject:
            _wait_subject(subject, max(args.wait - (time.monotonic() - started), 0.0))
        if words and words[0].lower() == "apply" and not args.file:
            return _apply(client, Path(words[1]) if len(words) > 1 else DEFAULT_DIR)
        if args.file:
            statements = statements_in(args.file)
        elif words:
            statements = split_statements(" ".join(words))
        else:
            raise KsqlError("give a statement, -f FILE, or `apply [DIR]`")
        props = {"ksql.streams.auto.offset.reset": "earliest"} if args.earliest else {}
        for stmt in statements:
            try:
                if is_query(stmt.text):
                    _print_query(client, stmt.text, props, args.json)
                else:
                    for entity in client.execute(stmt.text + ";", props):
                        _print_entity(entity, args.json)
            except KsqlError as exc:
                raise KsqlError(f"{stmt.where}: {exc}", exc.error_code, stmt.text) from exc
    return 0


def _wait_subject(subject: str, timeout: float, poll: float = 2.0) -> None:
    """Return once the schema registry has `subject`; a clear error after `timeout` s."""
    from fraudstream.core.avro_wire import registry_client

    endpoints = Endpoints.from_env()
    client = registry_client(endpoints.schema_registry_url)
    deadline = time.monotonic() + timeout
    announced = False
    last = "not registered yet"
    while True:
        try:
            client.get_latest_version(subject)
            return
        except Exception as exc:  # 404 until the producer of the subject registers it
            last = "not registered yet" if getattr(exc, "http_status_code", None) == 404 else _one_line(exc)
        if time.monotonic() >= deadline:
            raise KsqlError(f"schema subject {subject} did not appear in the schema registry within "
                            f"{timeout:.0f} s ({last}); the statements that read it were not applied")
        if not announced:
            err.print(f"waiting up to {timeout:.0f} s for schema subject {subject} …", highlight=False)
            announced = True
        time.sleep(poll)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _apply(client: KsqlClient, path: Path) -> int:
    if not path.exists():
        raise KsqlError(f"{path} does not exist")

    def show(stmt, what):
        first = " ".join(stmt.text.split())[:90]
        mark = "[green]applied[/green]" if what == "applied" else "[yellow]exists, skipped[/yellow]"
        out.print(f"{mark}  {stmt.where}  {first}", highlight=False)

    report = apply(client, path, on_statement=show)
    out.print(f"{len(report.applied)} applied, {len(report.skipped)} already present")
    return 0


def _print_query(client: KsqlClient, sql: str, props: dict, as_json: bool) -> None:
    table: Table | None = None
    rows = 0
    try:
        for item in client.query(sql, props):
            if as_json:
                print(json.dumps(item), flush=True)
                continue
            if isinstance(item, dict):
                table = Table(title=item.get("queryId", ""))
                for name in item.get("columnNames", []):
                    table.add_column(name)
                continue
            rows += 1
            if table is not None:
                table.add_row(*[_cell(v) for v in item])
    except KeyboardInterrupt:
        pass
    if table is not None and not as_json:
        out.print(table)
        out.print(f"{rows} row(s)")


def _cell(value) -> str:
    if value is None:
        return "[dim]null[/dim]"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _print_entity(entity: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(entity, indent=1))
        return
    kind = entity.get("@type")
    if kind == "currentStatus":
        status = entity["commandStatus"]
        out.print(f"{status.get('status')}: {status.get('message')}", highlight=False)
    elif kind in ("streams", "tables"):
        items = entity.get(kind, [])
        table = Table(title=kind.upper())
        for col in ("name", "topic", "keyFormat", "valueFormat", "isWindowed"):
            table.add_column(col)
        for item in items:
            table.add_row(*[str(item.get(c, "")) for c in ("name", "topic", "keyFormat", "valueFormat", "isWindowed")])
        out.print(table)
    elif kind == "queries":
        table = Table(title="QUERIES")
        for col in ("id", "queryType", "state", "sinks", "queryString"):
            table.add_column(col)
        for q in entity.get("queries", []):
            table.add_row(q.get("id", ""), q.get("queryType", ""), q.get("state", ""),
                          ",".join(q.get("sinks", [])), q.get("queryString", "")[:80])
        out.print(table)
    elif kind in ("kafka_topics", "kafka_topics_extended"):
        table = Table(title="TOPICS")
        table.add_column("name")
        table.add_column("partitions")
        for t in entity.get("topics", []):
            table.add_row(t["name"], str(len(t.get("replicaInfo", []))))
        out.print(table)
    elif kind == "sourceDescription":
        desc = entity["sourceDescription"]
        table = Table(title=f"{desc['type']} {desc['name']} (topic {desc.get('topic')}, "
                            f"key {desc.get('keyFormat')}, value {desc.get('valueFormat')})")
        table.add_column("field")
        table.add_column("type")
        for f in desc.get("fields", []):
            suffix = " (key)" if f.get("type") == "KEY" else ""
            table.add_row(f["name"], f["schema"]["type"] + suffix)
        out.print(table)
        queries = [q["id"] for q in desc.get("readQueries", []) + desc.get("writeQueries", [])]
        if queries:
            out.print(f"queries: {', '.join(queries)}")
    elif kind == "properties":
        table = Table(title="PROPERTIES")
        table.add_column("name")
        table.add_column("value")
        for p in entity.get("properties", []):
            table.add_row(p["name"], str(p.get("value")))
        out.print(table)
    elif kind == "source_descriptions":
        for desc in entity.get("sourceDescriptions", []):
            _print_entity({"@type": "sourceDescription", "sourceDescription": desc}, False)
    elif kind == "terminate_query":
        out.print(f"query {entity.get('queryId')} terminated: {entity.get('wasTerminated')}")
    else:
        out.print_json(json.dumps(entity))
