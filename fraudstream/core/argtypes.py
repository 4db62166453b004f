"""argparse value types shared by every sub-command: a bad value is a one-line usage
error naming the option, before anything slow starts."""

from __future__ import annotations

import argparse


def _number(text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return int(value)


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return int(value)


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return float(value)


def fraction(text: str) -> float:
    """A share within [0, 1]."""
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {text}")
    return float(value)


def open_fraction(text: str) -> float:
    """A share strictly between 0 and 1 (e.g. a split size)."""
    value = _number(text, float)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return float(value)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(text: str) -> float:
    """Seconds of '500ms', '5s', '30m', '1h', '7d' (a bare number is refused: say the unit)."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*", text)
    if m is None or not float(m.group(1)) > 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (a positive number and a unit: ms, s, m, h, "
                                         f"d, e.g. 30m)")
    return float(m.group(1)) * _UNITS[m.group(2)]
