"""Rate pacing for the sinks that send generated records: a steady average rate with bursts."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Pacer:
    """How many events may have been sent `elapsed` seconds into a run at `rate` events/s on
    average: steady, with a burst at `burst_factor` times the base rate for `burst_s`
    seconds of every `period_s`."""

    rate: float
    period_s: float = 10.0
    burst_s: float = 1.0
    burst_factor: float = 3.0

    def allowed(self, elapsed: float) -> float:
        if self.rate <= 0:
            return float("inf")
        # Base rate chosen so that a whole period averages `rate`.
        base = self.rate * self.period_s / (self.period_s + (self.burst_factor - 1) * self.burst_s)
        periods, into = divmod(elapsed, self.period_s)
        in_burst = min(into, self.burst_s)
        per_period = base * (self.period_s + (self.burst_factor - 1) * self.burst_s)
        return periods * per_period + base * (into + (self.burst_factor - 1) * in_burst)
