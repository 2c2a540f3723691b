"""How many connections a file holds when the user did not say (``--segments`` left out).

Many servers cap each connection (Google Drive, most CDNs): there the total rate grows with
every connection added. On a fast link, or with a busy CPU, more connections bring nothing
and cost requests, memory and CPU. The sizer tells the two apart by trying: the file starts
with a few connections, and every interval the caller reports the bytes that arrived and
how many connections were receiving them. Once every connection asked for is receiving, one
sample is let pass and the next tenth of a second is measured; then:

- the rate rose by at least ``scaling`` of what the added connections would bring if each
  kept its own cap: the link scales, so the count grows again (``growth`` times), up to the
  ceiling;
- it rose by less, but by at least ``worth``: the link filled on the way; the count stays
  at what fills it, were each earlier connection's pace kept (two connections that doubled
  their rate as sixteen point to four);
- it did not rise: the count goes back to the previous one, and stays.

A throttle (429, 503) lowers the ceiling to what the server still serves, for good.

Pure: no clock, no I/O; the caller measures and feeds samples in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Without --segments, a file holds at most this many connections...
CEILING = 16
# ...or this many from Google Drive, where many requests risk the download quota.
DRIVE_CEILING = 4


@dataclass(frozen=True, slots=True)
class SizerRules:
    start: int = 2
    ceiling: int = CEILING
    # Each step multiplies the count by this: from two straight to 16, because every tenth
    # of a second spent measuring too few connections is lost on a capped link.
    growth: int = 8
    # Share of the ideal gain (every added connection as fast as the ones before) that shows
    # a per-connection cap.
    scaling: float = 0.5
    # A gain below this fraction is noise, not worth the connections that bring it.
    worth: float = 0.1
    # Samples let pass once every connection asked for is at work, then the seconds of
    # samples that make one measurement (servers send in bursts: a tenth of a second
    # smooths nginx's).
    settle: int = 1
    measure: float = 0.1


@dataclass(frozen=True, slots=True)
class _Measured:
    connections: int
    rate: float


class ConnectionSizer:
    """Feed it one sample per interval (``observe``); it answers how many connections the
    file should hold."""

    def __init__(self, rules: SizerRules) -> None:
        self.rules = rules
        self.ceiling = max(1, rules.ceiling)
        self.target = max(1, min(rules.start, self.ceiling))
        self.settled = False
        self._before: _Measured | None = None
        self._restart()

    def observe(self, active: int, count: int, seconds: float) -> int:
        """The count wanted after ``count`` bytes arrived in ``seconds`` with ``active``
        connections at work (receiving bytes)."""
        if self.settled:
            return self.target
        if active != self.target:
            # Connections are starting, leaving or out of work: not a measure of the count.
            self._restart()
            return self.target
        if self._skipped < self.rules.settle:
            self._skipped += 1
            return self.target
        self._bytes += count
        self._seconds += seconds
        if self._seconds >= self.rules.measure and self._seconds > 0:
            self._judge(_Measured(self.target, self._bytes / self._seconds))
        return self.target

    def throttled(self, serving: int) -> int:
        """The server refused connections and still serves ``serving``: never more again."""
        self.ceiling = max(1, min(self.ceiling, serving))
        self.target = min(self.target, self.ceiling)
        self.settled = True
        return self.target

    def _restart(self) -> None:
        self._skipped, self._bytes, self._seconds = 0, 0, 0.0

    def _judge(self, now: _Measured) -> None:
        before = self._before
        if before is None or now.rate >= before.rate * self._scaling_gain(before, now):
            self._grow(now)
        elif now.rate < before.rate * (1 + self.rules.worth):
            self._settle(before.connections)
        else:
            self._settle(_implied(before, now))

    def _scaling_gain(self, before: _Measured, now: _Measured) -> float:
        ideal = now.connections / before.connections
        return 1 + self.rules.scaling * (ideal - 1)

    def _grow(self, now: _Measured) -> None:
        if now.connections >= self.ceiling:
            self._settle(now.connections)
            return
        self._before = now
        self.target = min(self.ceiling, now.connections * max(2, self.rules.growth))
        self._restart()

    def _settle(self, count: int) -> None:
        self.target = count
        self.settled = True


def _implied(before: _Measured, now: _Measured) -> int:
    """The count a partial gain points to: each of ``before``'s connections kept its pace,
    and the link was full at ``before.rate * (now.rate / before.rate)``."""
    wanted = math.ceil(before.connections * now.rate / before.rate)
    return max(before.connections + 1, min(now.connections, wanted))


def ceiling(segments: int | None, drive: bool = False) -> int:
    """The most connections a file holds: ``--segments`` when given, else the sizer's
    ceiling (lower when Google Drive serves the file)."""
    if segments is not None:
        return segments
    return DRIVE_CEILING if drive else CEILING


def sizer_for(segments: int | None, drive: bool) -> ConnectionSizer | None:
    """A sizer when the count is left to evio-fetch (``segments`` None), else None."""
    if segments is not None:
        return None
    return ConnectionSizer(SizerRules(ceiling=ceiling(None, drive)))
