"""Hypothesis strategies and a checker for fuzzing a REST API over loopback (issue 16).

A request is a method, a path (a known route with mutated segments, or made up), query
parameters, headers (content type, accept, charset, anything) and a body: JSON shaped like
a good request with its fields mutated (wrong types, huge or deep values, odd Unicode,
lone surrogate escapes, NaN), random JSON, a good body mutated byte by byte, text in
another encoding, or raw bytes. Every answer must be below 500 and must come (no dropped
connection); streaming answers are read for their status and first bytes, then closed.
The checker counts what it sent and what came back, for the test's summary line.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlparse

import httpx
from hypothesis import strategies as st

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
CONTENT_TYPES = ("application/json", "application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json",
                 "application/vnd.ksql.v1+json", "application/vnd.ksqlapi.delimited.v1", "application/octet-stream",
                 "text/plain", "application/json; charset=utf-16", "application/json; charset=latin-1",
                 "multipart/form-data; boundary=x", "", "*/*", "application/x-www-form-urlencoded", "garbage")
ACCEPTS = ("application/json", "application/vnd.schemaregistry.v1+json", "application/vnd.ksql.v1+json",
           "application/vnd.ksqlapi.delimited.v1", "*/*", "text/html", "application/*;q=0.5, text/plain;q=0",
           "application/json;q=abc", "", "image/png", ";;;,,,", "application/vnd.schemaregistry+json; q=0.9")


def is_loopback(url: str) -> bool:
    host = urlparse(url if "://" in url else f"tcp://{url}").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


# ---- values ---------------------------------------------------------------------------

ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "\ud800", "\udfff", "\U0001f600", "é", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u202e", "%00", "%", "../..", "\\",
    "'", '"', "`", ";", "--", "/*", "NaN", "-1", "0", "2147483648", "9223372036854775808", "1e309", "latest",
    "null", "true", "a" * 10_000, "\n\r\t", "{}", "[]",
])
TEXT = st.one_of(st.text(max_size=40), ODD_TEXT)
NUMBER = st.one_of(st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                   st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, -1, 1.5, 2 ** 63]))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(TEXT, inner, max_size=4)),
                        max_leaves=max_leaves)


def deep(depth: int, leaf: Any = 1) -> Any:
    value: Any = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


@st.composite
def mutated_object(draw, good: dict[str, Any]) -> dict[str, Any]:
    """`good` with some fields retyped, dropped, deepened or added."""
    out = dict(good)
    for key in list(good):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            out.pop(key)
        elif choice == 1:
            out[key] = draw(json_values())
        elif choice == 2:
            out[key] = draw(SCALAR)
        elif choice == 3:
            out[key] = deep(draw(st.sampled_from([50, 500, 3000])))
    if draw(st.booleans()):
        out[draw(TEXT)] = draw(json_values())
    return out


def _encode_json(value: Any, draw) -> bytes:
    """JSON text, sometimes with a lone surrogate or NaN slipped in, in UTF-8 (mostly)."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (ValueError, RecursionError):
        text = "{}"
    trick = draw(st.integers(0, 12))
    if trick == 0:
        text = text.replace('"', '"\\ud800', 1)
    elif trick == 1 and text.endswith("}") and len(text) > 2:
        text = text[:-1] + ', "n": NaN}'
    encoding = draw(st.sampled_from(["utf-8"] * 8 + ["utf-16", "latin-1", "utf-32"]))
    return text.encode(encoding, "replace")


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    """Flip, delete, insert or truncate a few bytes of `data`."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, max(0, len(buf))))
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = draw(st.integers(0, 255))
        elif op == 1 and buf:
            del buf[min(pos, len(buf) - 1)]
        elif op == 2:
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del buf[pos:]
    return bytes(buf)


@st.composite
def bodies(draw, goods: list[dict[str, Any]]) -> bytes | None:
    kind = draw(st.integers(0, 9))
    good = draw(st.sampled_from(goods))
    if kind <= 3:
        return _encode_json(draw(mutated_object(good)), draw)
    if kind == 4:
        return _encode_json(draw(json_values(20)), draw)
    if kind == 5:
        return draw(byte_mutation(json.dumps(good).encode()))
    if kind == 6:
        return draw(st.binary(max_size=300))
    if kind == 7:
        return json.dumps(good).encode() * draw(st.sampled_from([2, 200]))  # concatenated / large
    if kind == 8:
        return None
    return _encode_json(good, draw)  # the good one, maybe in another encoding


@st.composite
def headers(draw, accepts: tuple[str, ...] = ACCEPTS[:5], content_types: tuple[str, ...] = CONTENT_TYPES[:4]
            ) -> dict[str, str]:
    """Mostly what the API takes and gives (`accepts`, `content_types`), sometimes anything."""
    out: dict[str, str] = {}
    ctype = draw(st.sampled_from(CONTENT_TYPES)) if draw(st.integers(0, 2)) == 0 else draw(
        st.sampled_from(content_types))
    if ctype:
        out["Content-Type"] = ctype
    # mostly something the server produces: an unacceptable Accept is refused before any work
    accept = draw(st.sampled_from(ACCEPTS)) if draw(st.integers(0, 3)) == 0 else draw(st.sampled_from(accepts))
    if accept:
        out["Accept"] = accept
    if draw(st.integers(0, 4)) == 0:
        out["Content-Encoding"] = draw(st.sampled_from(["gzip", "br", "identity", "x-weird"]))
    if draw(st.integers(0, 4)) == 0:
        name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20))
        # printable ASCII without surrounding blanks: what HTTP/1.1 lets a client send at all
        out[f"X-{name}"] = draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                        max_size=50).map(str.strip))
    return out


@st.composite
def routes(draw, table: list[tuple[str, str]]) -> tuple[str, str]:
    """(method, path): mostly a route the server has with its own method, its {placeholders}
    filled by odd values; sometimes another method, sometimes a made-up path."""
    method, template = draw(st.sampled_from(table))
    if draw(st.integers(0, 5)) == 0:
        method = draw(st.sampled_from(METHODS))
    return method, draw(paths([template]))


@st.composite
def paths(draw, templates: list[str]) -> str:
    """A known route with its {placeholders} filled by odd values, or made-up paths."""
    if draw(st.integers(0, 7)) == 0:
        segs = draw(st.lists(TEXT, min_size=1, max_size=5))
        return "/" + "/".join(quote(s.encode("utf-8", "surrogatepass"), safe="") for s in segs)
    template = draw(st.sampled_from(templates))
    out = []
    for part in template.split("/"):
        if part.startswith("{") and part.endswith("}"):
            value = draw(st.one_of(TEXT, st.integers(-5, 2 ** 40).map(str), st.sampled_from(["latest", "1", "-1"])))
            out.append(quote(value.encode("utf-8", "surrogatepass"), safe="") or "x")
        else:
            out.append(part)
    return "/".join(out)


@st.composite
def query_params(draw) -> dict[str, str]:
    names = ["deleted", "permanent", "normalize", "verbose", "defaultToGlobal", "subjectPrefix", "deletedOnly",
             "format", "fetchMaxId", "lookupDeletedSchema"]
    chosen = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    return {n: draw(st.one_of(st.sampled_from(["true", "false", "TRUE", "", "1"]), TEXT)) for n in chosen}


def _pct(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes | None
    http2: bool = False

    def describe(self) -> str:
        body = repr(self.body[:200]) + (f"... ({len(self.body)} bytes)" if len(self.body) > 200 else "") \
            if self.body is not None else "None"
        return f"{self.method} {self.path} params={self.params} headers={self.headers} body={body}"


# ---- sending and checking ---------------------------------------------------------------

@dataclass
class Checker:
    """Sends requests, fails on a 5xx or a dropped connection, counts the rest."""

    base_url: str
    streaming_paths: tuple[str, ...] = ()
    http2: bool = False
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        assert is_loopback(self.base_url), f"fuzzing only over loopback, not {self.base_url}"
        self.h1 = httpx.Client(base_url=self.base_url, timeout=30)
        self.h2 = httpx.Client(base_url=self.base_url, timeout=30, http2=True) if self.http2 else None

    def close(self) -> None:
        self.h1.close()
        if self.h2 is not None:
            self.h2.close()

    def send(self, req: Request) -> int:
        client = self.h2 if req.http2 and self.h2 is not None else self.h1
        self.sent += 1
        # encoded here: httpx refuses text that is not valid Unicode (lone surrogates),
        # which is exactly what a hostile client sends as bytes
        url = self.base_url.rstrip("/") + req.path  # absolute: "//x" is a path here, not a host
        if req.params:
            url += "?" + "&".join(f"{_pct(k)}={_pct(v)}" for k, v in req.params.items())
        try:
            if any(req.path.startswith(p) for p in self.streaming_paths):
                with client.stream(req.method, url, headers=req.headers, content=req.body) as resp:
                    status = resp.status_code
                    head = b""
                    for chunk in resp.iter_raw():  # the first bytes: push queries never end
                        head += chunk
                        break
            else:
                resp = client.request(req.method, url, headers=req.headers, content=req.body)
                status, head = resp.status_code, resp.content[:300]
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError) as exc:
            raise AssertionError(f"the server dropped the connection ({type(exc).__name__}: {exc}) on "
                                 f"{req.describe()}") from exc
        except httpx.ReadTimeout as exc:
            raise AssertionError(f"no answer within 30 s to {req.describe()}") from exc
        self.statuses[status] += 1
        assert status < 500, f"HTTP {status} for a client's request: {req.describe()}\nanswer: {head!r}"
        return status

    def summary(self, name: str) -> str:
        by_class = Counter(f"{s // 100}xx" for s in self.statuses.elements())
        return (f"{name}: {self.sent} fuzzed requests in {time.monotonic() - self.started:.0f}s, "
                f"answers {dict(sorted(by_class.items()))}, statuses {dict(sorted(self.statuses.items()))}")

