"""What the user sees while a run goes on, and which display shows it.

Three observers of a run, one per situation: a live board on a terminal (live_display), one
plain line per file when the output is a log or a pipe, and failures only with ``--quiet``
(line_displays). ``make_display`` picks one. Everything that depends on time reads an
injected clock, so tests drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from rich.console import Console

from evio_fetch.cli.line_displays import PlainDisplay, QuietDisplay
from evio_fetch.cli.live_display import LiveDisplay
from evio_fetch.engine.observer import Observer


class Display(Observer, Protocol):
    """An observer that may draw while it is entered (``with display: run(...)``)."""

    def __enter__(self) -> Display: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def make_display(
    console: Console, *, quiet: bool, clock: Callable[[], float] = time.monotonic
) -> Display:
    if quiet:
        return QuietDisplay(console)
    # A dumb terminal cannot move the cursor back up, so a live board would smear.
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveDisplay(console, clock=clock)
    return PlainDisplay(console)
