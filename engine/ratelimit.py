"""Bandwidth pacing without I/O: a token bucket and the parser for rates such as ``20M``.

The bucket never sleeps itself; it tells its caller how long to wait. That keeps it usable
from any event loop or thread, and lets tests drive it with a fake clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

# A number, an optional SI prefix, ``i`` for binary units, ``B`` (or a ``b`` refused as
# bits) and an optional ``/s``: ``20``, ``20M``, ``20 MB/s``, ``20MiB/s``.
_RATE = re.compile(
    r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmg]?)(i?)(b?)(?:/s)?", re.IGNORECASE | re.ASCII
)
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3}
# Far beyond any link; it keeps the bucket's arithmetic in floats' exact range.
MAX_RATE = 2**62


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
    """Bytes per second from a rate as people write it: ``1000``, ``500K``, ``20M``,
    ``20MB/s``, ``20MiB/s``, ``1.5G``.

    The bare letters K, M, G and the binary units KiB, MiB, GiB are powers of 1024 (the
    units evio-fetch prints); kB (or KB), MB and GB are powers of 1000. A lowercase ``b``
    means bits to most people, so ``20Mb`` is refused rather than read as bytes.
    """
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(_rate_message(text))
    number, prefix, binary, byte = match.groups()
    if byte == "b":
        raise ValueError(_bits_message(text, number, prefix.upper()))
    if binary and not prefix:
        raise ValueError(_rate_message(text))
    decimal = bool(prefix) and bool(byte) and not binary
    factor = (1000 if decimal else 1024) ** _POWERS[prefix.upper()]
    # Decimal, not float: 4.35MB is 4350000 bytes, not 4349999.
    value = int(Decimal(number) * factor)
    if not 1 <= value <= MAX_RATE:
        raise ValueError(_rate_message(text))
    return value


def _bits_message(text: str, number: str, prefix: str) -> str:
    bytes_ = f"{number}{prefix}B or {number}{prefix}iB" if prefix else f"{number}B"
    return (
        f"invalid rate {text!r}: a lowercase b means bits, and rates are in bytes per second; "
        f"write {bytes_}"
    )


def _rate_message(text: str) -> str:
    return (
        f"invalid rate {text!r}: expected bytes per second from 1 B/s, such as 500K, 20M, "
        "20MB/s, 20MiB/s or 1.5G (K, M, G, KiB, MiB, GiB: powers of 1024; kB, MB, GB: "
        "powers of 1000)"
    )
