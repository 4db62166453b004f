"""Serde contracts shared by all formats.

A key serde turns key bytes into a tuple with one value per key column (a NULL key is a
tuple of NULLs) and back. A value serde turns value bytes into a list with one value per
value column, or None for a NULL value (tombstone), and back. Failures raise
`SerdeError` with a reason fit for the processing log; they never stop a query.
"""

from __future__ import annotations

from typing import Any, Sequence

from fraudstream.embedded.ksqldb.errors import SerdeError
from fraudstream.embedded.ksqldb.catalog.schema import Column


class KeySerde:
    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self.nulls = tuple(None for _ in self.columns)

    def decode(self, data: bytes | None) -> tuple:
        raise NotImplementedError

    def encode(self, values: Sequence[Any]) -> bytes | None:
        raise NotImplementedError


class ValueSerde:
    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)

    def decode(self, data: bytes | None) -> list | None:
        raise NotImplementedError

    def encode(self, values: Sequence[Any] | None) -> bytes | None:
        raise NotImplementedError

    def decode_batch(self, datas: Sequence[bytes | None]) -> list[list | None | SerdeError]:
        """Decode many values; a failed one is returned as its SerdeError in place."""
        out: list[list | None | SerdeError] = []
        dec = self.decode
        for d in datas:
            try:
                out.append(dec(d))
            except SerdeError as e:
                out.append(e)
            except Exception as e:  # noqa: BLE001 - any decoder failure is a bad record
                out.append(SerdeError(f"{type(e).__name__}: {e}"))
        return out


class NoneKeySerde(KeySerde):
    """Format NONE: the source has no key columns; key bytes are ignored and not written."""

    def decode(self, data: bytes | None) -> tuple:
        return ()

    def encode(self, values: Sequence[Any]) -> bytes | None:
        return None


class ValueBackedKeySerde(KeySerde):
    """A key written by the format's value serde over the key columns (ksqlDB's
    KeySerdeFactory builds the key serde from the value serde of the same format): bytes
    decode to the columns' values, a NULL key to NULLs, and a single NULL column to no
    key bytes at all."""

    def __init__(self, columns: Sequence[Column], value_serde: ValueSerde) -> None:
        super().__init__(columns)
        self._value = value_serde

    def decode(self, data: bytes | None) -> tuple:
        if data is None:
            return self.nulls
        values = self._value.decode(data)
        return self.nulls if values is None else tuple(values)

    def encode(self, values: Sequence[Any]) -> bytes | None:
        if len(self.columns) == 1 and values[0] is None:
            return None
        return self._value.encode(list(values))
