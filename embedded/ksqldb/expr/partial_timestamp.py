"""Partial timestamp literals (`'2020-05'`, `'2020-05-26T23:59'`), read as ksqlDB reads them.

ksqlDB's `PartialStringToTimestampParser`: string literals compared with ROWTIME and the
window bounds in WHERE are turned into epoch millis by the planner
(`plan.time_comparisons`); missing parts are zero, no zone means UTC. A value rule, so it
lives with the expression layer, below the planner and the operators that use it.
"""

from __future__ import annotations

from fraudstream.embedded.ksqldb.errors import KsqlStatementError

_TIME_PATTERN = "HH:mm:ss.SSS"


def complete_date(date: str) -> str:
    """PartialStringToTimestampParser.completeDate: a missing month or day is 01."""
    parts = date.split("-")
    if len(parts) == 1:
        return date + "-01-01"
    if len(parts) == 2:
        return date + "-01"
    return date


def _offset_minutes(tz: str) -> int:
    """A numeric offset as Java's ZoneId.of reads one: +H, +HH, +HHMM, +HH:MM."""
    import re

    m = re.fullmatch(r"([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?", tz)
    if m is None:
        raise ValueError(f"Failed to parse timezone '{tz}'")
    sign = -1 if m.group(1) == "-" else 1
    return sign * (int(m.group(2)) * 60 + int(m.group(3) or 0))


def parse_partial_timestamp(text: str) -> int:
    """A (possibly partial) ISO timestamp string → epoch millis, as ksqlDB's
    `PartialStringToTimestampParser` reads the string literals compared with ROWTIME and
    window bounds: `2020`, `2020-05`, `2020-05-26T23`, … `2020-05-26T23:59:58.000+0200`;
    missing parts are zero, no zone means UTC, a trailing `Z` is UTC."""
    from fraudstream.embedded.ksqldb.expr.functions.java_time import parse_to_millis

    if "T" in text:
        date, rest = text[: text.index("T")], text[text.index("T") + 1:]
        tz = rest[rest.index("+"):] if "+" in rest else (rest[rest.index("-"):] if "-" in rest else "")
        time = rest[: len(rest) - len(tz)]
        if time.endswith("Z"):
            time = time[:-1]
    else:
        date, time, tz = complete_date(text), "", ""
    if len(time) < len(_TIME_PATTERN):
        time += "".join("0" if ch.isalpha() else ch for ch in _TIME_PATTERN[len(time):])
    try:
        offset = _offset_minutes(tz) if tz.strip() else 0
        return parse_to_millis(f"{date}T{time}", "yyyy-MM-dd'T'HH:mm:ss.SSS") - offset * 60_000
    except Exception as e:  # noqa: BLE001 - one message for every malformed literal
        raise KsqlStatementError(
            f"Failed to parse timestamp '{text}': {e}\nRequired format is: "
            "\"yyyy-MM-dd'T'HH:mm:ss.SSS\", with an optional numeric 4-digit timezone, for "
            "example: '2020-05-26T23:59:58.000' or with tz: '2020-05-26T23:59:58.000+0200'. "
            "A trailing 'Z' instead of tz indicates the zero UTC offset. Partials are also "
            "supported, for example \"2020-05-26\""
        ) from e
