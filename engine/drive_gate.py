"""One budget for every request to Google Drive, shared by all worker processes.

Drive throttles a client, not only a file: when it answers one connection with 429 or its
"automated queries" page, the pause it asks for and the fewer connections it will take apply to
every worker's requests. Three numbers in shared memory behind one lock (as ``--max-speed``'s
bucket): until when every Drive request waits, how many byte responses may be open at once (0:
no ceiling yet), and how many are open.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from multiprocessing.context import SpawnContext
from multiprocessing.sharedctypes import SynchronizedArray

# A throttle without Retry-After still pauses everyone this long.
DEFAULT_PAUSE = 1.0
# How often a request waiting for a free place looks again.
POLL = 0.05

_PAUSED_UNTIL, _CEILING, _OPEN = 0, 1, 2


class DriveGate:
    """Made by the parent and handed to each worker process as it is started. The clock is
    CLOCK_MONOTONIC, one clock for every process of the machine."""

    def __init__(self, context: SpawnContext) -> None:
        self._values: SynchronizedArray[float] = context.Array("d", [0.0, 0.0, 0.0])

    async def wait(self) -> None:
        """Wait out a pause Drive asked any worker for."""
        import asyncio  # noqa: PLC0415  (only workers wait: the parent makes the gate, fast)

        while (wait := self._pause_left()) > 0:
            await asyncio.sleep(wait)

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Hold one of the byte responses Drive takes at once, after any pause."""
        import asyncio  # noqa: PLC0415  (only workers wait: the parent makes the gate, fast)

        while (wait := self._try_enter()) is not None:
            await asyncio.sleep(wait)
        try:
            yield
        finally:
            with self._values.get_lock():
                self._values[_OPEN] = max(0.0, self._values[_OPEN] - 1)

    def throttled(self, pause: float | None) -> None:
        """Drive refused a request (whose place is given back by now): everyone waits
        ``pause`` seconds, and the ceiling falls to the responses still open."""
        with self._values.get_lock():
            until = time.monotonic() + (DEFAULT_PAUSE if pause is None else pause)
            self._values[_PAUSED_UNTIL] = max(self._values[_PAUSED_UNTIL], until)
            ceiling = self._values[_CEILING] or float("inf")
            self._values[_CEILING] = max(1.0, min(ceiling, self._values[_OPEN]))

    @property
    def ceiling(self) -> int | None:
        ceiling = int(self._values[_CEILING])
        return ceiling or None

    def _pause_left(self) -> float:
        with self._values.get_lock():
            return self._values[_PAUSED_UNTIL] - time.monotonic()

    def _try_enter(self) -> float | None:
        """None once a place is taken; else the seconds to wait before trying again."""
        with self._values.get_lock():
            paused = self._values[_PAUSED_UNTIL] - time.monotonic()
            if paused > 0:
                return paused
            ceiling = self._values[_CEILING]
            if ceiling and self._values[_OPEN] >= ceiling:
                return POLL
            self._values[_OPEN] += 1
            return None
