"""String and bytes functions (UCASE, LCASE, TRIM, SUBSTRING, LEN, CONCAT, ...)."""

from __future__ import annotations

import base64
import re

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved, Udf, no_match
from fraudstream.embedded.ksqldb.expr.functions.signatures import overloaded
from fraudstream.embedded.ksqldb.catalog.sqltypes import BYTES, INTEGER, STRING, SqlArray, SqlType

ARRAY_OF_STRING = SqlArray(STRING)

_JAVA_WS = " \t\n\r\x0b\x0c" + "".join(chr(c) for c in range(0, 0x20))


def _trim(s: str) -> str:
    # Java String.trim(): strips code points <= U+0020
    return s.strip("".join(chr(c) for c in range(0, 0x21)))


def _start(length: int, pos: int) -> int:
    return max(length + pos, 0) if pos < 0 else max(min(pos - 1, length), 0)


def substring(s, pos, length=None):
    start = _start(len(s), pos)
    if length is None:
        return s[start:]
    end = max(min(start + length, len(s)), start)
    return s[start:end]


def _substring_nullable(s, pos, *rest):
    if s is None or pos is None or (rest and rest[0] is None):
        return None
    return substring(s, pos, *rest)


def _concat(*args):
    parts = [a for a in args if a is not None]
    if not parts:
        return None
    if isinstance(parts[0], (bytes, bytearray)):
        return b"".join(parts)
    return "".join(parts)


def _concat_ws(sep, *args):
    if sep is None:
        return None
    parts = [a for a in args if a is not None]
    if isinstance(sep, (bytes, bytearray)):
        return sep.join(parts)
    return sep.join(parts)


def _concat_udf() -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        known = {t.base for t in types if t is not None}
        if not types or len(known) > 1 or (known and known.pop() not in ("STRING", "BYTES")):
            raise no_match("CONCAT", types)
        rt = next((t for t in types if t is not None), STRING)
        return Resolved(rt, _concat, null_propagating=False)

    return Udf("CONCAT", resolve, category="STRING")


def _concat_ws_udf() -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        known = {t.base for t in types if t is not None}
        if len(types) < 2 or len(known) > 1 or (known and next(iter(known)) not in ("STRING", "BYTES")):
            raise no_match("CONCAT_WS", types)
        rt = next((t for t in types if t is not None), STRING)
        return Resolved(rt, _concat_ws, null_propagating=False)

    return Udf("CONCAT_WS", resolve, category="STRING")


def _len(v):
    return len(v)


def _initcap(s: str) -> str:
    out = []
    prev_space = True
    for c in s:
        out.append(c.upper() if prev_space else c.lower())
        prev_space = c.isspace()
    return "".join(out)


