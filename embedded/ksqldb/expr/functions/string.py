"""String and bytes functions (ksqlDB's `function/udf/string` and `conversions`), with
their declared signatures and Java behaviour: `String.trim()` whitespace, 1-based
positions that clamp, UTF-16 lengths, `java.util.regex` replacement syntax, Guava
splitters, Commons Codec encodings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import uuid

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf

_TRIM = "".join(chr(c) for c in range(0, 0x21))


def _trim(s: str) -> str:
    """Java `String.trim()`: strips code points <= U+0020."""
    return s.strip(_TRIM)


def _utf16_len(s: str) -> int:
    """Java's `String.length()`: UTF-16 code units."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def _len(v):
    return len(v) if isinstance(v, (bytes, bytearray)) else _utf16_len(v)


def _start(length: int, pos: int) -> int:
    return max(length + pos, 0) if pos < 0 else max(min(pos - 1, length), 0)


def substring(s, pos, length=None):
    start = _start(len(s), pos)
    if length is None:
        return s[start:]
    return s[start:max(min(start + length, len(s)), start)]


def _concat(*args):
    parts = [a for a in args if a is not None]
    if parts and isinstance(parts[0], (bytes, bytearray)):
        return b"".join(parts)
    return "".join(parts)


def _concat_ws(sep, *args):
    if not args:
        raise EvaluationError("Function Concat_WS expects at least two input arguments.")
    if sep is None:
        return None
    return sep.join(a for a in args if a is not None)


def _initcap(s: str) -> str:
    out = []
    for m in re.finditer(r"\S+\s*", s.lower()):
        part = m.group()
        out.append(part[0].upper() + part[1:])
    return "".join(out)


