"""Java `DateTimeFormatter` patterns (`yyyy-MM-dd HH:mm:ss.SSS`) in Python.

ksqlDB's date/time functions take Java patterns, and statement files written for ksqlDB
must keep working unchanged, so the patterns are interpreted here rather than asking
users for strftime codes. Patterns are compiled once per (pattern, zone) and cached.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = dt.date(1970, 1, 1)

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class PatternError(ValueError):
    pass


def _tokenize(pattern: str) -> list[tuple[str, int] | str]:
    out: list[tuple[str, int] | str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            j = i + 1
            buf = []
            while j < n:
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(pattern[j])
                j += 1
            out.append("".join(buf) if buf else "'")
            i = j + 1
            continue
        if c in "[]":
            i += 1  # optional sections: treated as always present when formatting
            continue
        if c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            out.append((c, j - i))
            i = j
            continue
        out.append(c)
        i += 1
    return out


#: Java's ZoneId.SHORT_IDS (also what its zone-name parser maps abbreviations to)
SHORT_IDS = {
    "ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo", "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare", "CNT": "America/St_Johns", "CST": "America/Chicago", "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa", "ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata", "JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland", "PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh",
    "EST": "-05:00", "MST": "-07:00", "HST": "-10:00", "PDT": "America/Los_Angeles",
    "EDT": "America/New_York", "CDT": "America/Chicago", "MDT": "America/Denver",
}


def zone(tz: str | None) -> dt.tzinfo:
    if tz is not None and tz.upper() in SHORT_IDS and tz.upper() not in ("UTC", "GMT"):
        tz = SHORT_IDS[tz.upper()]
    if tz is None or tz in ("UTC", "Z", "GMT"):
        return UTC
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?", tz)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return dt.timezone(sign * dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
    try:
        return ZoneInfo(tz)
    except Exception as e:  # noqa: BLE001 - any lookup failure is a bad zone id
        raise PatternError(f"Unknown time-zone ID: {tz}") from e


def _offset_str(d: dt.datetime, letter: str, count: int) -> str:
    off = d.utcoffset() or dt.timedelta(0)
    secs = int(off.total_seconds())
    if letter in "Xx" and secs == 0 and letter == "X":
        return "Z"
    sign = "+" if secs >= 0 else "-"
    secs = abs(secs)
    hh, mm = divmod(secs // 60, 60)
    if letter == "Z":
        return f"{sign}{hh:02d}{mm:02d}" if count < 4 else ("Z" if secs == 0 else f"{sign}{hh:02d}:{mm:02d}")
    if count == 1:
        return f"{sign}{hh:02d}" + (f"{mm:02d}" if mm else "")
    if count in (2, 4):
        return f"{sign}{hh:02d}{mm:02d}"
    return f"{sign}{hh:02d}:{mm:02d}"


def _format_field(d: dt.datetime, letter: str, count: int) -> str:
    if letter in "yu":
        y = d.year
        return f"{y % 100:02d}" if count == 2 else str(y).zfill(count)
    if letter in "ML":
        if count >= 4:
            return _MONTHS[d.month - 1]
        if count == 3:
            return _MONTHS[d.month - 1][:3]
        return str(d.month).zfill(count)
    if letter == "d":
        return str(d.day).zfill(count)
    if letter == "D":
        return str(d.timetuple().tm_yday).zfill(count)
    if letter == "H":
        return str(d.hour).zfill(count)
    if letter == "k":
        return str(d.hour or 24).zfill(count)
    if letter == "h":
        return str((d.hour % 12) or 12).zfill(count)
    if letter == "K":
        return str(d.hour % 12).zfill(count)
    if letter == "m":
        return str(d.minute).zfill(count)
    if letter == "s":
        return str(d.second).zfill(count)
    if letter == "S":
        frac = f"{d.microsecond:06d}000"
        return frac[:count]
    if letter == "n":
        return str(d.microsecond * 1000)
    if letter == "A":
        return str((d.hour * 3600 + d.minute * 60 + d.second) * 1000 + d.microsecond // 1000)
    if letter == "a":
        return "AM" if d.hour < 12 else "PM"
    if letter in "Ee":
        name = _DAYS[d.weekday()]
        return name if count >= 4 else name[:3]
    if letter in "XxZ":
        return _offset_str(d, letter, count)
    if letter == "z":
        name = d.tzname() or "UTC"
        return name
    if letter in "VO":
        tz = d.tzinfo
        return getattr(tz, "key", None) or (d.tzname() or "UTC")
    if letter == "G":
        return "AD"
    if letter == "Q":
        return str((d.month - 1) // 3 + 1)
    raise PatternError(f"Unknown pattern letter: {letter}")


@functools.lru_cache(maxsize=256)
def compile_formatter(pattern: str):
    tokens = _tokenize(pattern)
    for t in tokens:
        if isinstance(t, tuple):
            _format_field(EPOCH, *t)  # validate letters once

    def fmt(d: dt.datetime) -> str:
        return "".join(t if isinstance(t, str) else _format_field(d, *t) for t in tokens)

    return fmt


def format_millis(millis: int, pattern: str, tz: str | None = None) -> str:
    d = EPOCH + dt.timedelta(milliseconds=millis)
    z = zone(tz)
    if z is not UTC:
        d = d.astimezone(z)
    return compile_formatter(pattern)(d)


def format_date(days: int, pattern: str) -> str:
    d = dt.datetime.combine(EPOCH_DATE + dt.timedelta(days=days), dt.time(), tzinfo=UTC)
    return compile_formatter(pattern)(d)


_NUMERIC_FIELDS = {"y": "year", "u": "year", "M": "month", "L": "month", "d": "day",
                   "H": "hour", "k": "hour24", "h": "hour12", "K": "hour12z", "m": "minute",
                   "s": "second", "S": "fraction", "D": "doy"}


@functools.lru_cache(maxsize=256)
def compile_parser(pattern: str):
    tokens = _tokenize(pattern)
    regex = []
    fields: list[tuple[str, int]] = []
    for t in tokens:
        if isinstance(t, str):
            regex.append(re.escape(t))
            continue
        letter, count = t
        if letter in _NUMERIC_FIELDS:
            if letter in "ML" and count >= 3:
                regex.append("([A-Za-z]+)")
                fields.append(("monthname", count))
                continue
            if letter in "yu" and count == 2:
                regex.append(r"(\d{2})")
            elif letter == "S":
                regex.append(rf"(\d{{{count}}})")
            elif count == 1:
                regex.append(r"(\d+)")
            else:
                regex.append(rf"(\d{{{count}}})" if letter not in "yu" else rf"([+-]?\d{{{count},9}})")
            fields.append((letter, count))
        elif letter == "a":
            regex.append("(AM|PM|am|pm)")
            fields.append(("a", count))
        elif letter in "Ee":
            regex.append("([A-Za-z]+)")
            fields.append(("E", count))
        elif letter in "XxZ":
            regex.append(r"(Z|[+-]\d{2}(?::?\d{2})?)")
            fields.append(("offset", count))
        elif letter in "zVO":
            regex.append(r"([A-Za-z_/+\-0-9:]+)")
            fields.append(("zone", count))
        else:
            raise PatternError(f"Unsupported pattern letter for parsing: {letter}")
    # like DateTimeFormatter.parse(text, ParsePosition): trailing text is ignored
    return re.compile("".join(regex), re.IGNORECASE), fields


def parse_to_datetime(text: str, pattern: str, tz: str | None = None) -> dt.datetime:
    rx, fields = compile_parser(pattern)
    m = rx.match(text)
    if not m:
        raise PatternError(f"Text '{text}' could not be parsed with pattern '{pattern}'")
    year, month, day, hour, minute, second, micro = 1970, 1, 1, 0, 0, 0, 0
    pm = None
    hour12 = None
    doy = None
    tzinfo: dt.tzinfo = zone(tz)
    for (kind, count), g in zip(fields, m.groups()):
        if kind in "yu":
            year = int(g) + (2000 if count == 2 else 0)
        elif kind in "ML":
            month = int(g)
        elif kind == "monthname":
            names = [x.lower() for x in _MONTHS]
            gl = g.lower()
            month = next((i + 1 for i, x in enumerate(names) if x == gl or x[:3] == gl), 0)
            if not month:
                raise PatternError(f"Unknown month: {g}")
        elif kind == "d":
            day = int(g)
        elif kind == "D":
            doy = int(g)
        elif kind in "Hk":
            hour = int(g) % 24
        elif kind in "hK":
            hour12 = int(g) % 12
        elif kind == "m":
            minute = int(g)
        elif kind == "s":
            second = int(g)
        elif kind == "S":
            micro = int((g + "000000")[:6])
        elif kind == "a":
            pm = g.upper() == "PM"
        elif kind == "offset":
            if g.upper() == "Z":
                tzinfo = UTC
            else:
                sign = 1 if g[0] == "+" else -1
                digits = g[1:].replace(":", "")
                tzinfo = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
        elif kind == "zone":
            tzinfo = zone(g)
    if hour12 is not None:
        hour = hour12 + (12 if pm else 0)
    elif pm is not None and pm and hour < 12:
        hour += 12
    if doy is not None:
        base = dt.datetime(year, 1, 1) + dt.timedelta(days=doy - 1)
        month, day = base.month, base.day
    try:
        d = dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError as e:
        raise PatternError(str(e)) from e
    if isinstance(tzinfo, ZoneInfo):
        return d.replace(tzinfo=tzinfo)
    return d.replace(tzinfo=tzinfo)


def parse_to_millis(text: str, pattern: str, tz: str | None = None) -> int:
    d = parse_to_datetime(text, pattern, tz)
    delta = d - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def parse_to_days(text: str, pattern: str) -> int:
    d = parse_to_datetime(text, pattern)
    return (d.date() - EPOCH_DATE).days


def millis_to_iso(millis: int) -> str:
    """TIMESTAMP as ksqlDB prints it: `yyyy-MM-dd'T'HH:mm:ss.SSS` in UTC."""
    d = EPOCH + dt.timedelta(milliseconds=millis)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}"


def days_to_iso(days: int) -> str:
    return (EPOCH_DATE + dt.timedelta(days=days)).isoformat()


_ISO_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?\Z"
)


def parse_iso_timestamp(text: str) -> int:
    """ksqlDB's CAST(string AS TIMESTAMP): ISO-8601, optional zone (default UTC)."""
    m = _ISO_TS.match(text.strip())
    if not m:
        raise PatternError(f"Failed to parse timestamp '{text}': expected format yyyy-mm-ddThh:mm:ss[.S]")
    y, mo, d, h, mi, s, frac, off = m.groups()
    micro = int(((frac or "") + "000000")[:6])
    tzinfo: dt.tzinfo = UTC
    if off and off != "Z":
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        tzinfo = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
    value = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro, tzinfo=tzinfo)
    delta = value - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def parse_iso_date(text: str) -> int:
    try:
        return (dt.date.fromisoformat(text.strip()) - EPOCH_DATE).days
    except ValueError as e:
        raise PatternError(f"Failed to parse date '{text}'") from e


def parse_iso_time(text: str) -> int:
    try:
        t = dt.time.fromisoformat(text.strip())
    except ValueError as e:
        raise PatternError(f"Failed to parse time '{text}'") from e
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000
