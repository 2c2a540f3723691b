"""How many connections a file holds when the user did not say (``--segments`` left out).

Many servers cap each connection (Google Drive, most CDNs): there the total rate grows with
every connection added. On a fast link, or with a busy CPU, more connections bring nothing
and cost requests, memory and CPU. The sizer tells the two apart by trying: the file starts
with a few connections, and every interval the caller reports the total rate it measured.
After each change, one sample is let pass (the new connections are still starting) and the
next ones are measured; then:

- the rate rose by at least ``scaling`` of what the added connections would bring if each
  kept its own cap: the link scales, so the count grows again (``growth`` times), up to the
  ceiling;
- it rose by less, but by at least ``worth``: the count stays;
- it did not rise: the count goes back to the previous one, and stays.

A throttle (429, 503) lowers the ceiling to what the server still serves, for good.

Pure: no clock, no I/O; the caller measures and feeds samples in.
"""

from __future__ import annotations

from dataclasses import dataclass

# Without --segments, a file holds at most this many connections...
CEILING = 16
# ...or this many from Google Drive, where many requests risk the download quota.
DRIVE_CEILING = 4


@dataclass(frozen=True, slots=True)
class SizerRules:
    start: int = 2
    ceiling: int = CEILING
    growth: int = 2
    # Share of the ideal gain (every added connection as fast as the ones before) that shows
    # a per-connection cap.
    scaling: float = 0.5
    # A gain below this fraction is noise, not worth the connections that bring it.
    worth: float = 0.1
    # Samples let pass after a change, then samples averaged into one measurement.
    settle: int = 1
    measure: int = 1


@dataclass(frozen=True, slots=True)
class _Measured:
    connections: int
    rate: float


class ConnectionSizer:
    """Feed it one rate sample per interval (``observe``); it answers how many connections
    the file should hold."""

    def __init__(self, rules: SizerRules) -> None:
        self.rules = rules
        self.ceiling = max(1, rules.ceiling)
        self.target = max(1, min(rules.start, self.ceiling))
        self.settled = False
        self._before: _Measured | None = None
        self._skipped = 0
        self._rates: list[float] = []

    def observe(self, active: int, rate: float) -> int:
        """The count wanted after a sample of ``rate`` bytes per second, measured over one
        interval with ``active`` connections at work."""
        if self.settled:
            return self.target
        if active != self.target:
            # Connections are starting, leaving or out of work: not a measure of the count.
            self._skipped, self._rates = 0, []
            return self.target
        if self._skipped < self.rules.settle:
            self._skipped += 1
            return self.target
        self._rates.append(rate)
        if len(self._rates) < self.rules.measure:
            return self.target
        self._judge(_Measured(self.target, sum(self._rates) / len(self._rates)))
        return self.target

    def throttled(self, serving: int) -> int:
        """The server refused connections and still serves ``serving``: never more again."""
        self.ceiling = max(1, min(self.ceiling, serving))
        self.target = min(self.target, self.ceiling)
        self.settled = True
        return self.target

    def _judge(self, now: _Measured) -> None:
        before = self._before
        if before is None or now.rate >= before.rate * self._scaling_gain(before, now):
            self._grow(now)
        elif now.rate < before.rate * (1 + self.rules.worth):
            self._settle(before.connections)
        else:
            self._settle(now.connections)

    def _scaling_gain(self, before: _Measured, now: _Measured) -> float:
        ideal = now.connections / before.connections
        return 1 + self.rules.scaling * (ideal - 1)

    def _grow(self, now: _Measured) -> None:
        if now.connections >= self.ceiling:
            self._settle(now.connections)
            return
        self._before = now
        self.target = min(self.ceiling, now.connections * max(2, self.rules.growth))
        self._skipped, self._rates = 0, []

    def _settle(self, count: int) -> None:
        self.target = count
        self.settled = True


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
