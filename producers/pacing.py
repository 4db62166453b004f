"""Steady send rate: `--rate R` spreads records evenly instead of bursting per batch.

Record `k` of the run is due at `start + k / R`. Batches are generated and encoded ahead,
then handed to the producer in slices of what is due now — at most 5 ms worth of
records — so the stream is smooth at any rate. If the producer falls more than a second
behind (a pause, a slow broker), the schedule is re-anchored instead of catching up in
one burst. The same schedule gives each record its `Timestamp`: the wall-clock time it
is due, so timestamps are evenly spaced too.
"""

from __future__ import annotations

import math
import time

from fraudstream.producers.errors import ProducerConfigError

SLICE_SECONDS = 0.005
MAX_LAG_SECONDS = 1.0


class Pacer:
    def __init__(self, rate: float, clock=time.monotonic, wall=time.time, sleep=time.sleep) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ProducerConfigError(f"--rate must be a positive number of events/s, got {rate}")
        self.rate = float(rate)
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._start = clock()
        self._wall_start = wall()
        self.sent = 0
        self.reanchored = 0
        self._slice = max(1, int(self.rate * SLICE_SECONDS))

    def wall_time_of(self, k: int) -> float:
        """Wall-clock (epoch seconds) at which record `k` is due."""
        return self._wall_start + k / self.rate

    def take(self, available: int) -> int:
        """Block until the next record is due; return how many may be sent now (>= 1)."""
        due_at = self._start + self.sent / self.rate
        now = self._clock()
        if now < due_at:
            self._sleep(due_at - now)
            now = self._clock()
        elif now - due_at > MAX_LAG_SECONDS:
            # behind schedule: start a new schedule from here rather than burst
            self._start = now - self.sent / self.rate
            self._wall_start = self._wall() - self.sent / self.rate
            self.reanchored += 1
        due = int((now - self._start) * self.rate) + 1 - self.sent
        n = max(1, min(available, due, self._slice))
        self.sent += n
        return n
