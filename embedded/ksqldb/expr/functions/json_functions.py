"""JSON functions (ksqlDB's `function/udf/json`): EXTRACTJSONFIELD, IS_JSON_STRING,
JSON_ARRAY_CONTAINS, JSON_ARRAY_LENGTH, JSON_CONCAT, JSON_ITEMS, JSON_KEYS, JSON_RECORDS,
TO_JSON_STRING.

ksqlDB parses with a Jackson mapper that keeps decimal numbers exact (`1.23450` stays
`1.23450`) and writes compact JSON with plain decimals; Python's `json` module does the
same with `parse_float=Decimal` and a writer that prints Decimals as they were read and
doubles as Java does. Objects keep their key order (Jackson's ObjectNode is ordered).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any, Callable

from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlMap, SqlStruct, SqlType
from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.params import Arg
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf
from fraudstream.embedded.ksqldb.expr.values import decimal_str, format_time_of_day, java_double_str

_MISSING = object()
_DECODER = json.JSONDecoder(parse_float=Decimal)


def parse_json(text: str) -> Any:
    """Jackson's readTree: the node, `_MISSING` for blank input; EvaluationError if invalid."""
    if not text.strip():
        return _MISSING
    try:
        # like Jackson's readTree, content after the first value is ignored
        return _DECODER.raw_decode(text.lstrip())[0]
    except ValueError as e:
        raise EvaluationError(f"Invalid JSON format:{text}") from e


