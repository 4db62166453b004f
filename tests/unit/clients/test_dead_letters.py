"""Dead letters always fit: the value is cut to the limit, with its original size and digest."""

from __future__ import annotations

import hashlib

from fraudstream.clients.dead_letters import (DIGEST_HEADER, ORIGINAL_SIZE_HEADER, OVERHEAD_BYTES,
                                              TRUNCATED_HEADER, bounded, clip)


def _size(rec) -> int:
    return len(rec.key or b"") + len(rec.value or b"") + sum(len(k) + len(v or b"") for k, v in rec.headers)


def test_a_small_value_is_kept_whole_with_its_headers() -> None:
    rec = bounded("dlq", b"k", b"value", [("a", b"1")], max_bytes=10_000, timestamp=5)
    assert rec == ("dlq", b"k", b"value", 5, [("a", b"1")])


def test_a_large_value_is_cut_to_fit_and_says_so() -> None:
    value = bytes(range(256)) * 8000  # 2,048,000 bytes
    headers = [("reason", b"x" * 300)]
    rec = bounded("dlq", b"key", value, headers, max_bytes=1_000_000)
    h = dict(rec.headers)
    assert h[TRUNCATED_HEADER] == b"true"
    assert h[ORIGINAL_SIZE_HEADER] == b"2048000"
    assert h[DIGEST_HEADER] == hashlib.sha256(value).hexdigest().encode()
    assert value.startswith(rec.value) and len(rec.value) > 1_000_000 - 2 * OVERHEAD_BYTES
    assert _size(rec) <= 1_000_000 - OVERHEAD_BYTES + 200  # the added headers fit the reserve
    assert rec.headers[0] == ("reason", b"x" * 300)  # original headers first, untouched


def test_key_and_headers_larger_than_the_limit_leave_an_empty_value() -> None:
    rec = bounded("dlq", b"k" * 5000, b"v" * 100, [], max_bytes=2000)
    assert rec.value == b"" and dict(rec.headers)[ORIGINAL_SIZE_HEADER] == b"100"


def test_a_null_value_stays_null() -> None:
    assert bounded("dlq", None, None, [], max_bytes=10).value is None


def test_clip_says_how_much_was_cut() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("a" * 20, 5) == "aaaaa… (15 more characters)"
