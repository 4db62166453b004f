"""The dataset's own labels, sent to `fraud_labels` later than their events.

Real fraud teams learn an event's label days after it was scored (a chargeback, an
analyst's review). `produce transactions --labels topic` replays that: each labelled
event's Class leaves the event (which then looks live, `Class` empty) and is sent as a
`fraud_labels` record (SOURCE `dataset`) once a delay drawn from `--label-delay` has
passed since the event was sent; `--labels both` keeps the Class in the event too.

The delay is a distribution (`DelaySpec`): `fixed:5s`, `uniform:1s..30s`, `exp:10s`
(exponential with that mean) or `lognormal:10s,1.0` (median, sigma of the log). Durations
take ms, s, m, h or d. Delays are drawn with NumPy from the run's seed, so a run is
reproducible.

Pending labels are kept as three NumPy arrays sorted by due time (an event's send time
plus its delay); `pump` sends whatever is due, between slices of events, through the
shared `fraudstream.clients.labels.LabelWriter`. At the end of a run the producer waits
until every pending label has been sent; an interrupted run reports how many labels were
still pending and never sent (nothing is dropped silently).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fraudstream.producers.defaults import DEFAULT_LABEL_DELAY as DEFAULT_DELAY
from fraudstream.producers.defaults import LABEL_MODES  # noqa: F401  (re-exported)
from fraudstream.producers.errors import ProducerConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*")


def parse_duration(text: str) -> float:
    """Seconds of '500ms', '5s', '2m', '1h', '3d' (a bare number is refused: say the unit)."""
    m = _DURATION.fullmatch(text)
    if m is None:
        raise ProducerConfigError(f"duration {text!r}: expected a number and a unit (ms, s, m, h, d), e.g. 5s")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class DelaySpec:
    """A distribution of label delays in seconds."""

    kind: str
    a: float
    b: float = 0.0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "DelaySpec":
        kind, _, rest = text.strip().partition(":")
        kind = kind.lower()
        usage = ("--label-delay: expected fixed:D, uniform:A..B, exp:MEAN or lognormal:MEDIAN,SIGMA "
                 f"(durations like 500ms, 5s, 2m, 1h, 3d), got {text!r}")
        try:
            if kind == "fixed":
                return cls("fixed", parse_duration(rest), text=text)
            if kind == "uniform":
                lo, sep, hi = rest.partition("..")
                if not sep:
                    raise ProducerConfigError(usage)
                a, b = parse_duration(lo), parse_duration(hi)
                if b < a:
                    raise ProducerConfigError(f"--label-delay {text!r}: the upper bound is below the lower one")
                return cls("uniform", a, b, text=text)
            if kind == "exp":
                mean = parse_duration(rest)
                if mean <= 0:
                    raise ProducerConfigError(f"--label-delay {text!r}: the mean must be positive")
                return cls("exp", mean, text=text)
            if kind == "lognormal":
                median, sep, sigma = rest.partition(",")
                s = float(sigma) if sep else 1.0
                med = parse_duration(median)
                if not (med > 0 and s >= 0 and math.isfinite(s)):
                    raise ProducerConfigError(f"--label-delay {text!r}: the median must be positive and "
                                              f"sigma >= 0")
                return cls("lognormal", med, s, text=text)
        except ValueError:
            raise ProducerConfigError(usage) from None
        raise ProducerConfigError(usage)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(n, self.a)
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b, n)
        if self.kind == "exp":
            return rng.exponential(self.a, n)
        return self.a * np.exp(self.b * rng.standard_normal(n))


class LateLabels:
    """Schedules labels at (send time + delay) and sends them when due.

    `send(ids, labels, at_ms)` hands a batch of due labels to the writer; it is the only
    side effect, so tests drive the schedule with a fake clock and a list.
    """

    def __init__(self, delay: DelaySpec, seed: int, send: Callable[[np.ndarray, np.ndarray, int], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.delay = delay
        self.rng = np.random.default_rng([seed, 0x1ABE1])
        self._send = send
        self._clock = clock
        self._due = np.empty(0, dtype=np.float64)
        self._ids = np.empty(0, dtype=np.int64)
        self._labels = np.empty(0, dtype=np.int8)
        self.scheduled = 0
        self.sent = 0

    @property
    def pending(self) -> int:
        return len(self._due)

    def schedule(self, ids: np.ndarray, labels: np.ndarray, sent_at: np.ndarray | float) -> None:
        """Labels of events sent at `sent_at` (epoch seconds, per event or one for all)."""
        n = len(ids)
        if n == 0:
            return
        due = np.asarray(sent_at, dtype=np.float64) + self.delay.sample(self.rng, n)
        due = np.concatenate([self._due, np.broadcast_to(due, (n,))])
        order = np.argsort(due, kind="stable")
        self._due = due[order]
        self._ids = np.concatenate([self._ids, np.asarray(ids, dtype=np.int64)])[order]
        self._labels = np.concatenate([self._labels, np.asarray(labels, dtype=np.int8)])[order]
        self.scheduled += n

    def pump(self) -> int:
        """Send every label due now; returns how many."""
        if not len(self._due):
            return 0
        now = self._clock()
        k = int(np.searchsorted(self._due, now, side="right"))
        if k == 0:
            return 0
        ids, labels = self._ids[:k], self._labels[:k]
        self._due, self._ids, self._labels = self._due[k:], self._ids[k:], self._labels[k:]
        self._send(ids, labels, int(now * 1000))
        self.sent += k
        return k

    def next_due_in(self) -> float | None:
        """Seconds until the next label is due (0 when overdue), None when nothing is pending."""
        if not len(self._due):
            return None
        return max(0.0, float(self._due[0]) - self._clock())

    def drain(self, sleep: Callable[[float], None] = time.sleep, tick: float = 0.05) -> None:
        """Send everything still pending, each when it is due."""
        while self.pending:
            wait = self.next_due_in()
            if wait:
                sleep(min(wait, tick * 20))
            self.pump()
