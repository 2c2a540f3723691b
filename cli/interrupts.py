"""Stopping a run on request: SIGTERM is taken as Ctrl-C, and both end in the same line."""

from __future__ import annotations

import signal
from types import FrameType

INTERRUPTED_LINE = "Interrupted: what was downloaded is kept; run the same command again to resume."


class sigterm_as_interrupt:
    """SIGTERM stops a run the way Ctrl-C does: workers stop, what was written is kept."""

    def __enter__(self) -> None:
        self._previous = signal.signal(signal.SIGTERM, self._raise)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
