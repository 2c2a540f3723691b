"""Speed as the display shows it: bytes per second smoothed over a few seconds of reports."""

from __future__ import annotations

import math

# Workers report in batches a few times a second, and segments finish unevenly: averaging
# over ~3 s hides that jitter while still following a real change within a few seconds.
SMOOTHING_SECONDS = 3.0
# Below this much observed time a rate is mostly noise (the first batch after a probe).
WARMUP_SECONDS = 0.5
# A report a little late is batching, not a stall; only after this does the rate decay.
STALL_GRACE_SECONDS = 1.0


class RateMeter:
    """Bytes per second, exponentially weighted over time rather than over reports.

    Weighting by elapsed time makes a burst (two batches arriving at once) move the rate by
    only ``bytes / SMOOTHING_SECONDS``, however short the gap. The weight of real
    observations is tracked separately so the first seconds are not biased towards zero.
    """

    def __init__(self, now: float, smoothing: float = SMOOTHING_SECONDS) -> None:
        self._tau = smoothing
        self._last = now
        self._rate = 0.0
        self._weight = 0.0

    def add(self, nbytes: int, now: float) -> None:
        dt = now - self._last
        if dt <= 0:
            # Same instant as the last report: the limit of spreading nbytes over dt -> 0.
            self._rate += nbytes / self._tau
            return
        keep = math.exp(-dt / self._tau)
        self._rate = self._rate * keep + (nbytes / dt) * (1.0 - keep)
        self._weight = self._weight * keep + (1.0 - keep)
        self._last = now

    def rate(self, now: float) -> float | None:
        """The smoothed rate, or None while too little has been observed to say."""
        rate, weight = self._rate, self._weight
        silent = now - self._last - STALL_GRACE_SECONDS
        if silent > 0:
            # Nothing arrived for a while: fold in the silence so a stall shows as slowing.
            keep = math.exp(-silent / self._tau)
            rate *= keep
            weight = weight * keep + (1.0 - keep)
        if weight < 1.0 - math.exp(-WARMUP_SECONDS / self._tau):
            return None
        return rate / weight
