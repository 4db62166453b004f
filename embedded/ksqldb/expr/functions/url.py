"""URL functions (ksqlDB's `function/udf/url`): components as `java.net.URI` returns them
(decoded, NULL when absent; a port of -1 is NULL), URLDecoder / Guava form escaping for
the parameter functions. An input that is not a URI fails the call, as ksqlDB's parser
does (its message)."""

from __future__ import annotations

import re
from urllib.parse import quote_plus, unquote, unquote_plus, urlsplit

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf

# characters java.net.URI refuses anywhere in a URI
_ILLEGAL = re.compile(r"[\s\"<>\\^`{|}]")


def _parts(url: str):
    if _ILLEGAL.search(url) or re.search(r"%(?![0-9A-Fa-f]{2})", url):
        raise EvaluationError(f"URL input has invalid syntax: {url}")
    try:
        return urlsplit(url)
    except ValueError as e:
        raise EvaluationError(f"URL input has invalid syntax: {url}") from e


def _host(url):
    return _parts(url).hostname if "//" in url else None


def _port(url):
    try:
        port = _parts(url).port
    except ValueError:
        return None
    return port


def _path(url):
    p = _parts(url)
    if p.scheme and not p.netloc and not p.path.startswith("/") and p.path:
        return None  # an opaque URI (mailto:...) has no path
    return unquote(p.path)


def _query(url):
    p = _parts(url)
    return unquote(p.query) if p.query or url.split("#", 1)[0].endswith("?") else None


def _fragment(url):
    p = _parts(url)
    return unquote(p.fragment) if p.fragment or url.endswith("#") else None


def _protocol(url):
    return _parts(url).scheme or None


def _parameter(url, name):
    query = _query(url)
    if query is None:
        return None
    for param in query.split("&"):
        kv = param.split("=", 1)
        if kv[0] == name:
            return kv[1] if len(kv) == 2 else ""
    return None


def _decode_param(s):
    try:
        return unquote_plus(s, errors="strict")
    except UnicodeDecodeError as e:
        raise EvaluationError(f"url_decode udf encountered an encoding exception while decoding: {s}") from e


def _encode_param(s):
    return quote_plus(s, safe="*").replace("~", "%7E")


UDFS = [
    udf("url_decode_param", [sig("VARCHAR input", "VARCHAR", _decode_param)], category="URL"),
    udf("url_encode_param", [sig("VARCHAR input", "VARCHAR", _encode_param)], category="URL"),
    udf("url_extract_fragment", [sig("VARCHAR input", "VARCHAR", _fragment)], category="URL"),
    udf("url_extract_host", [sig("VARCHAR input", "VARCHAR", _host)], category="URL"),
    udf("url_extract_parameter", [sig(["VARCHAR input", "VARCHAR paramToFind"], "VARCHAR", _parameter)],
        category="URL"),
    udf("url_extract_path", [sig("VARCHAR input", "VARCHAR", _path)], category="URL"),
    udf("url_extract_port", [sig("VARCHAR input", "INT", _port)], category="URL"),
    udf("url_extract_protocol", [sig("VARCHAR input", "VARCHAR", _protocol)], category="URL"),
    udf("url_extract_query", [sig("VARCHAR input", "VARCHAR", _query)], category="URL"),
]
