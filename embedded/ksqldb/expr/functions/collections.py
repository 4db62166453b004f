"""ARRAY and MAP functions and the lambda functions TRANSFORM, FILTER and REDUCE.

Signatures and NULL behaviour are those of ksqlDB's classes in `function/udf/array`,
`list`, `map` and `lambda` (generic `T`, `K`, `V` bind to one SQL type per call). Values
are Python lists and dicts; set operations compare elements by value (structs and maps
included), keeping first-seen order as ksqlDB's LinkedHashSets do. A lambda argument
arrives as a plain Python function compiled with the query.
"""

from __future__ import annotations

from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf
from fraudstream.embedded.ksqldb.expr.values import decimal_str, hashable, java_double_str, java_map_order

# ------------------------------------------------------------------ arrays


def _distinct(values: list) -> list:
    seen: set = set()
    out = []
    for v in values:
        h = hashable(v)
        if h not in seen:
            seen.add(h)
            out.append(v)
    return out


def _concat(left, right):
    if left is None and right is None:
        return None
    return list(left or ()) + list(right or ())


def _except(left, right):
    drop = {hashable(v) for v in right}
    return [v for v in _distinct(left) if hashable(v) not in drop]


def _intersect(left, right):
    keep = {hashable(v) for v in right}
    return [v for v in _distinct(left) if hashable(v) in keep]


def _union(left, right):
    return _distinct(list(left) + list(right))


