"""Bytes for state values (aggregation accumulators, grouping values), for changelogs.

JSON with tags for what JSON lacks: DECIMAL keeps its exact digits and scale, tuples
stay tuples (they are dict keys and immutable accumulators), maps may have non-string
keys, BYTES are base64. Data only: decoding never constructs anything but these types
(unlike pickle, a changelog record cannot run code).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _tag(v: Any) -> Any:
    t = type(v)
    if t in _PLAIN:
        return v
    if t is tuple:
        # rows and accumulators are mostly flat tuples of plain values: no recursion then
        for x in v:
            if type(x) not in _PLAIN:
                return {"t": [_tag(x) for x in v]}
        return {"t": list(v)}
    if isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Decimal):
        return {"d": str(v)}
    if isinstance(v, tuple):
        return {"t": [_tag(x) for x in v]}
    if isinstance(v, list):
        return [_tag(x) for x in v]
    if isinstance(v, dict):
        return {"m": [[_tag(k), _tag(x)] for k, x in v.items()]}
    if isinstance(v, (bytes, bytearray)):
        return {"b": base64.b64encode(bytes(v)).decode("ascii")}
    raise TypeError(f"cannot encode state value of type {type(v).__name__}")


def _untag(v: Any) -> Any:
    if isinstance(v, list):
        return [_untag(x) for x in v]
    if isinstance(v, dict):
        if "d" in v:
            return Decimal(v["d"])
        if "t" in v:
            return tuple(_untag(x) for x in v["t"])
        if "m" in v:
            return {_untag(k): _untag(x) for k, x in v["m"]}
        if "b" in v:
            return base64.b64decode(v["b"])
        raise ValueError(f"unknown state tag in {v!r}")
    return v


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def encode(v: Any) -> bytes:
    return _ENCODE(_tag(v)).encode("utf-8")


def decode(data: bytes) -> Any:
    return _untag(json.loads(data))