def _lpad(s, length, pad):
    if length < 0 or (not pad and length > len(s)):
        return None
    if length <= len(s):
        return s[:length]
    fill = (pad * (length // max(len(pad), 1) + 1))[: length - len(s)]
    return fill + s


def _rpad(s, length, pad):
    if length < 0 or (not pad and length > len(s)):
        return None
    if length <= len(s):
        return s[:length]
    fill = (pad * (length // max(len(pad), 1) + 1))[: length - len(s)]
    return s + fill


def _instr(s, sub, pos=1, occurrence=1):
    if pos > 0:
        idx = pos - 2
        for _ in range(occurrence):
            idx = s.find(sub, idx + 1)
            if idx < 0:
                return 0
        return idx + 1
    idx = len(s) + pos + 1
    for _ in range(occurrence):
        idx = s.rfind(sub, 0, idx - 1 + len(sub)) if idx > 0 else -1
        if idx < 0:
            return 0
    return idx + 1


def _split(s, delim):
    if isinstance(s, (bytes, bytearray)):
        return list(s.split(delim)) if delim else [bytes([b]) for b in s]
    if delim == "":
        return list(s)
    return s.split(delim)


def _java_regex(p: str) -> re.Pattern:
    try:
        return re.compile(p)
    except re.error as e:
        raise EvaluationError(f"Invalid regular expression pattern: {p}") from e


def _regexp_replace(s, pattern, repl):
    return _java_regex(pattern).sub(re.sub(r"\$(\d)", r"\\\1", repl), s)


def _regexp_extract(s, pattern, group=0):
    m = _java_regex(pattern).search(s)
    if not m:
        return None
    return m.group(group)


def _to_bytes(s, encoding):
    enc = encoding.lower()
    if enc == "hex":
        return bytes.fromhex(s)
    if enc == "utf8":
        return s.encode("utf-8")
    if enc == "ascii":
        return s.encode("ascii")
    if enc == "base64":
        return base64.b64decode(s)
    raise EvaluationError(f"Supported input encodings are: hex, utf8, ascii and base64, but got: {encoding}")


def _from_bytes(b, encoding):
    enc = encoding.lower()
    if enc == "hex":
        return b.hex().upper()
    if enc == "utf8":
        return b.decode("utf-8")
    if enc == "ascii":
        return b.decode("ascii")
    if enc == "base64":
        return base64.b64encode(b).decode("ascii")
    raise EvaluationError(f"Supported output encodings are: hex, utf8, ascii and base64, but got: {encoding}")


def _chr(v):
    if isinstance(v, str):
        if v.startswith("\\u") and len(v) == 6:
            return chr(int(v[2:], 16))
        return None
    try:
        return chr(v)
    except (ValueError, OverflowError):
        return None


UDFS = [
    overloaded("UCASE", [(["STRING"], STRING, str.upper)], category="STRING"),
    overloaded("LCASE", [(["STRING"], STRING, str.lower)], category="STRING"),
    overloaded("TRIM", [(["STRING"], STRING, _trim)], category="STRING"),
    overloaded("LTRIM", [(["STRING"], STRING, lambda s: s.lstrip("".join(chr(c) for c in range(0x21))))], category="STRING"),
    overloaded("RTRIM", [(["STRING"], STRING, lambda s: s.rstrip("".join(chr(c) for c in range(0x21))))], category="STRING"),
    overloaded(
        "SUBSTRING",
        [
            (["STRING", "INTEGER"], STRING, _substring_nullable),
            (["STRING", "INTEGER", "INTEGER"], STRING, _substring_nullable),
            (["BYTES", "INTEGER"], BYTES, _substring_nullable),
            (["BYTES", "INTEGER", "INTEGER"], BYTES, _substring_nullable),
        ],
        null_propagating=False,
        category="STRING",
    ),
    overloaded("LEN", [(["STRING"], INTEGER, _len), (["BYTES"], INTEGER, _len)], category="STRING"),
    _concat_udf(),
    _concat_ws_udf(),
    overloaded("INITCAP", [(["STRING"], STRING, _initcap)], category="STRING"),
    overloaded("REPLACE", [(["STRING", "STRING", "STRING"], STRING, lambda s, a, b: s.replace(a, b))], category="STRING"),
    overloaded("LPAD", [(["STRING", "INTEGER", "STRING"], STRING, _lpad)], category="STRING"),
    overloaded("RPAD", [(["STRING", "INTEGER", "STRING"], STRING, _rpad)], category="STRING"),
    overloaded(
        "INSTR",
        [
            (["STRING", "STRING"], INTEGER, _instr),
            (["STRING", "STRING", "INTEGER"], INTEGER, _instr),
            (["STRING", "STRING", "INTEGER", "INTEGER"], INTEGER, _instr),
        ],
        category="STRING",
    ),
    overloaded(
        "SPLIT",
        [(["STRING", "STRING"], ARRAY_OF_STRING, _split), (["BYTES", "BYTES"], SqlArray(BYTES), _split)],
        category="STRING",
    ),
    overloaded("REGEXP_REPLACE", [(["STRING", "STRING", "STRING"], STRING, _regexp_replace)], category="STRING"),
    overloaded(
        "REGEXP_EXTRACT",
        [(["STRING", "STRING"], STRING, _regexp_extract), (["STRING", "STRING", "INTEGER"], STRING, _regexp_extract)],
        category="STRING",
    ),
    overloaded("TO_BYTES", [(["STRING", "STRING"], BYTES, _to_bytes)], category="STRING"),
    overloaded("FROM_BYTES", [(["BYTES", "STRING"], STRING, _from_bytes)], category="STRING"),
    overloaded("CHR", [(["INTEGER"], STRING, _chr), (["STRING"], STRING, _chr)], category="STRING"),
]
