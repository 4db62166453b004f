"""The user pool: who makes the transactions, and the rows of the `users` table.

One deterministic pool serves both commands: `produce users` writes it to the users
topic, `produce transactions` draws each record's `User` from it, so the KSQL join
`LEFT JOIN users` finds every user. The same `(size, seed)` always gives the same pool
(the default seed is fixed for that reason). Names, cities and regions are invented;
about one user in six lives in a `Premium …` city (the premium segment the KSQL
statements can filter on with `CITY LIKE 'Premium%'`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudstream.producers.defaults import DEFAULT_POOL_SEED, DEFAULT_POOL_SIZE
from fraudstream.producers.errors import ProducerConfigError

PREMIUM_SHARE = 1 / 6
_BLOCK = 1024

_FIRST = {
    "F": ["Anna", "Maria", "Sofia", "Emma", "Lena", "Julia", "Clara", "Ines", "Nora", "Lea",
          "Mia", "Laura", "Eva", "Hanna", "Sara", "Elif", "Chloe", "Alice", "Marta", "Zoe"],
    "M": ["Kai", "Hans", "Lukas", "Jonas", "Paul", "Felix", "Leon", "Noah", "Elias", "Ben",
          "Tom", "David", "Marco", "Luca", "Omar", "Jan", "Hugo", "Max", "Emil", "Theo"],
}
_LAST = ["Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Rossi", "Dubois", "Martin", "Garcia", "Novak", "Jansen",
         "Peeters", "Nielsen", "Kowalski", "Silva", "Costa", "Moreau", "Lambert", "Horvat"]
# (city, region) pairs; region is the sales region used for reporting.
_CITIES = [
    ("Munich", "South"), ("Stuttgart", "South"), ("Nuremberg", "South"), ("Augsburg", "South"),
    ("Berlin", "East"), ("Leipzig", "East"), ("Dresden", "East"), ("Rostock", "East"),
    ("Hamburg", "North"), ("Bremen", "North"), ("Hanover", "North"), ("Kiel", "North"),
    ("Cologne", "West"), ("Dusseldorf", "West"), ("Dortmund", "West"), ("Essen", "West"),
    ("Frankfurt", "Central"), ("Kassel", "Central"), ("Erfurt", "Central"), ("Mainz", "Central"),
]


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    city: str
    gender: str
    region: str

    def value(self) -> dict[str, str]:
        """The table row as the Avro schema `user` names it (the id is the Kafka key)."""
        return {"NAME": self.name, "CITY": self.city, "GENDER": self.gender, "REGION": self.region}


class UserPool:
    """`size` users, reproducible from `seed`; ids are `U000001`, `U000002`, …"""

    def __init__(self, size: int = DEFAULT_POOL_SIZE, seed: int = DEFAULT_POOL_SEED) -> None:
        if size < 1:
            raise ProducerConfigError(f"the user pool needs at least one user, got {size}")
        self.size, self.seed = size, seed
        # Drawn in blocks of 1024 users, each block from its own seeded stream, so a
        # smaller pool is a prefix of a larger one with the same seed.
        blocks = [self._block(seed, b) for b in range(-(-size // _BLOCK))]
        genders, first_idx, last_idx, city_idx, premium = (
            np.concatenate([blk[k] for blk in blocks])[:size] for k in range(5)
        )
        self.ids = np.array([f"U{i:06d}" for i in range(1, size + 1)])
        self.users = [
            User(
                user_id=str(self.ids[i]),
                name=f"{_FIRST[str(genders[i])][first_idx[i]]} {_LAST[last_idx[i]]}",
                city=("Premium " if premium[i] else "") + _CITIES[city_idx[i]][0],
                gender=str(genders[i]),
                region=_CITIES[city_idx[i]][1],
            )
            for i in range(size)
        ]

    @staticmethod
    def _block(seed: int, block: int) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng([seed, 0x05E5, block])
        return (
            rng.choice(np.array(["F", "M"]), size=_BLOCK),
            rng.integers(0, 20, size=_BLOCK),
            rng.integers(0, len(_LAST), size=_BLOCK),
            rng.integers(0, len(_CITIES), size=_BLOCK),
            rng.random(_BLOCK) < PREMIUM_SHARE,
        )

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        return iter(self.users)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Indices of the users making `n` transactions (uniform over the pool)."""
        return rng.integers(0, self.size, size=n)
