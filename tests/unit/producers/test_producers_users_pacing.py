"""User pool determinism / schema fit, and the steady pacing of --rate."""

from __future__ import annotations

import fastavro
import numpy as np
import pytest

from fraudstream.core import schemas
from fraudstream.producers.errors import ProducerConfigError
from fraudstream.producers.pacing import Pacer
from fraudstream.producers.users import UserPool


def test_pool_is_deterministic_and_prefix_stable():
    a, b = UserPool(300, seed=7), UserPool(300, seed=7)
    assert a.users == b.users
    assert UserPool(2000, seed=7).users[:300] == a.users  # --users N keeps the first N
    assert UserPool(300, seed=8).users != a.users


def test_pool_content():
    pool = UserPool(1000)
    ids = [u.user_id for u in pool]
    assert len(set(ids)) == 1000 and ids[0] == "U000001" and ids[-1] == "U001000"
    premium = [u for u in pool if u.city.startswith("Premium ")]
    assert 0.10 < len(premium) / 1000 < 0.25
    assert {u.gender for u in pool} == {"F", "M"}
    assert {u.region for u in pool} == {"North", "South", "East", "West", "Central"}
    assert all(u.name and " " in u.name for u in pool)


def test_pool_rows_fit_the_avro_schema():
    parsed = fastavro.parse_schema(schemas.load("user"))
    for user in UserPool(50):
        assert fastavro.validate(user.value(), parsed)
        assert set(user.value()) == {f["name"] for f in schemas.load("user")["fields"]}


def test_draw_covers_the_pool():
    pool = UserPool(20)
    idx = pool.draw(np.random.default_rng(0), 10_000)
    assert idx.min() == 0 and idx.max() == 19
    assert set(pool.ids[idx]) == set(pool.ids)


def test_empty_pool_is_an_error():
    with pytest.raises(ProducerConfigError):
        UserPool(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_is_steady_not_bursty():
    fake = FakeClock()
    pacer = Pacer(1000.0, clock=fake.clock, wall=lambda: 1e9, sleep=fake.sleep)
    sent, slices = 0, []
    while sent < 3000:
        n = pacer.take(3000 - sent)
        slices.append((fake.now, n))
        sent += n
    assert max(n for _, n in slices) <= 5  # never more than 5 ms worth at once
    elapsed = fake.now - 100.0
    assert 2.9 < elapsed < 3.01  # 3000 records at 1000/s
    # every record leaves no earlier than its due time
    done = 0
    for t, n in slices:
        assert t >= 100.0 + done / 1000.0 - 1e-9
        done += n


def test_pacer_reanchors_instead_of_bursting_after_a_stall():
    fake = FakeClock()
    pacer = Pacer(100.0, clock=fake.clock, wall=lambda: 1e9, sleep=fake.sleep)
    pacer.take(1)
    fake.now += 10.0  # a 10 s stall: 1000 records "due"
    assert pacer.take(1000) == 1  # not a burst of 1000
    assert pacer.reanchored == 1


def test_pacer_timestamps_follow_the_schedule():
    pacer = Pacer(4.0, clock=lambda: 0.0, wall=lambda: 1000.0, sleep=lambda s: None)
    assert [pacer.wall_time_of(k) for k in range(3)] == [1000.0, 1000.25, 1000.5]


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_pacer_rejects_bad_rates(rate):
    with pytest.raises(ProducerConfigError):
        Pacer(rate)
