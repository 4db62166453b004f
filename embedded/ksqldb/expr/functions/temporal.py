"""Date and time functions (ksqlDB's `function/udf/datetime`).

Values: TIMESTAMP is epoch milliseconds, DATE epoch days, TIME milliseconds of the day.
Patterns are Java `DateTimeFormatter` patterns (`java_time.py`). The interval functions
take a time unit (`DAYS`, `HOURS`, `MINUTES`, `SECONDS`, `MILLISECONDS`) the way ksqlDB's
`TimeUnit` parameters do, and do the arithmetic in Java's order (DATEADD converts the
result back to whole days truncating toward zero; TIMEADD wraps around midnight).
"""

from __future__ import annotations

import datetime as dt
import time as _time

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions import java_time
from fraudstream.embedded.ksqldb.expr.functions.registry import sig, udf

DAY_MS = 86_400_000
_UNIT_MS = {
    "DAY": DAY_MS, "DAYS": DAY_MS, "HOUR": 3_600_000, "HOURS": 3_600_000,
    "MINUTE": 60_000, "MINUTES": 60_000, "SECOND": 1_000, "SECONDS": 1_000,
    "MILLISECOND": 1, "MILLISECONDS": 1,
}


def _to_millis(unit: str, interval: int) -> int:
    return _UNIT_MS[unit.upper()] * interval


