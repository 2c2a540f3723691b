"""How the loopback servers cut and pace response bodies under a bytes-per-second cap."""

from __future__ import annotations

import asyncio

from evio_fetch.engine.loopback.transports import ByTransport
from evio_fetch.engine.ratelimit import TokenBucket

KIB = 1024
DEFAULT_CHUNK = 256 * KIB
# A throttled response is sent in pieces of about 1/16 s of its rate, so pacing stays
# smooth at low rates instead of one large chunk followed by a long pause.
MIN_THROTTLED_PIECE = 16 * KIB
PACING_SLICES_PER_SECOND = 16


def piece_size(rate: int | None, chunk_size: int) -> int:
    """Bytes read and written at a time for a body sent at ``rate`` (None: unthrottled)."""
    if rate is None:
        return chunk_size
    return min(chunk_size, max(MIN_THROTTLED_PIECE, rate // PACING_SLICES_PER_SECOND))


def new_bucket(rate: int, piece: int) -> TokenBucket:
    """A bucket on the running loop's clock."""
    # A burst of one piece lets the first piece leave at once; after that, each waits.
    return TokenBucket(rate, piece, asyncio.get_running_loop().time)


class ConnectionPacer:
    """One bucket per connection, shared by the requests it carries, like Drive's cap."""

    def __init__(self) -> None:
        self._buckets: ByTransport[tuple[int, TokenBucket]] = ByTransport()

    def wait(
        self, transport: asyncio.BaseTransport | None, rate: int | None, n: int, piece: int
    ) -> float:
        """Seconds to wait before sending ``n`` bytes on this connection."""
        if rate is None or transport is None:
            return 0.0
        known = self._buckets.get(transport)
        if known is None or known[0] != rate:
            known = (rate, new_bucket(rate, piece))
            self._buckets.put(transport, known)
        return known[1].take(n)
