"""``--max-speed``: one download budget shared by every connection of every worker process.

The bucket's two numbers live in shared memory behind one lock, so a worker that takes bytes
leaves fewer for the others. Readers wait before reading on, which lets TCP slow the server
down; what the sockets and the HTTP client buffer beyond the budget is kept small by
``buffer_sizes`` so the rate seen at the server stays within a few percent of the cap.
"""

from __future__ import annotations

import time
from multiprocessing.context import SpawnContext
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

from evio_fetch.engine.ratelimit import TokenBucket

# Bytes that may pass at once after an idle moment: a twentieth of a second at the cap.
BURST_SECONDS = 0.05
# The share of one second at the cap that all connections together may hold in buffers.
BUFFERED_SECONDS = 0.2
MIN_BUFFER = 4 * 1024
MAX_READ_BUFFER = 1024 * 1024


class _SharedCell:
    """The bucket's state as two doubles in shared memory (no lock of its own)."""

    def __init__(self, values: Any) -> None:
        self._values = values

    @property
    def tokens(self) -> float:
        return float(self._values[0])

    @tokens.setter
    def tokens(self, value: float) -> None:
        self._values[0] = value

    @property
    def stamp(self) -> float:
        return float(self._values[1])

    @stamp.setter
    def stamp(self, value: float) -> None:
        self._values[1] = value


class SharedPace:
    """Made by the parent and handed to each worker process as it is started.

    CLOCK_MONOTONIC is one clock for every process of the machine, so the stamp means the
    same in all of them. The bucket starts in debt by what the buffers will hold: the
    server fills them before the first byte is taken, and that counts against the cap too.
    """

    def __init__(self, rate: int, context: SpawnContext) -> None:
        self.rate = rate
        self._values: SynchronizedArray[float] = context.Array(
            "d", [-rate * BUFFERED_SECONDS, time.monotonic()]
        )
        self._bucket: TokenBucket | None = None

    def __getstate__(self) -> dict[str, Any]:
        # The bucket is a view onto the shared memory, rebuilt in each process.
        return {"rate": self.rate, "_values": self._values, "_bucket": None}

    def take(self, n: int) -> float:
        """Take ``n`` bytes from the shared budget; return the seconds to wait first."""
        if self._bucket is None:
            burst = max(MIN_BUFFER, self.rate * BURST_SECONDS)
            cell = _SharedCell(self._values.get_obj())
            self._bucket = TokenBucket(self.rate, burst, time.monotonic, cell)
        with self._values.get_lock():
            return self._bucket.take(n)


def buffer_sizes(rate: int, connections: int) -> tuple[int, int]:
    """(HTTP read buffer, socket receive buffer) per connection under a cap of ``rate``.

    The HTTP client holds up to twice its read buffer and the kernel doubles the receive
    buffer it is given, so one connection holds about four times the share computed here.
    """
    share = rate * BUFFERED_SECONDS / max(1, connections) / 4
    size = int(max(MIN_BUFFER, share))
    return min(size, MAX_READ_BUFFER), size
