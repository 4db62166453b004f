"""Generated Avro binary encoders for the records ksqlDB writes (our own schemas).

fastavro's schemaless writer spends most of its time resolving `["null", T]` unions
(about 30 µs for a 34-field record on the target machine), which alone would cap a
persistent query far below a plain Kafka passthrough. The schemas ksqlDB derives are
regular (every field is `["null", T]` with T known from the SQL type), so this module
generates one Python function per schema that writes the union branch byte and the
value directly; runs of DOUBLE columns are packed with a single `struct` call. Output is
byte-identical to fastavro's (checked in tests/unit/ksqldb/test_formats.py).
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any, Callable, Sequence

from fraudstream.embedded.ksqldb.expr.compiler import build_function
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.catalog.sqltypes import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType

_BRANCH1 = [bytes((2, z)) for z in range(128)]  # union index 1 + one-byte zigzag varint
_VARINT1 = [bytes((z,)) for z in range(128)]
_D = struct.Struct("<d")


def zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    if z < 0x80:
        return _VARINT1[z]
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def opt_long(n: int) -> bytes:
    """Union branch 1 followed by a zigzag varint long."""
    z = (n << 1) ^ (n >> 63)
    if z < 0x80:
        return _BRANCH1[z]
    out = bytearray(b"\x02")
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _opt_str(s: str) -> bytes:
    b = s.encode("utf-8")
    n = len(b)
    if n < 64:
        return _BRANCH1[n << 1] + b
    return opt_long(n) + b


_STR_CACHE: dict[str, bytes] = {}
_STR_CACHE_MAX = 8192


def opt_str(s: str) -> bytes:
    """Encoded optional string; short repeated values (users, labels) come from a cache."""
    b = _STR_CACHE.get(s)
    if b is None:
        b = _opt_str(s)
        if len(s) <= 64 and len(_STR_CACHE) < _STR_CACHE_MAX:
            _STR_CACHE[s] = b
    return b


def opt_double(x: float) -> bytes:
    return b"\x02" + _D.pack(x)


def _decimal_bytes(d: Decimal, scale: int) -> bytes:
    unscaled = int(d.scaleb(scale))
    length = max(1, (unscaled.bit_length() + 8) // 8)
    return unscaled.to_bytes(length, "big", signed=True)


def value_writer(t: SqlType) -> Callable[[Any], bytes]:
    """Bytes of a non-null value of type `t` (no union branch)."""
    base = t.base
    if base in ("INTEGER", "BIGINT", "TIMESTAMP", "DATE", "TIME"):
        return zigzag
    if base == "DOUBLE":
        return _D.pack
    if base == "BOOLEAN":
        return lambda x: b"\x01" if x else b"\x00"
    if base == "STRING":
        def w_str(s: str) -> bytes:
            b = s.encode("utf-8")
            return zigzag(len(b)) + b
        return w_str
    if base == "BYTES":
        return lambda b: zigzag(len(b)) + b
    if isinstance(t, SqlDecimal):
        scale = t.scale

        def w_dec(d):
            b = _decimal_bytes(Decimal(d), scale)
            return zigzag(len(b)) + b
        return w_dec
    if isinstance(t, SqlArray):
        item = optional_writer(t.item)

        def w_arr(xs):
            if not xs:
                return b"\x00"
            return zigzag(len(xs)) + b"".join(item(x) for x in xs) + b"\x00"
        return w_arr
    if isinstance(t, SqlMap):
        val = optional_writer(t.value)
        key = value_writer(t.key)

        def w_map(m):
            if not m:
                return b"\x00"
            return zigzag(len(m)) + b"".join(key(k) + val(x) for k, x in m.items()) + b"\x00"
        return w_map
    if isinstance(t, SqlStruct):
        fields = [(n, optional_writer(ft)) for n, ft in t.fields]

        def w_struct(s):
            return b"".join(w(s.get(n)) for n, w in fields)
        return w_struct
    raise TypeError(f"no Avro writer for {t}")


def optional_writer(t: SqlType) -> Callable[[Any], bytes]:
    """Bytes of a value of type `t` as the union `["null", T]`."""
    base = t.base
    if base in ("INTEGER", "BIGINT", "TIMESTAMP", "DATE", "TIME"):
        return lambda x: b"\x00" if x is None else opt_long(x)
    if base == "DOUBLE":
        return lambda x: b"\x00" if x is None else opt_double(x)
    if base == "STRING":
        return lambda x: b"\x00" if x is None else opt_str(x)
    inner = value_writer(t)
    return lambda x: b"\x00" if x is None else b"\x02" + inner(x)


def double_run_block(arrays: Sequence[Any]) -> tuple[bytes, int]:
    """Avro bytes of runs of non-null optional DOUBLEs, row-major: (block, row width).

    `arrays` are float64 NumPy arrays of one batch, one per output column of the run;
    row i's encoding is `block[i * width:(i + 1) * width]`.
    """
    import numpy as np

    k = len(arrays)
    dt = np.dtype([(f"{x}{j}", t) for j in range(k) for x, t in (("b", "u1"), ("v", "<f8"))])
    out = np.empty(len(arrays[0]), dt)
    for j, a in enumerate(arrays):
        out[f"b{j}"] = 2
        out[f"v{j}"] = a
    return out.tobytes(), dt.itemsize


def build_record_encoder(
    columns: Sequence[Column], header: bytes, runs: Sequence[tuple[int, int]] = ()
) -> Callable[..., bytes]:
    """`encode(values[, seg0, ...]) -> bytes` (Confluent header included) for a flat record.

    With `runs`, each (start, end) range of columns is not taken from `values` but from
    an extra argument holding its pre-encoded bytes (see `double_run_block`); `values`
    then holds only the other columns, in order.
    """
    ns: dict[str, Any] = {
        "_H": header, "_StructError": struct.error, "_ol": opt_long, "_os": opt_str,
        "_od": opt_double,
    }
    run_at = {a: (k, b) for k, (a, b) in enumerate(runs)}
    in_run = {p for a, b in runs for p in range(a, b)}
    # position of each non-run column in the compact `values` list
    pos = {}
    for c in range(len(columns)):
        if c not in in_run:
            pos[c] = len(pos)
    args = "".join(f", s{k}" for k in range(len(runs)))
    lines = [f"def encode(v{args}):", "    p = [_H]"]
    i = 0
    n = len(columns)
    while i < n:
        if i in run_at:
            k, end = run_at[i]
            lines.append(f"    p.append(s{k})")
            i = end
            continue
        t = columns[i].type
        if t.base == "DOUBLE":
            j = i
            while j < n and columns[j].type.base == "DOUBLE" and j not in run_at:
                j += 1
            if j - i >= 2:
                sname = f"_pack{i}"
                ns[sname] = struct.Struct("<" + "Bd" * (j - i)).pack
                args = ", ".join(f"2, v[{pos[k]}]" for k in range(i, j))
                lines.append("    try:")
                lines.append(f"        p.append({sname}({args}))")
                lines.append("    except _StructError:")
                for k in range(i, j):
                    lines.append(f"        p.append(b'\\x00' if (x := v[{pos[k]}]) is None else _od(x))")
                i = j
                continue
            lines.append(f"    p.append(b'\\x00' if (x := v[{pos[i]}]) is None else _od(x))")
        elif t.base in ("INTEGER", "BIGINT", "TIMESTAMP", "DATE", "TIME"):
            lines.append(f"    p.append(b'\\x00' if (x := v[{pos[i]}]) is None else _ol(x))")
        elif t.base == "STRING":
            lines.append(f"    p.append(b'\\x00' if (x := v[{pos[i]}]) is None else _os(x))")
        else:
            wname = f"_w{i}"
            ns[wname] = optional_writer(t)
            lines.append(f"    p.append({wname}(v[{pos[i]}]))")
        i += 1
    lines.append("    return b''.join(p)")
    return build_function("\n".join(lines), ns, "encode")
