"""Windowed keys, as Kafka Streams writes them and ksqlDB reads them for windowed sources.

A time window (TUMBLING, HOPPING) key is the inner key's bytes followed by the window
start as an 8-byte big-endian long; the end is start + the source's WINDOW_SIZE. A
session window key is the inner key's bytes, then the end, then the start (8 bytes
each), as Kafka Streams' SessionWindowedSerializer lays them out.
"""

from __future__ import annotations

from typing import Any, Callable

from fraudstream.embedded.ksqldb.errors import SerdeError


def window_bytes(window_type: str, start: int, end: int) -> bytes:
    if window_type == "SESSION":
        return end.to_bytes(8, "big", signed=True) + start.to_bytes(8, "big", signed=True)
    return start.to_bytes(8, "big", signed=True)


def windowed_key_decoder(inner: Callable[[bytes | None], tuple], window_type: str,
                         size: int | None) -> Callable[[bytes | None], tuple[tuple, tuple[int, int, bytes]]]:
    """`key bytes → (inner key tuple, (window start, window end, window bytes))`."""
    session = window_type == "SESSION"
    width = 16 if session else 8

    def decode(data: bytes | None) -> tuple[tuple, tuple[int, int, bytes]]:
        if data is None or len(data) < width:
            raise SerdeError(f"a windowed key needs at least {width} bytes of window, got "
                             f"{'no key' if data is None else len(data)}")
        suffix = data[-width:]
        if session:
            end = int.from_bytes(suffix[:8], "big", signed=True)
            start = int.from_bytes(suffix[8:], "big", signed=True)
        else:
            start = int.from_bytes(suffix, "big", signed=True)
            end = start + (size or 0)
        return inner(data[:-width]), (start, end, suffix)

    return decode


def window_of(source: Any) -> tuple[str, int | None] | None:
    """(window type, size) of a windowed source, None otherwise."""
    return (source.window_type, source.window_size) if source.window_type else None
