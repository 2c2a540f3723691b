"""Bandwidth pacing without I/O: a token bucket and the parser for rates such as ``20M``.

The bucket never sleeps itself; it tells its caller how long to wait. That keeps it usable
from any event loop or thread, and lets tests drive it with a fake clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Protocol

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
_RATE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMG]?)", re.IGNORECASE)


class BucketCell(Protocol):
    """Where a bucket keeps its state: in the object, or in memory shared by processes."""

    tokens: float
    stamp: float


class LocalCell:
    tokens: float = 0.0
    stamp: float = 0.0


class TokenBucket:
    """Allows ``rate`` bytes per second on average and ``burst`` bytes at once.

    The bucket starts full. A request may take more than is available: the bucket goes into
    debt and the caller waits until the debt is repaid, so chunks larger than ``burst``
    still pass, just later. Over any sequence of requests, the bytes the caller is allowed
    to send by time ``t`` never exceed ``rate * (t - t0) + burst``.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float],
        cell: BucketCell | None = None,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive finite number, not {rate!r}")
        if not (burst >= 0 and math.isfinite(burst)):
            raise ValueError(f"burst must be a non-negative finite number, not {burst!r}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        if cell is None:
            cell = LocalCell()
            cell.tokens, cell.stamp = self.burst, clock()
        self._cell = cell

    def take(self, n: float) -> float:
        """Take ``n`` bytes now; return the seconds to wait before sending them."""
        if n < 0:
            raise ValueError(f"cannot take a negative number of bytes ({n!r})")
        self._refill()
        self._cell.tokens -= n
        if self._cell.tokens >= 0:
            return 0.0
        return -self._cell.tokens / self.rate

    def _refill(self) -> None:
        now, cell = self._clock(), self._cell
        # A clock that steps backwards must not mint or destroy tokens.
        elapsed = max(0.0, now - cell.stamp)
        cell.stamp = max(now, cell.stamp)
        cell.tokens = min(self.burst, cell.tokens + elapsed * self.rate)


def parse_rate(text: str) -> int:
    """Bytes per second from ``1000``, ``500K``, ``20M`` or ``1.5G`` (powers of 1024)."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(_rate_message(text))
    number, unit = match.groups()
    value = int(float(number) * _UNITS[unit.upper()])
    if value < 1:
        raise ValueError(_rate_message(text))
    return value


def _rate_message(text: str) -> str:
    return (
        f"invalid rate {text!r}: expected a positive number of bytes per second, "
        "optionally followed by K, M or G (powers of 1024), e.g. 500K, 20M or 1.5G"
    )
