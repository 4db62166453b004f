"""The KAFKA format: one primitive per key or value, Kafka's own serializers' layout
(INT 4 bytes big-endian, BIGINT 8, DOUBLE IEEE-754 8, STRING UTF-8, BYTES raw)."""

from __future__ import annotations

import struct
from typing import Any, Sequence

from fraudstream.embedded.ksqldb.errors import SerdeError
from fraudstream.embedded.ksqldb.catalog.schema import Column
from fraudstream.embedded.ksqldb.serde.base import KeySerde, ValueSerde

_I = struct.Struct(">i")
_Q = struct.Struct(">q")
_D = struct.Struct(">d")


def primitive_codec(column: Column):
    base = column.type.base
    if base == "INTEGER":
        def dec(b: bytes):
            if len(b) != 4:
                raise SerdeError(f"Size of data received by IntegerDeserializer is not 4")
            return _I.unpack(b)[0]
        return dec, _I.pack
    if base == "BIGINT":
        def dec(b: bytes):
            if len(b) != 8:
                raise SerdeError(f"Size of data received by LongDeserializer is not 8")
            return _Q.unpack(b)[0]
        return dec, _Q.pack
    if base == "DOUBLE":
        def dec(b: bytes):
            if len(b) != 8:
                raise SerdeError(f"Size of data received by DoubleDeserializer is not 8")
            return _D.unpack(b)[0]
        return dec, lambda v: _D.pack(float(v))
    if base == "STRING":
        def dec(b: bytes):
            try:
                return b.decode("utf-8")
            except UnicodeDecodeError as e:
                raise SerdeError(f"invalid UTF-8: {e}") from e
        return dec, lambda v: v.encode("utf-8")
    if base == "BYTES":
        return bytes, bytes
    raise SerdeError(f"The 'KAFKA' format does not support type '{base}'")


class KafkaKeySerde(KeySerde):
    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__(columns)
        self._dec, self._enc = primitive_codec(columns[0])

    def decode(self, data: bytes | None) -> tuple:
        if data is None:
            return self.nulls
        return (self._dec(data),)

    def encode(self, values: Sequence[Any]) -> bytes | None:
        v = values[0]
        return None if v is None else self._enc(v)


class KafkaValueSerde(ValueSerde):
    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__(columns)
        self._dec, self._enc = primitive_codec(columns[0])

    def decode(self, data: bytes | None) -> list | None:
        if data is None:
            return None
        return [self._dec(data)]

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        if values is None or values[0] is None:
            return None
        return self._enc(values[0])
