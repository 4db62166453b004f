"""The DELIMITED format: one line of text per record, like ksqlDB writes it.

Reading: fields split on the delimiter, double-quoted fields accepted (`""` escapes a
quote), an empty field is NULL for every type, and the field count must match. The
common no-quote case is a plain `str.split` inside a decoder generated per schema.

Writing: NULL is an empty unquoted field; quoting follows Apache commons-csv 1.4 in
MINIMAL mode (the version ksqlDB pins), which the conformance corpus encodes.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any, Sequence

from embedded.ksqldb.compiler import build_function
from embedded.ksqldb.errors import SerdeError
from embedded.ksqldb.schema import Column
from embedded.ksqldb.serde.base import KeySerde, ValueSerde
from embedded.ksqldb.types import SqlDecimal, SqlType
from embedded.ksqldb.values import decimal_str, java_double_str, to_decimal


def split_quoted(line: str, delim: str) -> list[str | None]:
    """CSV split honouring double quotes; a quoted empty field stays an empty string."""
    out: list[str | None] = []
    i = 0
    n = len(line)
    while True:
        if i < n and line[i] == '"':
            i += 1
            buf = []
            while True:
                j = line.find('"', i)
                if j < 0:
                    raise SerdeError("EOF reached before encapsulated token finished")
                buf.append(line[i:j])
                if j + 1 < n and line[j + 1] == '"':
                    buf.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            out.append("".join(buf))
            if i < n and line[i] != delim:
                raise SerdeError("invalid char between encapsulated token and delimiter")
        else:
            j = line.find(delim, i)
            if j < 0:
                out.append(line[i:])
                return out
            out.append(line[i:j])
            i = j
        if i >= n:
            return out
        i += 1  # skip delimiter
        if i >= n:
            out.append("")
            return out


def _parse_bool(s: str) -> bool:
    return s.strip().lower() == "true"


def _parse_decimal(t: SqlDecimal):
    def parse(s: str) -> Decimal:
        try:
            return to_decimal(Decimal(s.strip()), t)
        except ArithmeticError as e:
            raise SerdeError(str(e)) from e
        except Exception as e:  # noqa: BLE001
            raise SerdeError(f"Invalid DECIMAL value: '{s}'") from e
    return parse


def field_parser(t: SqlType):
    base = t.base
    if base == "STRING":
        return None  # identity
    if base in ("INTEGER", "BIGINT", "TIMESTAMP", "DATE", "TIME"):
        return int
    if base == "DOUBLE":
        return float
    if base == "BOOLEAN":
        return _parse_bool
    if base == "DECIMAL":
        return _parse_decimal(t)  # type: ignore[arg-type]
    if base == "BYTES":
        return base64.b64decode
    raise SerdeError(f"The 'DELIMITED' format does not support type '{base}'")


def build_decoder(columns: Sequence[Column], delim: str, what: str):
    """Generate `decode(text) -> list` for the columns (empty field → None)."""
    ns: dict[str, Any] = {"_split_quoted": split_quoted, "_SerdeError": SerdeError}
    n = len(columns)
    parts = []
    for i, c in enumerate(columns):
        p = field_parser(c.type)
        if p is None:
            parts.append(f"(_x if (_x := f[{i}]) else None)")
        elif p is int:
            parts.append(f"(int(_x) if (_x := f[{i}]) else None)")
        elif p is float:
            parts.append(f"(float(_x) if (_x := f[{i}]) else None)")
        else:
            ns[f"_p{i}"] = p
            parts.append(f"(_p{i}(_x) if (_x := f[{i}]) else None)")
    src = [
        "def decode(s):",
        f"    if '\"' in s:",
        f"        f = _split_quoted(s, {delim!r})",
        "    else:",
        f"        f = s.split({delim!r})",
        f"    if len(f) != {n}:",
        f"        raise _SerdeError('Unexpected field count, csvFields:' + str(len(f)) + ' schemaFields:{n}')",
        f"    return [{', '.join(parts)}]",
    ]
    return build_function("\n".join(src), ns, "decode")


def quote_field(value: str, first: bool, delim: str) -> str:
    """commons-csv 1.4 QuoteMode.MINIMAL decision, then `"` doubling."""
    n = len(value)
    if n == 0:
        return '""' if first else ""
    c = value[0]
    quote = False
    if first and not (("0" <= c <= "9") or ("A" <= c <= "Z") or ("a" <= c <= "z")):
        quote = True
    elif c <= "#":
        quote = True
    else:
        for ch in value:
            if ch == "\n" or ch == "\r" or ch == '"' or ch == delim:
                quote = True
                break
        if not quote and value[-1] <= " ":
            quote = True
    if not quote:
        return value
    return '"' + value.replace('"', '""') + '"'


def field_formatter(t: SqlType):
    base = t.base
    if base == "STRING":
        return None
    if base == "DOUBLE":
        return java_double_str
    if base == "BOOLEAN":
        return lambda v: "true" if v else "false"
    if base == "DECIMAL":
        return decimal_str
    if base == "BYTES":
        return lambda v: base64.b64encode(v).decode("ascii")
    return str


def build_encoder(columns: Sequence[Column], delim: str):
    fmts = [field_formatter(c.type) for c in columns]

    def encode_fields(values: Sequence[Any]) -> str:
        out = []
        first = True
        for v, f in zip(values, fmts):
            if v is None:
                out.append("")
            else:
                out.append(quote_field(v if f is None else f(v), first, delim))
            first = False
        return delim.join(out)

    return encode_fields


class DelimitedValueSerde(ValueSerde):
    def __init__(self, columns: Sequence[Column], delimiter: str = ",") -> None:
        super().__init__(columns)
        self.delimiter = delimiter
        self._decode_text = build_decoder(self.columns, delimiter, "value")
        self._encode_fields = build_encoder(self.columns, delimiter)

    def decode(self, data: bytes | None) -> list | None:
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SerdeError(f"invalid UTF-8: {e}") from e
        try:
            return self._decode_text(text)
        except SerdeError:
            raise
        except (ValueError, ArithmeticError) as e:
            raise SerdeError(f"Failed to deserialize delimited value: {e}") from e

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        if values is None:
            return None
        return self._encode_fields(values).encode("utf-8")


class DelimitedKeySerde(KeySerde):
    def __init__(self, columns: Sequence[Column], delimiter: str = ",") -> None:
        super().__init__(columns)
        self._decode_text = build_decoder(self.columns, delimiter, "key")
        self._encode_fields = build_encoder(self.columns, delimiter)

    def decode(self, data: bytes | None) -> tuple:
        if data is None:
            return self.nulls
        try:
            return tuple(self._decode_text(data.decode("utf-8")))
        except SerdeError:
            raise
        except (ValueError, ArithmeticError, UnicodeDecodeError) as e:
            raise SerdeError(f"Failed to deserialize delimited key: {e}") from e

    def encode(self, values: Sequence[Any]) -> bytes | None:
        if all(v is None for v in values):
            return None
        return self._encode_fields(values).encode("utf-8")
