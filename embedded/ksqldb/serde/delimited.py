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

from fraudstream.embedded.ksqldb.expr.compiler import build_function
from fraudstream.embedded.ksqldb.errors import SerdeError
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.serde.base import KeySerde, ValueSerde
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlDecimal, SqlType
from fraudstream.embedded.ksqldb.expr.values import decimal_str, java_double_str, to_decimal


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


def _int32(s: str) -> int:
    v = int(s)
    if not -(2**31) <= v <= 2**31 - 1:
        raise ValueError(f"Value out of range for INTEGER: {s}")
    return v


def _int64(s: str) -> int:
    v = int(s)
    if not -(2**63) <= v <= 2**63 - 1:
        raise ValueError(f"Value out of range for BIGINT: {s}")
    return v


def field_parser(t: SqlType):
    base = t.base
    if base == "STRING":
        return None  # identity
    if base == "INTEGER":
        return _int32
    if base in ("BIGINT", "TIMESTAMP"):
        return _int64
    if base in ("DATE", "TIME"):
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


def unquote(x: str) -> str | None:
    """A field of the fast path: strip surrounding quotes; ValueError if malformed."""
    if x[0] != '"':
        return x
    if len(x) < 2 or x[-1] != '"':
        raise ValueError("quoted field spans a delimiter")
    inner = x[1:-1]
    if '"' in inner:
        if inner.replace('""', "").find('"') >= 0:
            raise ValueError("unescaped quote in quoted field")
        inner = inner.replace('""', '"')
    return inner or None


def build_decoder(columns: Sequence[Column], delim: str, what: str):
    """Generate `decode(text) -> list` for the columns (empty field → None).

    Fast path: `str.split` on the delimiter, quotes stripped per field; a line whose
    quoting does not survive a plain split (a quoted delimiter, a quoted number) raises
    ValueError inside the fast path and is re-parsed with the full CSV splitter.
    """
    ns: dict[str, Any] = {"_split_quoted": split_quoted, "_SerdeError": SerdeError, "_unq": unquote}
    n = len(columns)

    def conversions(fast: bool, runs: bool) -> list[str]:
        parts = []
        i = 0
        while i < n:
            c = columns[i]
            p = field_parser(c.type)
            if runs and p is float:
                j = i
                while j < n and field_parser(columns[j].type) is float:
                    j += 1
                if j - i >= 2:
                    # one C-level pass over a run of DOUBLE fields; an empty (NULL) or
                    # malformed field raises ValueError and the line takes the slow path
                    parts.append(f"*_map(float, f[{i}:{j}])")
                    i = j
                    continue
            if p is None:
                if fast:
                    parts.append(f"(_unq(_x) if (_x := f[{i}]) else None)")
                else:
                    parts.append(f"(_x if (_x := f[{i}]) else None)")
            elif p is int:
                parts.append(f"(int(_x) if (_x := f[{i}]) else None)")
            elif p is float:
                parts.append(f"(float(_x) if (_x := f[{i}]) else None)")
            else:
                ns[f"_p{i}"] = p
                if fast:
                    parts.append(f"(_p{i}(_unq(_x) or '') if (_x := f[{i}]) else None)")
                else:
                    parts.append(f"(_p{i}(_x) if (_x := f[{i}]) else None)")
            i += 1
        return parts

    ns["_map"] = map
    q = chr(34)
    src = [
        "def decode(s):",
        f"    f = s.split({delim!r})",
        f"    if len(f) == {n}:",
        "        try:",
        f"            if '{q}' not in s:",
        f"                return [{', '.join(conversions(False, True))}]",
        f"            return [{', '.join(conversions(True, True))}]",
        "        except ValueError:",
        "            pass",
        f"        if '{q}' not in s:",
        f"            return [{', '.join(conversions(False, False))}]",
        f"    f = _split_quoted(s, {delim!r})",
        f"    if len(f) != {n}:",
        f"        raise _SerdeError('Unexpected field count, csvFields:' + str(len(f)) + ' schemaFields:{n}')",
        f"    return [{', '.join(conversions(False, False))}]",
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


# ------------------------------------------------------------------ columnar batch reading

_ARROW_TYPES = {"INTEGER": "int32", "BIGINT": "int64", "DOUBLE": "float64", "STRING": "string"}


class ColumnarDelimitedReader:
    """Parses a whole batch of DELIMITED values with Arrow's C++ CSV reader.

    Used by the pipeline's columnar path for schemas of INT/BIGINT/DOUBLE/STRING columns.
    It only answers when the batch is unambiguous for a line-oriented CSV parser (no
    CR/LF inside a value, no NULL values); any parse problem (wrong field count, bad
    number, invalid UTF-8) returns None and the caller processes the batch record by
    record, so errors are attributed to the exact record as usual.
    """

    def __init__(self, columns: Sequence[Column], delimiter: str) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self.columns = list(columns)
        self.delimiter = delimiter.encode("utf-8")
        names = [f"c{i}" for i in range(len(self.columns))]
        self.read_options = pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 30)
        self.parse_options = pacsv.ParseOptions(
            delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
            newlines_in_values=False, ignore_empty_lines=False,
        )
        self.convert_options = pacsv.ConvertOptions(
            column_types={n: getattr(pa, _ARROW_TYPES[c.type.base])() for n, c in zip(names, self.columns)},
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
            check_utf8=True,
        )
        self._pa = pa
        self._csv = pacsv

    def _plain_quotes(self, buf: bytes) -> bool:
        """Every quote either opens a field (after a delimiter or at a line start) or
        closes one (before a delimiter or at a line end), never both. Anything else — an
        escaped quote, text after a closing quote — is left to the exact per-record
        parser, which rejects what commons-csv (and so ksqlDB) rejects."""
        import numpy as np

        arr = np.frombuffer(buf, dtype=np.uint8)
        idx = np.flatnonzero(arr == 34)
        last = len(arr) - 1
        d = self.delimiter[0] if len(self.delimiter) == 1 else -1
        prev = arr[np.maximum(idx - 1, 0)]
        nxt = arr[np.minimum(idx + 1, last)]
        is_open = (idx == 0) | (prev == d) | (prev == 10)
        is_close = (idx == last) | (nxt == d) | (nxt == 10)
        return bool(np.all(is_open ^ is_close))

    @staticmethod
    def supports(columns: Sequence[Column]) -> bool:
        try:
            import pyarrow.csv  # noqa: F401
        except ImportError:  # pragma: no cover - pyarrow is a dependency
            return False
        return bool(columns) and all(c.type.base in _ARROW_TYPES for c in columns)

    def read(self, datas: Sequence[bytes]):
        n = len(datas)
        buf = b"\n".join(datas)
        if buf.count(b"\n") != n - 1 or b"\r" in buf:
            return None
        if b'"' in buf and not self._plain_quotes(buf):
            return None
        try:
            table = self._csv.read_csv(
                self._pa.py_buffer(buf), read_options=self.read_options,
                parse_options=self.parse_options, convert_options=self.convert_options,
            )
        except Exception:  # noqa: BLE001 - any problem: fall back to the per-record path
            return None
        if table.num_rows != n:
            return None
        return table
