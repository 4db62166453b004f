"""MASK, MASK_LEFT, MASK_RIGHT, MASK_KEEP_LEFT, MASK_KEEP_RIGHT with ksqlDB semantics.

Each character is classified by its Unicode category: upper-case letter → 'X', lower-case
letter → 'x', decimal digit → 'n', anything else → '-'. Four optional trailing arguments
replace those mask characters; NULL there leaves that class unmasked, and a mask that is
not exactly one character is an error. A negative count is an error; a count beyond the
length is clamped. NULL input gives NULL.

The pipeline calls MASK_LEFT on every record, so the common ASCII case uses a cached
`str.translate` table instead of classifying characters one by one.
"""

from __future__ import annotations

import functools
import unicodedata

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import Resolved, Udf, no_match
from fraudstream.embedded.ksqldb.catalog.sqltypes import INTEGER, STRING, SqlType

DEFAULT_MASKS = ("X", "x", "n", "-")


def _mask_char_of(mask: str | None) -> str | None:
    if mask is None:
        return None
    if len(mask) != 1:
        raise EvaluationError(
            f"Invalid mask character. Must be only single character, but was '{mask}'"
        )
    return mask


@functools.lru_cache(maxsize=64)
def _ascii_table(masks: tuple[str | None, str | None, str | None, str | None]) -> dict[int, str]:
    upper, lower, digit, other = masks
    table: dict[int, str] = {}
    for code in range(128):
        c = chr(code)
        if "A" <= c <= "Z":
            m = upper
        elif "a" <= c <= "z":
            m = lower
        elif "0" <= c <= "9":
            m = digit
        else:
            m = other
        if m is not None:
            table[code] = m
    return table


def mask_text(s: str, masks: tuple[str | None, str | None, str | None, str | None] = DEFAULT_MASKS) -> str:
    if not s:
        return s
    if s.isascii():
        return s.translate(_ascii_table(masks))
    upper, lower, digit, other = masks
    out = []
    for c in s:
        cat = unicodedata.category(c)
        if cat == "Lu":
            m = upper
        elif cat == "Ll":
            m = lower
        elif cat == "Nd":
            m = digit
        else:
            m = other
        out.append(c if m is None else m)
    return "".join(out)


def _masks(args: tuple) -> tuple[str | None, str | None, str | None, str | None]:
    if not args:
        return DEFAULT_MASKS
    return tuple(_mask_char_of(a) for a in args)  # type: ignore[return-value]


def _check_count(name: str, n: int | None) -> int:
    if n is None:
        raise EvaluationError(f"function {name} requires a non-null number of characters")
    if n < 0:
        raise EvaluationError(
            f"function {name} requires a non-negative number of characters to mask or skip"
        )
    return n


def mask(s, *m):
    masks = _masks(m)
    return None if s is None else mask_text(s, masks)


def mask_left(s, n, *m):
    n = _check_count("mask_left", n)
    masks = _masks(m)
    if s is None:
        return None
    k = min(n, len(s))
    return mask_text(s[:k], masks) + s[k:]


def mask_right(s, n, *m):
    n = _check_count("mask_right", n)
    masks = _masks(m)
    if s is None:
        return None
    k = max(len(s) - n, 0)
    return s[:k] + mask_text(s[k:], masks)


def mask_keep_left(s, n, *m):
    n = _check_count("mask_keep_left", n)
    masks = _masks(m)
    if s is None:
        return None
    k = min(n, len(s))
    return s[:k] + mask_text(s[k:], masks)


def mask_keep_right(s, n, *m):
    n = _check_count("mask_keep_right", n)
    masks = _masks(m)
    if s is None:
        return None
    k = max(len(s) - n, 0)
    return mask_text(s[:k], masks) + s[k:]


def _fast_mask_left_default(s, n):
    """MASK_LEFT(s, n) with default masks: the pipeline's hot path."""
    if n is None or n < 0:
        return mask_left(s, n)
    if s is None:
        return None
    if s.isascii():
        return s[:n].translate(_DEFAULT_TABLE) + s[n:]
    return mask_left(s, n)


_DEFAULT_TABLE = _ascii_table(DEFAULT_MASKS)


def _udf(name: str, impl, counted: bool) -> Udf:
    def resolve(types: list[SqlType | None]) -> Resolved:
        fixed = 2 if counted else 1
        if len(types) not in (fixed, fixed + 4):
            raise no_match(name, types)
        if not (types[0] is None or types[0].base == "STRING"):
            raise no_match(name, types)
        if counted and not (types[1] is None or types[1].base == "INTEGER"):
            raise no_match(name, types)
        for t in types[fixed:]:
            if not (t is None or t.base == "STRING"):
                raise no_match(name, types)
        chosen = impl
        if name == "MASK_LEFT" and len(types) == 2:
            chosen = _fast_mask_left_default
        return Resolved(STRING, chosen, null_propagating=False)

    return Udf(name, resolve, category="STRING", description=__doc__.splitlines()[0])


UDFS = [
    _udf("MASK", mask, counted=False),
    _udf("MASK_LEFT", mask_left, counted=True),
    _udf("MASK_RIGHT", mask_right, counted=True),
    _udf("MASK_KEEP_LEFT", mask_keep_left, counted=True),
    _udf("MASK_KEEP_RIGHT", mask_keep_right, counted=True),
]

_ = INTEGER  # re-exported type used in docs/tests
