"""Dead-letter records that the broker always accepts.

A dead letter carries the original record (key, value, headers) plus headers saying why
and where it came from. Copying the value as it is fails for a record near the size
limit: the dead letter is larger than the original by its headers, the dead-letter
topic may allow less than the input topic, and the producer refuses anything over its
own `message.max.bytes` (librdkafka: 1,000,000 bytes, below the broker's 1,048,588).
A dead letter that cannot be written used to abort its transaction over and over and
stall the partition (issue 16). So the value is cut to what fits, and the headers say
that it was cut, how large the original was and its SHA-256, so the original can still
be found (by its source coordinates) and checked.

Used by the scorer's dead-letter topic; the KSQL engine's processing-log entries carry
no value, their error message is capped with `clip`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from fraudstream.clients.transactional import Produce
from fraudstream.core.dead_letters import DIGEST_HEADER, ORIGINAL_SIZE_HEADER, TRUNCATED_HEADER

__all__ = ["DIGEST_HEADER", "ORIGINAL_SIZE_HEADER", "TRUNCATED_HEADER", "bounded", "clip", "topic_max_bytes"]

#: librdkafka's default `message.max.bytes`: the producer refuses larger records itself
PRODUCER_MAX_BYTES = 1_000_000
#: record batch header (61 bytes), record framing, varints and the three headers added on
#: truncation, with room to spare
OVERHEAD_BYTES = 1024

Headers = Sequence[tuple[str, bytes | None]]


def _headers_size(headers: Headers) -> int:
    return sum(len(k.encode()) + len(v or b"") + 8 for k, v in headers)


def bounded(topic: str, key: bytes | None, value: bytes | None, headers: Headers,
            max_bytes: int = PRODUCER_MAX_BYTES, timestamp: int | None = None) -> Produce:
    """A dead letter of at most about `max_bytes`: the value truncated when it would not
    fit, with its original size and digest in headers. Key and headers are kept whole
    (a dead letter whose key and headers alone do not fit is refused by the broker; the
    loop then skips the record, logged with its coordinates)."""
    headers = list(headers)
    if value is not None:
        room = max_bytes - OVERHEAD_BYTES - len(key or b"") - _headers_size(headers)
        if len(value) > room:
            headers += [
                (TRUNCATED_HEADER, b"true"),
                (ORIGINAL_SIZE_HEADER, str(len(value)).encode()),
                (DIGEST_HEADER, hashlib.sha256(value).hexdigest().encode()),
            ]
            value = value[:max(0, room)]
    return Produce(topic, key, value, timestamp, headers)


def clip(text: str, limit: int = 10_000) -> str:
    """A reason or error message short enough for any record: the start, and how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit} more characters)"


def topic_max_bytes(bootstrap_servers: str, topic: str, producer_max: int = PRODUCER_MAX_BYTES,
                    timeout: float = 10.0) -> int:
    """The largest record `topic` takes from our producer: the smaller of its
    `max.message.bytes` and the producer's limit (the producer's when the broker does not say)."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    try:
        admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout)
        entry = configs.get("max.message.bytes")
        if entry is not None and entry.value is not None:
            return min(producer_max, int(entry.value))
    except Exception:  # noqa: BLE001 - unknown: the producer's own limit still holds
        pass
    return producer_max
