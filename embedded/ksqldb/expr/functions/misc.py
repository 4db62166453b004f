"""NULL handling (IFNULL, COALESCE, NULLIF), date/time, JSON and collection functions."""

from __future__ import annotations

import json
import re
import time

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions import java_time
from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved, Udf, no_match
from fraudstream.embedded.ksqldb.expr.functions.signatures import overloaded
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIMESTAMP,
    SqlArray,
    SqlDecimal,
    SqlType,
)


def _common_type(name: str, types: list[SqlType | None]) -> SqlType | None:
    known = [t for t in types if t is not None]
    if not known:
        return None
    first = known[0]
    if all(t == first for t in known):
        return first
    bases = {t.base for t in known}
    if bases <= {"INTEGER", "BIGINT", "DOUBLE", "DECIMAL"}:
        if "DOUBLE" in bases:
            return DOUBLE
        if "DECIMAL" in bases:
            return next(t for t in known if isinstance(t, SqlDecimal))
        return BIGINT
    if all(t.base == first.base for t in known) and first.base in ("ARRAY", "MAP", "STRUCT"):
        return first
    raise no_match(name, types)


def _coalesce_udf() -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        if not types:
            raise no_match("COALESCE", types)
        rt = _common_type("COALESCE", types)
        if rt is None:
            raise EvaluationError("Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).")

        def impl(*args):
            for a in args:
                if a is not None:
                    return a
            return None

        return Resolved(rt, impl, null_propagating=False)

    return Udf("COALESCE", resolve, category="CONDITIONAL")


def _ifnull_udf() -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        if len(types) != 2:
            raise no_match("IFNULL", types)
        rt = _common_type("IFNULL", types)
        if rt is None:
            raise no_match("IFNULL", types)
        return Resolved(rt, lambda a, b: b if a is None else a, null_propagating=False)

    return Udf("IFNULL", resolve, category="CONDITIONAL")


def _nullif_udf() -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        if len(types) != 2:
            raise no_match("NULLIF", types)
        rt = types[0] or types[1]
        if rt is None:
            raise no_match("NULLIF", types)

        def impl(a, b):
            if a is None:
                return None
            return None if a == b else a

        return Resolved(rt, impl, null_propagating=False)

    return Udf("NULLIF", resolve, category="CONDITIONAL")


def _as_value_udf() -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        if len(types) != 1 or types[0] is None:
            raise no_match("AS_VALUE", types)
        return Resolved(types[0], lambda v: v, null_propagating=False)

    return Udf("AS_VALUE", resolve)


def _wrap_time_error(fn):
    def wrapped(*args):
        try:
            return fn(*args)
        except java_time.PatternError as e:
            raise EvaluationError(str(e)) from e
        except (ValueError, OverflowError) as e:
            raise EvaluationError(str(e)) from e

    return wrapped


# ------------------------------------------------------------------ JSON path

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(\d+)\s*\]")


def _json_path(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise EvaluationError(f"Invalid JsonPath: {path}")
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if not m:
            raise EvaluationError(f"Invalid JsonPath: {path}")
        a, b, c, d = m.groups()
        out.append(int(d) if d is not None else (a if a is not None else (b if b is not None else c)))
        pos = m.end()
    return out


def _extract_json_field(text, path):
    try:
        node = json.loads(text)
    except ValueError:
        return None
    for step in _json_path(path):
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return None
            node = node[step]
    if node is None:
        return None
    if isinstance(node, str):
        return node
    return json.dumps(node, separators=(",", ":"))


UDFS = [
    _coalesce_udf(),
    _ifnull_udf(),
    _nullif_udf(),
    _as_value_udf(),
    overloaded(
        "TIMESTAMPTOSTRING",
        [
            (["BIGINT", "STRING"], STRING, _wrap_time_error(java_time.format_millis)),
            (["BIGINT", "STRING", "STRING"], STRING, _wrap_time_error(java_time.format_millis)),
        ],
        category="DATE / TIME",
    ),
    overloaded(
        "STRINGTOTIMESTAMP",
        [
            (["STRING", "STRING"], BIGINT, _wrap_time_error(java_time.parse_to_millis)),
            (["STRING", "STRING", "STRING"], BIGINT, _wrap_time_error(java_time.parse_to_millis)),
        ],
        category="DATE / TIME",
    ),
    overloaded(
        "PARSE_TIMESTAMP",
        [
            (["STRING", "STRING"], TIMESTAMP, _wrap_time_error(java_time.parse_to_millis)),
            (["STRING", "STRING", "STRING"], TIMESTAMP, _wrap_time_error(java_time.parse_to_millis)),
        ],
        category="DATE / TIME",
    ),
    overloaded(
        "FORMAT_TIMESTAMP",
        [
            (["TIMESTAMP", "STRING"], STRING, _wrap_time_error(java_time.format_millis)),
            (["TIMESTAMP", "STRING", "STRING"], STRING, _wrap_time_error(java_time.format_millis)),
        ],
        category="DATE / TIME",
    ),
    overloaded("PARSE_DATE", [(["STRING", "STRING"], DATE, _wrap_time_error(java_time.parse_to_days))], category="DATE / TIME"),
    overloaded("FORMAT_DATE", [(["DATE", "STRING"], STRING, _wrap_time_error(java_time.format_date))], category="DATE / TIME"),
    overloaded("DATETOSTRING", [(["INTEGER", "STRING"], STRING, _wrap_time_error(java_time.format_date))], category="DATE / TIME"),
    overloaded("STRINGTODATE", [(["STRING", "STRING"], INTEGER, _wrap_time_error(java_time.parse_to_days))], category="DATE / TIME"),
    overloaded(
        "UNIX_TIMESTAMP",
        [([], BIGINT, lambda: int(time.time() * 1000)), (["TIMESTAMP"], BIGINT, lambda t: t)],
        category="DATE / TIME",
    ),
    overloaded(
        "UNIX_DATE",
        [([], INTEGER, lambda: int(time.time() // 86400)), (["DATE"], INTEGER, lambda d: d)],
        category="DATE / TIME",
    ),
    overloaded("FROM_UNIXTIME", [(["BIGINT"], TIMESTAMP, lambda ms: ms)], category="DATE / TIME"),
    overloaded("EXTRACTJSONFIELD", [(["STRING", "STRING"], STRING, _extract_json_field)], category="JSON"),
]