def _escape(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def write_json(v: Any) -> str:
    """Compact JSON as ksqlDB's mapper writes it."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _escape(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return f'"{java_double_str(v)}"'
        return java_double_str(v)
    if isinstance(v, Decimal):
        return decimal_str(v)
    if isinstance(v, dict):
        return "{" + ",".join(f"{_escape(str(k))}:{write_json(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(write_json(x) for x in v) + "]"
    raise EvaluationError(f"JSON serialization error: unsupported value {v!r}")


# ------------------------------------------------------------------ EXTRACTJSONFIELD


def json_path(path: str) -> list[str]:
    """ksqlDB's JsonPathTokenizer: `$`, then `.name`, `[name]` or `["quoted"]` segments."""
    def bad() -> EvaluationError:
        return EvaluationError(f"Invalid JSON path: '{path}'")

    if not path or path[0] != "$":
        raise bad()
    out: list[str] = []
    i, n = 1, len(path)

    def word(start: int, extra: str) -> int:
        j = start
        while j < n and (path[j] == "_" or path[j].isalnum() or path[j] in extra):
            j += 1
        return j

    while i < n:
        c = path[i]
        if c == ".":
            j = word(i + 1, ":@")
            if j == i + 1:
                raise bad()
            out.append(path[i + 1:j])
            i = j
        elif c == "[":
            if i + 1 < n and path[i + 1] == '"':
                j = i + 2
                token = []
                while j < n and path[j] != '"':
                    if path[j] == "\\":
                        if j + 1 >= n or path[j + 1] not in '"\\':
                            raise bad()
                        j += 1
                    token.append(path[j])
                    j += 1
                if j >= n:
                    raise bad()
                out.append("".join(token))
                i = j + 1
            else:
                j = word(i + 1, "")
                if j == i + 1:
                    raise bad()
                out.append(path[i + 1:j])
                i = j
            if i >= n or path[i] != "]":
                raise bad()
            i += 1
        else:
            raise bad()
    return out


_JSON_NULL = object()


def _extract(text: str, path: str):
    node = parse_json(text)
    if node is _MISSING:
        return None
    for token in json_path(path):
        if isinstance(node, list):
            try:
                idx = int(token)
            except ValueError:
                return None
            if not 0 <= idx < len(node):
                return None
            node = node[idx]
        elif isinstance(node, dict):
            if token not in node:
                return None
            node = node[token]
        else:  # a value (or JSON null) has no children
            return None
        if node is None:
            node = _JSON_NULL
    if node is _JSON_NULL:
        return "null"
    return node if isinstance(node, str) else write_json(node)


# ------------------------------------------------------------------ the JSON_* family


def _is_json(text):
    if text is None:
        return False
    try:
        return parse_json(text) is not _MISSING
    except EvaluationError:
        return False


def _array_length(text):
    node = parse_json(text)
    return len(node) if isinstance(node, list) else None


def _array_contains(val_type: SqlType | None) -> Callable[[str, Any], bool]:
    base = None if val_type is None else val_type.base

    def contains(text, val):
        if text is None:
            return False
        try:
            node = json.loads(text, parse_float=Decimal)
        except ValueError:
            return False
        if not isinstance(node, list):
            return False
        for item in node:
            if item is None:
                if val is None:
                    return True
            elif isinstance(item, bool):
                if base == "BOOLEAN" and val is item:
                    return True
            elif isinstance(item, int):
                if base in ("INTEGER", "BIGINT") and val == item:
                    return True
            elif isinstance(item, Decimal):
                if base == "DOUBLE" and val == float(item):
                    return True
            elif isinstance(item, str):
                if base == "STRING" and val == item:
                    return True
        return False

    return contains


def _concat(*texts):
    nodes = []
    for t in texts:
        if t is None:
            return None
        node = parse_json(t)
        if node is _MISSING:
            return None
        nodes.append(node)
    if all(isinstance(n, dict) for n in nodes):
        out: dict = {}
        for n in nodes:
            out.update(n)
        return write_json(out)
    items: list = []
    for n in nodes:
        items.extend(n if isinstance(n, list) else [n])
    return write_json(items)


def _items(text):
    node = parse_json(text)
    if not isinstance(node, list):
        raise EvaluationError(f"Invalid JSON format:{text}")
    return [write_json(x) for x in node]


def _keys(text):
    node = parse_json(text)
    return list(node.keys()) if isinstance(node, dict) else None


def _records(text):
    node = parse_json(text)
    if not isinstance(node, dict):
        return None
    return {k: (v if isinstance(v, str) else write_json(v)) for k, v in node.items()}


# ------------------------------------------------------------------ TO_JSON_STRING


def _jsonable(t: SqlType | None) -> Callable[[Any], Any]:
    """Turns a value of SQL type `t` into what ksqlDB's ToJsonString hands the mapper:
    time types as their ISO text, BYTES as base64, STRUCTs and MAPs with sorted keys."""
    from fraudstream.embedded.ksqldb.expr.functions.java_time import days_to_iso, millis_to_iso

    if t is None:
        return lambda v: v
    base = t.base
    if base == "TIMESTAMP":
        return lambda v: None if v is None else millis_to_iso(v)
    if base == "DATE":
        return lambda v: None if v is None else days_to_iso(v)
    if base == "TIME":
        return lambda v: None if v is None else format_time_of_day(v)
    if base == "BYTES":
        return lambda v: None if v is None else base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(t, SqlArray):
        item = _jsonable(t.item)
        return lambda v: None if v is None else [item(x) for x in v]
    if isinstance(t, SqlMap):
        value = _jsonable(t.value)
        return lambda v: None if v is None else {str(k): value(v[k]) for k in sorted(v, key=str)}
    if isinstance(t, SqlStruct):
        fields = sorted((n, _jsonable(ft)) for n, ft in t.fields)
        return lambda v: None if v is None else {n: f(v.get(n)) for n, f in fields}
    return lambda v: v


def _bind_to_json(args: list[Arg], rtype: SqlType):
    prepare = _jsonable(args[0] if isinstance(args[0], SqlType) else None)
    return lambda v: write_json(prepare(v))


UDFS = [
    udf("extractjsonfield", [sig(["VARCHAR input", "VARCHAR path"], "VARCHAR", _extract)], category="JSON"),
    udf("IS_JSON_STRING", [sig("VARCHAR input", "BOOLEAN", _is_json, nulls=False)], category="JSON"),
    udf("JSON_ARRAY_LENGTH", [sig("VARCHAR jsonArray", "INT", _array_length)], category="JSON"),
    udf("JSON_ARRAY_CONTAINS", [sig(["VARCHAR jsonArray", "T val"], "BOOLEAN", None, nulls=False,
                                    bind=lambda args, r: _array_contains(args[1] if isinstance(args[1], SqlType) else None))],
        category="JSON"),
    udf("JSON_CONCAT", [sig("VARCHAR... jsonStrings", "VARCHAR", _concat, nulls=False)], category="JSON"),
    udf("JSON_ITEMS", [sig("VARCHAR jsonItems", "ARRAY<VARCHAR>", _items)], category="JSON"),
    udf("JSON_KEYS", [sig("VARCHAR jsonObj", "ARRAY<VARCHAR>", _keys)], category="JSON"),
    udf("JSON_RECORDS", [sig("VARCHAR jsonObj", "MAP<VARCHAR, VARCHAR>", _records)], category="JSON"),
    udf("TO_JSON_STRING", [sig("T input", "VARCHAR", None, bind=_bind_to_json, nulls=False)], category="JSON"),
]
