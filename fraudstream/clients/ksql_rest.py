"""A small client for the ksqlDB REST API, used by the CLI, the demo and tests.

Why not ksql-python (`from ksql import KSQLAPI`) here: data scientists use it from
Jupyter and it stays supported, but it turns every error into a generic exception and
hides the statement position; the CLI must name the file, line and statement that
failed. This client speaks the same endpoints (/ksql, /query-stream, /info) with httpx,
so it works unchanged against real ksqlDB in compose and the embedded engine.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from fraudstream.core import client_properties
from fraudstream.core.client_properties import redact_url
from fraudstream.core.errors import FraudstreamError


class KsqlError(FraudstreamError):
    """The KSQL server rejected a statement or could not be reached."""

    exit_code = 6

    def __init__(self, message: str, error_code: int | None = None, statement: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.statement = statement


@dataclass(frozen=True)
class Statement:
    text: str  # without the trailing ';'
    line: int  # 1-based line of its first character in the source text
    source: str = "<input>"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def split_statements(text: str, source: str = "<input>") -> list[Statement]:
    """Split KSQL text on ';' outside quotes, back-quotes and comments.

    Hand-written because a full parse needs the server's grammar; this only needs to
    find statement boundaries and remember the line each starts on, for error messages.
    """
    out: list[Statement] = []
    buf: list[str] = []
    start_line: int | None = None
    line = 1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "-" and nxt == "-":  # line comment
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if ch == "/" and nxt == "*":  # block comment
            j = text.find("*/", i + 2)
            end = n if j < 0 else j + 2
            line += text.count("\n", i, end)
            i = end
            continue
        if ch in "'`\"":
            j = i + 1
            while j < n:
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            chunk = text[i:j + 1]
            if start_line is None:
                start_line = line
            buf.append(chunk)
            line += chunk.count("\n")
            i = j + 1
            continue
        if ch == ";":
            stmt = "".join(buf).strip()
            if stmt:
                out.append(Statement(stmt, start_line or line, source))
            buf, start_line = [], None
            i += 1
            continue
        if ch == "\n":
            line += 1
        elif not ch.isspace() and start_line is None:
            start_line = line
        buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        out.append(Statement(tail, start_line or line, source))
    return out


_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:SOURCE\s+)?(STREAM|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[A-Za-z_][\w]*)",
    re.IGNORECASE,
)


def created_source(statement: str) -> tuple[str, str] | None:
    """('STREAM'|'TABLE', NAME as ksqlDB stores it) for a CREATE statement, else None."""
    match = _CREATE.match(statement)
    if not match:
        return None
    kind, name = match.group(1).upper(), match.group(2)
    return kind, name[1:-1] if name.startswith("`") else name.upper()


def statement_key(statement: str) -> str:
    """A statement's text compared across submissions: whitespace collapsed, no trailing
    ';', upper case (how `apply` recognises an INSERT INTO that already runs)."""
    return " ".join(statement.split()).rstrip(";").strip().upper()


def is_insert_into(statement: str) -> bool:
    return bool(re.match(r"^\s*INSERT\s+INTO\b(?![^;]*\bVALUES\s*\()", statement, re.IGNORECASE))


def is_query(statement: str) -> bool:
    return bool(re.match(r"^\s*(SELECT|PRINT)\b", statement, re.IGNORECASE))


class KsqlClient:
    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = 60.0, *,
                 verify: str | bool = True, cert: tuple[str, ...] | None = None) -> None:
        if not url:
            raise KsqlError("no KSQL server configured: set KSQL_URL or start the embedded stack (`fraudstream up`)")
        self.url = redact_url(url.rstrip("/"))  # as shown in messages; the real URL stays in self.http
        self.http = httpx.Client(base_url=url.rstrip("/"), auth=auth, timeout=timeout, verify=verify, cert=cert)

    @classmethod
    def from_settings(cls, url: str, timeout: float = 60.0) -> "KsqlClient":
        """A client for `url` with the credentials and TLS settings of the client properties
        file (`ksql.basic.auth.user.info`, `ksql.ssl.*`), else KSQL_API_KEY / KSQL_API_SECRET."""
        props = client_properties.load().ksql
        auth = None
        if props.get("basic.auth.user.info"):
            user, _, password = props["basic.auth.user.info"].partition(":")
            auth = (user, password)
        elif os.environ.get("KSQL_API_KEY"):
            auth = (os.environ["KSQL_API_KEY"], os.environ.get("KSQL_API_SECRET", ""))
        verify: str | bool = props.get("ssl.ca.location") or True
        cert = None
        if props.get("ssl.certificate.location"):
            cert = tuple(v for v in (props["ssl.certificate.location"], props.get("ssl.key.location"),
                                     props.get("ssl.key.password")) if v)
        return cls(url, auth=auth, timeout=timeout, verify=verify, cert=cert)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "KsqlClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def info(self) -> dict:
        return self._check(self.http.get("/info"), None)["KsqlServerInfo"]

    def wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                return self.info()
            except (httpx.HTTPError, KsqlError, KeyError) as exc:
                last = exc
                time.sleep(1)
        raise KsqlError(f"the KSQL server at {self.url} did not answer within {timeout:.0f}s ({last})")

    def execute(self, sql: str, properties: dict | None = None) -> list[dict]:
        body = {"ksql": sql if sql.rstrip().endswith(";") else sql + ";",
                "streamsProperties": properties or {}}
        try:
            resp = self.http.post("/ksql", json=body,
                                  headers={"Accept": "application/vnd.ksql.v1+json"})
        except httpx.HTTPError as exc:
            raise KsqlError(f"cannot reach the KSQL server at {self.url}: {exc}") from exc
        entities = self._check(resp, sql)
        for entity in entities:
            status = entity.get("commandStatus", {})
            if status.get("status") == "ERROR":
                raise KsqlError(status.get("message", "statement failed"), None, sql)
        return entities

    def query(self, sql: str, properties: dict | None = None) -> Iterator[list | dict]:
        """Yield the header dict, then each row (a list), of a push or pull query."""
        body = {"sql": sql if sql.rstrip().endswith(";") else sql + ";", "properties": properties or {}}
        try:
            with self.http.stream("POST", "/query-stream", json=body,
                                  headers={"Accept": "application/vnd.ksqlapi.delimited.v1"},
                                  timeout=httpx.Timeout(self.http.timeout.connect, read=None)) as resp:
                if resp.status_code != 200:
                    resp.read()
                    self._check(resp, sql)
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if isinstance(item, dict) and "error_code" in item:
                        raise KsqlError(item.get("message", "query failed"), item["error_code"], sql)
                    yield item
        except httpx.HTTPError as exc:
            raise KsqlError(f"cannot reach the KSQL server at {self.url}: {exc}") from exc

    def running_statements(self) -> set[str]:
        """`statement_key` of every persistent query's statement (SHOW QUERIES)."""
        found: set[str] = set()
        for entity in self.execute("SHOW QUERIES;"):
            for q in entity.get("queries", []):
                text = q.get("queryString")
                if text:
                    found.add(statement_key(text))
        return found

    def sources(self) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for kind in ("STREAMS", "TABLES"):
            for entity in self.execute(f"SHOW {kind};"):
                for item in entity.get(kind.lower(), []):
                    found.add((item["type"], item["name"]))
        return found

    @staticmethod
    def _check(resp: httpx.Response, statement: str | None):
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        if resp.status_code >= 400:
            if isinstance(payload, dict):
                raise KsqlError(payload.get("message", resp.text), payload.get("error_code"), statement)
            raise KsqlError(f"HTTP {resp.status_code}: {resp.text[:300]}", None, statement)
        if payload is None:
            raise KsqlError(f"unexpected non-JSON answer from the KSQL server: {resp.text[:200]}")
        return payload