def _java_text(v: Any) -> str:
    """Java's `toString` of a primitive element (ARRAY_JOIN)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double_str(v)
    if isinstance(v, (int, str)):
        return str(v)
    from decimal import Decimal

    if isinstance(v, Decimal):
        return str(v) if v.as_tuple().exponent >= -6 or v.is_zero() else decimal_str(v)
    raise EvaluationError(f"error: hit element of type {type(v).__name__} which is currently not supported")


def _join(array, delimiter=","):
    return (delimiter if delimiter is not None else "").join(_java_text(v) for v in array)


def _extreme(pick: Callable[[Any, Any], bool]):
    def run(values):
        best = None
        for v in values:
            if v is not None and (best is None or pick(v, best)):
                best = v
        return best

    return run


def _sort(values, direction="ASC"):
    if direction is None:
        return None
    d = direction.upper()
    present = [v for v in values if v is not None]
    nulls = [None] * (len(values) - len(present))
    if d in ("ASC", "ASCENDING"):
        return sorted(present) + nulls
    if d in ("DESC", "DESCENDING"):
        return sorted(present, reverse=True) + nulls
    return None


def _remove(array, victim):
    return [v for v in array if v != victim or (v is None) != (victim is None)]


def _contains(array, value):
    return array is not None and value in array


def _series(start, end, step=None):
    if step is None:
        step = 1 if end - start > 0 else -1
    if step == 0:
        raise EvaluationError("GENERATE_SERIES step cannot be zero")
    diff = end - start
    if (diff > 0 and step < 0) or (diff < 0 and step > 0):
        raise EvaluationError("GENERATE_SERIES step has wrong sign")
    size = 1 + int(diff / step)
    return [start + i * step for i in range(size)]


def _slice(values, start, end):
    if values is None:
        return None
    lo = 0 if start is None else start - 1
    hi = len(values) if end is None else end
    if lo < 0 or hi > len(values) or lo > hi:
        return None
    return values[lo:hi]


# ------------------------------------------------------------------ maps


def _items(mapping: dict) -> list:
    """A map's entries in the order ksqlDB's Java map iterates them."""
    return [(k, mapping[k]) for k in java_map_order(mapping)]


def _entries(mapping, sort_keys):
    items = _items(mapping)
    if sort_keys:
        items.sort(key=lambda kv: kv[0])
    return [{"K": k, "V": v} for k, v in items]


def _as_map(keys, values):
    out = {}
    for i, k in enumerate(keys):
        out[k] = values[i] if i < len(values) else None
    return out


def _map_union(a, b):
    maps = [m for m in (a, b) if m is not None]
    if not maps:
        return None
    out: dict = {}
    for m in maps:
        out.update(m)
    return out


# ------------------------------------------------------------------ lambdas


def _transform_array(array, fn):
    return [fn(v) for v in array]


def _transform_map(mapping, key_fn, value_fn):
    out = {}
    for k, v in _items(mapping):
        nk = key_fn(k, v)
        if nk in out:
            raise EvaluationError(f"Duplicate key {nk} (attempted merging values {out[nk]} and {value_fn(k, v)})")
        out[nk] = value_fn(k, v)
    return out


def _truth(v: Any) -> bool:
    if v is None:
        raise EvaluationError("A FILTER lambda returned NULL")
    return bool(v)


def _filter_array(array, fn):
    return [v for v in array if _truth(fn(v))]


def _filter_map(mapping, fn):
    return {k: v for k, v in _items(mapping) if _truth(fn(k, v))}


def _reduce_array(values, state, fn):
    if state is None:
        return None
    if values is None:
        return state
    for v in values:
        state = fn(state, v)
    return state


def _reduce_map(mapping, state, fn):
    if state is None:
        return None
    if mapping is None:
        return state
    for k, v in _items(mapping):
        state = fn(state, k, v)
    return state


UDFS = [
    udf("array_concat", [sig(["ARRAY<T> left", "ARRAY<T> right"], "ARRAY<T>", _concat, nulls=False)],
        category="ARRAY", description="Returns an array representing the concatenation of both input arrays."),
    udf("array_distinct", [sig("ARRAY<T> input", "ARRAY<T>", _distinct)], category="ARRAY",
        description="Returns an array of all the distinct values, including NULL if present, from the input array."),
    udf("array_except", [sig(["ARRAY<T> left", "ARRAY<T> right"], "ARRAY<T>", _except)], category="ARRAY"),
    udf("array_intersect", [sig(["ARRAY<T> left", "ARRAY<T> right"], "ARRAY<T>", _intersect)], category="ARRAY"),
    udf("array_union", [sig(["ARRAY<T> left", "ARRAY<T> right"], "ARRAY<T>", _union)], category="ARRAY"),
    udf("ARRAY_JOIN", [sig("ARRAY<T> array", "VARCHAR", _join),
                       sig(["ARRAY<T> array", "VARCHAR delimiter"], "VARCHAR",
                           lambda a, d: None if a is None else _join(a, d), nulls=False)], category="ARRAY"),
    udf("ARRAY_LENGTH", [sig("ARRAY<T> array", "INT", len)], category="ARRAY"),
    udf("array_max", [sig("ARRAY<T> input", "T", _extreme(lambda v, best: v > best))], category="ARRAY"),
    udf("array_min", [sig("ARRAY<T> input", "T", _extreme(lambda v, best: v < best))], category="ARRAY"),
    udf("array_remove", [sig(["ARRAY<T> array", "T victim"], "ARRAY<T>",
                             lambda a, v: None if a is None else _remove(a, v), nulls=False)], category="ARRAY"),
    udf("array_sort", [sig("ARRAY<T> input", "ARRAY<T>", _sort),
                       sig(["ARRAY<T> input", "VARCHAR direction"], "ARRAY<T>", _sort)], category="ARRAY"),
    udf("ARRAY_CONTAINS", [sig(["ARRAY<T> array", "T val"], "BOOLEAN", _contains, nulls=False)], category="ARRAY"),
    udf("ENTRIES", [sig([f"MAP<VARCHAR, {t}> map", "BOOLEAN sorted"], f"ARRAY<STRUCT<K VARCHAR, V {t}>>", _entries)
                    for t in ("INT", "BIGINT", "DOUBLE", "BOOLEAN", "VARCHAR")], category="MAP"),
    udf("GENERATE_SERIES", [sig(["INT start", "INT end"], "ARRAY<INT>", _series),
                            sig(["INT start", "INT end", "INT step"], "ARRAY<INT>", _series),
                            sig(["BIGINT start", "BIGINT end"], "ARRAY<BIGINT>", _series),
                            sig(["BIGINT start", "BIGINT end", "INT step"], "ARRAY<BIGINT>", _series)],
        category="ARRAY"),
    udf("slice", [sig(["ARRAY<T> list", "INT from", "INT to"], "ARRAY<T>", _slice, nulls=False)], category="ARRAY"),
    udf("AS_MAP", [sig(["ARRAY<VARCHAR> keys", "ARRAY<T> values"], "MAP<VARCHAR, T>", _as_map)], category="MAP"),
    udf("MAP_KEYS", [sig("MAP<VARCHAR, T> input", "ARRAY<VARCHAR>", java_map_order)], category="MAP"),
    udf("MAP_VALUES", [sig("MAP<VARCHAR, T> input", "ARRAY<T>", lambda m: [v for _, v in _items(m)])],
        category="MAP"),
    udf("MAP_UNION", [sig(["MAP<VARCHAR, T> map1", "MAP<VARCHAR, T> map2"], "MAP<VARCHAR, T>", _map_union,
                          nulls=False)], category="MAP"),
    udf("TRANSFORM", [
        sig(["ARRAY<T> array", "LAMBDA (T) => R function"], "ARRAY<R>", _transform_array),
        sig(["MAP<K, V> map", "LAMBDA (K, V) => R biFunction1", "LAMBDA (K, V) => T biFunction2"], "MAP<R, T>",
            _transform_map),
    ], category="LAMBDA"),
    udf("FILTER", [
        sig(["ARRAY<T> array", "LAMBDA (T) => BOOLEAN function"], "ARRAY<T>", _filter_array),
        sig(["MAP<K, V> map", "LAMBDA (K, V) => BOOLEAN biFunction"], "MAP<K, V>", _filter_map),
    ], category="LAMBDA"),
    udf("REDUCE", [
        sig(["ARRAY<T> array", "S initialState", "LAMBDA (S, T) => S biFunction"], "S", _reduce_array, nulls=False),
        sig(["MAP<K, V> map", "S initialState", "LAMBDA (S, K, V) => S triFunction"], "S", _reduce_map, nulls=False),
    ], category="LAMBDA"),
]