def _jdiv(a: int, b: int) -> int:
    """Java's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _time_errors(fn):
    def wrapped(*args):
        try:
            return fn(*args)
        except java_time.PatternError as e:
            raise EvaluationError(str(e)) from e
        except (ValueError, OverflowError, KeyError) as e:
            raise EvaluationError(str(e)) from e

    return wrapped


# ------------------------------------------------------------------ interval arithmetic


def _date_add(unit, interval, days):
    return _jdiv(days * DAY_MS + _to_millis(unit, interval), DAY_MS)


def _date_sub(unit, interval, days):
    return _jdiv(days * DAY_MS - _to_millis(unit, interval), DAY_MS)


def _time_add(unit, interval, ms):
    return (ms + _to_millis(unit, interval)) % DAY_MS


def _time_sub(unit, interval, ms):
    return (ms - _to_millis(unit, interval)) % DAY_MS


def _ts_add(unit, interval, ms):
    return ms + _to_millis(unit, interval)


def _ts_sub(unit, interval, ms):
    return ms - _to_millis(unit, interval)


def _interval(name: str, kind: str, fn, verb: str):
    return udf(name, [sig(["INTERVALUNIT unit", f"INT interval", f"{kind} {kind.lower()}"], kind, fn)],
               category="DATE / TIME", description=f"{verb} a duration {'to' if verb == 'Adds' else 'from'} a {kind.lower()}")


# ------------------------------------------------------------------ zones and formats


def _offset_ms(zone_id: str, millis: int) -> int:
    z = java_time.zone(zone_id)
    instant = java_time.EPOCH + dt.timedelta(milliseconds=millis)
    off = instant.astimezone(z).utcoffset() or dt.timedelta(0)
    return int(off.total_seconds() * 1000)


def _convert_tz(millis, from_zone, to_zone):
    try:
        return millis + _offset_ms(to_zone, millis) - _offset_ms(from_zone, millis)
    except java_time.PatternError as e:
        raise EvaluationError(f"Invalid time zone: {e}") from e


def _format_time(ms, pattern):
    return java_time.format_millis(ms, pattern)


def _parse_time(text, pattern):
    d = java_time.parse_to_datetime(text, pattern)
    if (d.year, d.month, d.day) != (1970, 1, 1):
        raise EvaluationError("Time format contains date field.")
    return ((d.hour * 60 + d.minute) * 60 + d.second) * 1000 + d.microsecond // 1000


def _parse_date(text, pattern):
    millis = java_time.parse_to_millis(text, pattern)
    if millis % DAY_MS:
        raise EvaluationError("Date format contains time field.")
    return millis // DAY_MS


def _now_days():
    return (dt.date.today() - java_time.EPOCH_DATE).days


_T = _time_errors

UDFS = [
    _interval("dateadd", "DATE", _date_add, "Adds"),
    _interval("datesub", "DATE", _date_sub, "Subtracts"),
    _interval("timeadd", "TIME", _time_add, "Adds"),
    _interval("timesub", "TIME", _time_sub, "Subtracts"),
    _interval("timestampadd", "TIMESTAMP", _ts_add, "Adds"),
    _interval("timestampsub", "TIMESTAMP", _ts_sub, "Subtracts"),
    udf("convert_tz", [sig(["TIMESTAMP timestamp", "VARCHAR fromTimeZone", "VARCHAR toTimeZone"], "TIMESTAMP",
                           _convert_tz)], category="DATE / TIME"),
    udf("timestamptostring", [
        sig(["BIGINT epochMilli", "VARCHAR formatPattern"], "VARCHAR", _T(java_time.format_millis)),
        sig(["BIGINT epochMilli", "VARCHAR formatPattern", "VARCHAR timeZone"], "VARCHAR",
            _T(java_time.format_millis)),
    ], category="DATE / TIME"),
    udf("stringtotimestamp", [
        sig(["VARCHAR formattedTimestamp", "VARCHAR formatPattern"], "BIGINT", _T(java_time.parse_to_millis)),
        sig(["VARCHAR formattedTimestamp", "VARCHAR formatPattern", "VARCHAR timeZone"], "BIGINT",
            _T(java_time.parse_to_millis)),
    ], category="DATE / TIME"),
    udf("parse_timestamp", [
        sig(["VARCHAR formattedTimestamp", "VARCHAR formatPattern"], "TIMESTAMP", _T(java_time.parse_to_millis)),
        sig(["VARCHAR formattedTimestamp", "VARCHAR formatPattern", "VARCHAR timeZone"], "TIMESTAMP",
            _T(java_time.parse_to_millis)),
    ], category="DATE / TIME"),
    udf("format_timestamp", [
        sig(["TIMESTAMP timestamp", "VARCHAR formatPattern"], "VARCHAR", _T(java_time.format_millis)),
        sig(["TIMESTAMP timestamp", "VARCHAR formatPattern", "VARCHAR timeZone"], "VARCHAR",
            _T(java_time.format_millis)),
    ], category="DATE / TIME"),
    udf("parse_date", [sig(["VARCHAR formattedDate", "VARCHAR formatPattern"], "DATE", _T(_parse_date))],
        category="DATE / TIME"),
    udf("format_date", [sig(["DATE date", "VARCHAR formatPattern"], "VARCHAR", _T(java_time.format_date))],
        category="DATE / TIME"),
    udf("parse_time", [sig(["VARCHAR formattedTime", "VARCHAR formatPattern"], "TIME", _T(_parse_time))],
        category="DATE / TIME"),
    udf("format_time", [sig(["TIME time", "VARCHAR formatPattern"], "VARCHAR", _T(_format_time))],
        category="DATE / TIME"),
    udf("datetostring", [sig(["INT epochDays", "VARCHAR formatPattern"], "VARCHAR", _T(java_time.format_date))],
        category="DATE / TIME"),
    udf("stringtodate", [sig(["VARCHAR formattedDate", "VARCHAR formatPattern"], "INT", _T(java_time.parse_to_days))],
        category="DATE / TIME"),
    udf("unix_timestamp", [sig([], "BIGINT", lambda: int(_time.time() * 1000), deterministic=False),
                           sig("TIMESTAMP timestamp", "BIGINT", lambda t: t)], category="DATE / TIME"),
    udf("unix_date", [sig([], "INT", _now_days, deterministic=False),
                      sig("DATE date", "INT", lambda d: d)], category="DATE / TIME"),
    udf("from_unixtime", [sig("BIGINT epochMilli", "TIMESTAMP", lambda ms: ms)], category="DATE / TIME"),
    udf("from_days", [sig("INT days", "DATE", lambda d: d)], category="DATE / TIME"),
]
