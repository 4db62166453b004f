"""Late labels in the producers: delay distributions and the send schedule."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.producers.errors import ProducerConfigError
from fraudstream.producers.late_labels import DelaySpec, LateLabels, parse_duration


def test_durations():
    assert [parse_duration(t) for t in ("500ms", "5s", "2m", "1.5h", "3d")] == [0.5, 5, 120, 5400, 259200]
    for bad in ("5", "s", "-1s", "5 years"):
        with pytest.raises(ProducerConfigError, match="duration"):
            parse_duration(bad)


@pytest.mark.parametrize("text", ["", "gauss:5s", "uniform:5s", "uniform:9s..1s", "exp:0s", "lognormal:5s,x",
                                  "fixed:5"])
def test_bad_delay_specs_say_what_is_expected(text):
    with pytest.raises(ProducerConfigError, match="label-delay|duration"):
        DelaySpec.parse(text)


def test_samples_follow_the_distribution():
    rng = np.random.default_rng(0)
    n = 20_000
    assert (DelaySpec.parse("fixed:2s").sample(rng, 5) == 2.0).all()
    u = DelaySpec.parse("uniform:1s..3s").sample(rng, n)
    assert u.min() >= 1 and u.max() <= 3
    e = DelaySpec.parse("exp:10s").sample(rng, n)
    # the mean of n exponentials has standard deviation 10 / sqrt(n) = 0.07
    assert abs(e.mean() - 10) < 5 * 10 / np.sqrt(n)
    ln = DelaySpec.parse("lognormal:4s,0.5").sample(rng, n)
    # the median's standard error is about 1.25 * sigma * median / sqrt(n) = 0.018
    assert abs(np.median(ln) - 4) < 5 * 1.25 * 0.5 * 4 / np.sqrt(n)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_labels_go_out_when_due_and_in_due_order():
    clock = Clock()
    sent: list[tuple[list[int], list[int], int]] = []
    late = LateLabels(DelaySpec.parse("uniform:1s..10s"), seed=1,
                      send=lambda ids, labels, at: sent.append((ids.tolist(), labels.tolist(), at)), clock=clock)
    late.schedule(np.arange(100), np.arange(100) % 2, 1000.0)
    late.schedule(np.arange(100, 150), np.zeros(50), np.full(50, 1005.0))
    assert late.pump() == 0 and late.pending == 150
    clock.now = 1006.0
    first = late.pump()
    assert 0 < first < 150
    assert all(at == 1_006_000 for _, _, at in sent)
    clock.now = 1100.0
    assert late.pump() == 150 - first and late.pending == 0
    ids = [i for batch in sent for i in batch[0]]
    assert sorted(ids) == list(range(150))
    labels = dict(zip(ids, [v for batch in sent for v in batch[1]]))
    assert all(labels[i] == i % 2 for i in range(100)) and all(labels[i] == 0 for i in range(100, 150))


def test_drain_waits_for_the_last_label():
    clock = Clock()
    sent = []
    late = LateLabels(DelaySpec.parse("fixed:3s"), seed=0, send=lambda ids, labels, at: sent.extend(ids.tolist()),
                      clock=clock)
    late.schedule(np.array([7, 8]), np.array([1, 0]), 1000.0)

    def sleep(s: float) -> None:
        clock.now += s

    late.drain(sleep=sleep)
    assert sent == [7, 8] and clock.now >= 1003.0 and late.sent == 2