@dataclass
class ApplyReport:
    applied: list[Statement]
    skipped: list[Statement]  # already present


def statements_in(path: Path) -> list[Statement]:
    files = sorted(path.glob("*.ksql")) if path.is_dir() else [path]
    if not files:
        raise KsqlError(f"no .ksql files in {path}")
    out: list[Statement] = []
    for file in files:
        try:
            out.extend(split_statements(file.read_text(), str(file)))
        except OSError as exc:
            raise KsqlError(f"cannot read {file}: {exc.strerror}") from exc
    return out


def apply(client: KsqlClient, path: Path, properties: dict | None = None, on_statement=None) -> ApplyReport:
    """Run every statement of `path` (a .ksql file or a directory of them, in name order).

    Idempotent: a CREATE whose stream/table already exists is skipped, and so is an
    INSERT INTO ... SELECT whose query already runs (same text), so applying the same
    directory twice changes nothing. The first failure stops, naming file and line.
    """
    props = {"ksql.streams.auto.offset.reset": "earliest", **(properties or {})}
    existing = {name for _, name in client.sources()}
    statements = statements_in(path)
    running = client.running_statements() if any(is_insert_into(s.text) for s in statements) else set()
    report = ApplyReport([], [])
    for stmt in statements:
        created = created_source(stmt.text)
        if (created and created[1] in existing) or (is_insert_into(stmt.text)
                                                    and statement_key(stmt.text) in running):
            report.skipped.append(stmt)
            if on_statement:
                on_statement(stmt, "exists")
            continue
        try:
            client.execute(stmt.text + ";", props)
        except KsqlError as exc:
            first = stmt.text.splitlines()[0][:80]
            raise KsqlError(f"{stmt.where}: statement `{first}…` failed: {exc}", exc.error_code, stmt.text) from exc
        if created:
            existing.add(created[1])
        report.applied.append(stmt)
        if on_statement:
            on_statement(stmt, "applied")
    return report
