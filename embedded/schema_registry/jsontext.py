"""JSON as the Java registry reads and writes it, for request bodies and schema text.

Python's `json` is laxer than Jackson in two ways that matter to a server: it accepts
`NaN`, `Infinity` and `-Infinity` (Jackson refuses them, so the real registry rejects a
schema whose default is `NaN`), and it raises RecursionError rather than a parse error
on deeply nested input (Jackson stops at its nesting limit with a parse error). Both
become a ValueError here, so the caller's "not valid JSON" answer (a 4xx) covers them.
Writing: a message may echo a client's text holding a lone surrogate (`"\\ud800"`),
which is not encodable as UTF-8; it is written as a JSON escape instead of failing.
"""

from __future__ import annotations

import json
from typing import Any


class JsonTextError(ValueError):
    """Not JSON the real registry would accept."""


def _no_constants(name: str) -> Any:
    raise JsonTextError(f"{name} is not a JSON value")


def loads(text: str | bytes) -> Any:
    """Strict JSON: no NaN/Infinity; too deep nesting is a JsonTextError, not a RecursionError."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise JsonTextError("JSON nested too deeply") from None


def dumps_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON; text that is not valid Unicode (lone surrogates) is escaped."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")