def _lpad(s, length, pad):
    if not pad or length < 0:
        return None
    if isinstance(s, (bytes, bytearray)):
        if len(s) > length:
            return bytes(s[:length])
        fill = length - len(s)
        return bytes(pad[i % len(pad)] for i in range(fill)) + bytes(s)
    fill = max(length - len(s), 0)
    return ((pad * (fill // len(pad) + 1))[:fill] + s)[:length]


def _rpad(s, length, pad):
    if not pad or length < 0:
        return None
    if isinstance(s, (bytes, bytearray)):
        if len(s) > length:
            return bytes(s[:length])
        fill = length - len(s)
        return bytes(s) + bytes(pad[i % len(pad)] for i in range(fill))
    fill = max(length - len(s), 0)
    return (s + (pad * (fill // len(pad) + 1))[:fill])[:length]


def _commons_substring(s: str, start: int) -> str:
    """StringUtils.substring(str, start): a negative start counts from the end."""
    if start < 0:
        start = max(len(s) + start, 0)
    return s[start:] if start <= len(s) else ""


def _ordinal_index(s: str, sub: str, ordinal: int) -> int:
    if ordinal <= 0:
        return -1
    if not sub:
        return 0
    idx, found = -1, 0
    while found < ordinal:
        idx = s.find(sub, idx + 1)
        if idx < 0:
            return -1
        found += 1
    return idx


def _instr(s, sub, position=1, occurrence=1):
    if s is None or sub is None:
        return 0
    if abs(position) > len(s):
        return 0
    reverse = position < 0
    text, needle, pos = (s[::-1], sub[::-1], -position) if reverse else (s, sub, position)
    i = _ordinal_index(_commons_substring(text, pos - 1), needle, occurrence)
    if i == -1:
        return 0
    return len(s) - pos - i - len(sub) + 2 if reverse else i + pos


def _split(s, delim):
    if isinstance(s, (bytes, bytearray)):
        if not s:
            return [b""]
        if not delim:
            return [bytes([b]) for b in s]
        return [bytes(p) for p in bytes(s).split(bytes(delim))]
    if delim == "":
        return list(s)
    return s.split(delim)


def _split_to_map(s, entry_delim, kv_delim):
    if not entry_delim or not kv_delim or entry_delim == kv_delim:
        return None
    out = {}
    for entry in s.split(entry_delim):
        if entry and kv_delim in entry:
            parts = entry.split(kv_delim)
            out[parts[0]] = parts[1]
    return out


def _regex(p: str) -> re.Pattern:
    try:
        return _compile(p)
    except re.error as e:
        raise EvaluationError(f"Invalid regular expression pattern: {p}") from e


_CACHE: dict[str, re.Pattern] = {}


def _compile(p: str) -> re.Pattern:
    rx = _CACHE.get(p)
    if rx is None:
        if len(_CACHE) > 1000:
            _CACHE.clear()
        rx = _CACHE[p] = re.compile(p)
    return rx


def _java_replacement(repl: str) -> str:
    """java.util.regex replacement (`$1`, `\\$`) → Python's (`\\g<1>`, `$`)."""
    out = []
    i = 0
    while i < len(repl):
        c = repl[i]
        if c == "\\" and i + 1 < len(repl):
            out.append(repl[i + 1].replace("\\", "\\\\"))
            i += 2
        elif c == "$" and i + 1 < len(repl) and repl[i + 1].isdigit():
            j = i + 1
            while j < len(repl) and repl[j].isdigit():
                j += 1
            out.append(f"\\g<{repl[i + 1:j]}>")
            i = j
        else:
            out.append(c.replace("\\", "\\\\"))
            i += 1
    return "".join(out)


def _regexp_replace(s, pattern, repl):
    return _regex(pattern).sub(_java_replacement(repl), s)


def _regexp_extract(pattern, s, group=0):
    rx = _regex(pattern)
    if group > rx.groups:
        return None
    m = rx.search(s)
    return m.group(group) if m else None


def _regexp_extract_all(pattern, s, group=0):
    rx = _regex(pattern)
    if group > rx.groups:
        return None
    return [m.group(group) for m in rx.finditer(s)]


def _regexp_split(s, pattern):
    rx = _regex(pattern)
    if pattern == "" or rx.fullmatch(""):
        parts = rx.split(s)
        # java's Pattern.split drops trailing empty strings and a leading one for a
        # zero-width match at 0
        while parts and parts[-1] == "":
            parts.pop()
        if parts and parts[0] == "" and s:
            parts = parts[1:]
        return parts or [""]
    # Guava's Splitter.on(pattern): split at each match, capture groups ignored
    out, last = [], 0
    for m in rx.finditer(s):
        out.append(s[last:m.start()])
        last = m.end()
    out.append(s[last:])
    return out


# ------------------------------------------------------------------ encodings


def _to_bytes(s, encoding):
    enc = encoding.lower()
    try:
        if enc == "hex":
            return bytes.fromhex(s)
        if enc == "utf8":
            return s.encode("utf-8")
        if enc == "ascii":
            return s.encode("ascii", errors="replace")
        if enc == "base64":
            return base64.b64decode(s)
    except (ValueError, binascii.Error) as e:
        raise EvaluationError(str(e)) from e
    raise EvaluationError(f"Unknown encoding type '{encoding}'. "
                          "Supported formats are 'hex', 'utf8', 'ascii', and 'base64'.")


def _from_bytes(b, encoding):
    enc = encoding.lower()
    if enc == "hex":
        return bytes(b).hex().upper()
    if enc == "utf8":
        return bytes(b).decode("utf-8", errors="replace")
    if enc == "ascii":
        return bytes(b).decode("ascii", errors="replace")
    if enc == "base64":
        return base64.b64encode(bytes(b)).decode("ascii")
    raise EvaluationError(f"Unknown encoding type '{encoding}'. "
                          "Supported formats are 'hex', 'utf8', 'ascii', and 'base64'.")


def _hex_strip(s: str) -> str:
    if s.startswith("0x"):
        return ("0" + s[2:]) if len(s) % 2 else s[2:]
    if re.fullmatch(r"[xX]'.*'", s, re.S):
        return s[2:-1]
    return s


def _hex_decode(s: str) -> bytes:
    try:
        return bytes.fromhex(_hex_strip(s))
    except ValueError as e:
        raise EvaluationError(str(e)) from e


_DECODE = {
    "hex": _hex_decode,
    "utf8": lambda s: s.encode("utf-8"),
    "ascii": lambda s: s.encode("ascii", errors="replace"),
    "base64": lambda s: base64.b64decode(s + "=" * (-len(s) % 4), validate=False),
}
_ENCODE = {
    "hex": lambda b: b.hex(),
    "utf8": lambda b: b.decode("utf-8", errors="replace"),
    "ascii": lambda b: "".join(chr(x) if x < 128 else "\ufffd" for x in b),
    "base64": lambda b: base64.b64encode(b).decode("ascii"),
}


def _encode(s, input_encoding, output_encoding):
    src, dst = input_encoding.lower(), output_encoding.lower()
    if src not in _DECODE or dst not in _ENCODE or src == dst:
        raise EvaluationError("Supported input and output encodings are: hex, utf8, ascii and base64")
    return _ENCODE[dst](_DECODE[src](s))


def _chr(v):
    if isinstance(v, str):
        if len(v) < 6 or not v.startswith("\\u"):
            return None
        try:
            text = v.encode("latin-1", errors="backslashreplace").decode("unicode_escape")
            return text.encode("utf-16", "surrogatepass").decode("utf-16")
        except (UnicodeError, ValueError):
            return None
    if 0 <= v <= 0x10FFFF:
        return chr(v)
    return None


def _elt(n, *args):
    if n is None:  # a Java int parameter
        raise EvaluationError("ELT's index cannot be NULL")
    return args[n - 1] if 1 <= n <= len(args) else None


def _field(s, *args):
    if s is None:
        return 0
    for i, a in enumerate(args):
        if s == a:
            return i + 1
    return 0


def _from_bytes_number(size: int, fmt: str):
    def convert(value, order="BIG_ENDIAN"):
        o = order.upper() if order is not None else None
        if o not in ("BIG_ENDIAN", "LITTLE_ENDIAN"):
            raise EvaluationError(f"Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{order}'.")
        if len(value) != size:
            raise EvaluationError(f"Number of bytes must be equal to {size}, but found {len(value)}")
        return struct.unpack((">" if o == "BIG_ENDIAN" else "<") + fmt, bytes(value))[0]

    return convert


def _uuid(b=None):
    if b is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(bytes=bytes(b))) if len(b) == 16 else None


UDFS = [
    udf("ucase", [sig("VARCHAR input", "VARCHAR", str.upper)], category="STRING"),
    udf("lcase", [sig("VARCHAR input", "VARCHAR", str.lower)], category="STRING"),
    udf("trim", [sig("VARCHAR input", "VARCHAR", _trim)], category="STRING"),
    udf("substring", [
        sig(["VARCHAR str", "INT pos"], "VARCHAR", substring),
        sig(["VARCHAR str", "INT pos", "INT length"], "VARCHAR", substring),
        sig(["BYTES bytes", "INT pos"], "BYTES", substring),
        sig(["BYTES bytes", "INT pos", "INT length"], "BYTES", substring),
    ], category="STRING"),
    udf("len", [sig("VARCHAR input", "INT", _len), sig("BYTES input", "INT", _len)], category="STRING"),
    udf("concat", [sig("VARCHAR... inputs", "VARCHAR", _concat, nulls=False),
                   sig("BYTES... inputs", "BYTES", _concat, nulls=False)], category="STRING"),
    udf("concat_ws", [sig("VARCHAR... inputs", "VARCHAR", _concat_ws, nulls=False),
                      sig("BYTES... inputs", "BYTES", _concat_ws, nulls=False)], category="STRING"),
    udf("initcap", [sig("VARCHAR str", "VARCHAR", _initcap)], category="STRING"),
    udf("replace", [sig(["VARCHAR str", "VARCHAR oldStr", "VARCHAR newStr"], "VARCHAR",
                        lambda s, a, b: s.replace(a, b))], category="STRING"),
    udf("LPad", [sig(["VARCHAR input", "INT targetLen", "VARCHAR padding"], "VARCHAR", _lpad),
                 sig(["BYTES input", "INT targetLen", "BYTES padding"], "BYTES", _lpad)], category="STRING"),
    udf("RPad", [sig(["VARCHAR input", "INT targetLen", "VARCHAR padding"], "VARCHAR", _rpad),
                 sig(["BYTES input", "INT targetLen", "BYTES padding"], "BYTES", _rpad)], category="STRING"),
    udf("instr", [sig(["VARCHAR str", "VARCHAR substring"], "INT", _instr, nulls=False),
                  sig(["VARCHAR str", "VARCHAR substring", "INT position"], "INT", _instr, nulls=False),
                  sig(["VARCHAR str", "VARCHAR substring", "INT position", "INT occurrence"], "INT", _instr,
                      nulls=False)], category="STRING"),
    udf("split", [sig(["VARCHAR string", "VARCHAR delimiter"], "ARRAY<VARCHAR>", _split),
                  sig(["BYTES bytes", "BYTES delimiter"], "ARRAY<BYTES>", _split)], category="STRING"),
    udf("split_to_map", [sig(["VARCHAR input", "VARCHAR entryDelimiter", "VARCHAR kvDelimiter"],
                             "MAP<VARCHAR, VARCHAR>", _split_to_map)], category="STRING"),
    udf("regexp_replace", [sig(["VARCHAR str", "VARCHAR regexp", "VARCHAR newStr"], "VARCHAR", _regexp_replace)],
        category="STRING"),
    udf("regexp_extract", [sig(["VARCHAR pattern", "VARCHAR input"], "VARCHAR", _regexp_extract),
                           sig(["VARCHAR pattern", "VARCHAR input", "INT group"], "VARCHAR", _regexp_extract)],
        category="STRING"),
    udf("regexp_extract_all", [
        sig(["VARCHAR pattern", "VARCHAR input"], "ARRAY<VARCHAR>", _regexp_extract_all),
        sig(["VARCHAR pattern", "VARCHAR input", "INT group"], "ARRAY<VARCHAR>", _regexp_extract_all)],
        category="STRING"),
    udf("regexp_split_to_array", [sig(["VARCHAR string", "VARCHAR regexp"], "ARRAY<VARCHAR>", _regexp_split)],
        category="STRING"),
    udf("to_bytes", [sig(["VARCHAR value", "VARCHAR encoding"], "BYTES", _to_bytes)], category="STRING"),
    udf("from_bytes", [sig(["BYTES value", "VARCHAR encoding"], "VARCHAR", _from_bytes)], category="STRING"),
    udf("encode", [sig(["VARCHAR str", "VARCHAR inputEncoding", "VARCHAR outputEncoding"], "VARCHAR", _encode)],
        category="STRING"),
    udf("Chr", [sig("INT decimalCode", "VARCHAR", _chr), sig("VARCHAR utf16Code", "VARCHAR", _chr)],
        category="STRING"),
    udf("elt", [sig(["INT n", "VARCHAR... args"], "VARCHAR", _elt, nulls=False)], category="STRING"),
    udf("field", [sig(["VARCHAR str", "VARCHAR... args"], "INT", _field, nulls=False)], category="STRING"),
    udf("md5", [sig("VARCHAR s", "VARCHAR", lambda s: hashlib.md5(s.encode("utf-8")).hexdigest())],
        category="STRING"),
    udf("UUID", [sig([], "VARCHAR", _uuid, deterministic=False), sig("BYTES bytes", "VARCHAR", _uuid)],
        category="STRING"),
    udf("int_from_bytes", [sig("BYTES value", "INT", _from_bytes_number(4, "i")),
                           sig(["BYTES value", "VARCHAR byteOrder"], "INT", _from_bytes_number(4, "i"))],
        category="CONVERSIONS"),
    udf("bigint_from_bytes", [sig("BYTES value", "BIGINT", _from_bytes_number(8, "q")),
                              sig(["BYTES value", "VARCHAR byteOrder"], "BIGINT", _from_bytes_number(8, "q"))],
        category="CONVERSIONS"),
    udf("double_from_bytes", [sig("BYTES value", "DOUBLE", _from_bytes_number(8, "d")),
                              sig(["BYTES value", "VARCHAR byteOrder"], "DOUBLE", _from_bytes_number(8, "d"))],
        category="CONVERSIONS"),
]
