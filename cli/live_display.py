"""The display on a terminal: the board (an overall row and one row per file in flight)
redrawn in place, and each finished file's line printed above it."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from evio_fetch.cli.board import Board, Clock
from evio_fetch.cli.finished_lines import live_lines
from evio_fetch.engine.model import FileResult, FileSpec, PlanItem
from evio_fetch.engine.subjects import about

REFRESH_PER_SECOND = 5


class LiveDisplay:
    """On a terminal: an overall row and one row per file in flight, redrawn in place;
    each finished file prints one line above the board."""

    def __init__(
        self,
        console: Console,
        *,
        clock: Clock = time.monotonic,
        auto_refresh: bool = True,
    ) -> None:
        self._console = console
        self._board = Board(clock)
        self._live = Live(
            console=console,
            get_renderable=self.frame,
            auto_refresh=auto_refresh,
            refresh_per_second=REFRESH_PER_SECOND,
            # The board is scaffolding: when the run ends the finished lines and the
            # summary are what stay on screen.
            transient=True,
            # stdout may carry the --json document: never draw into it.
            redirect_stdout=False,
            redirect_stderr=True,
        )

    def frame(self) -> RenderableType:
        """The board as it would be drawn now (rich measures it at draw time)."""
        return self._board

    def __enter__(self) -> Self:
        self._live.start(refresh=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.stop()

    def planned(self, plan: list[PlanItem]) -> None:
        with self._board.lock:
            self._board.plan(plan)

    def started(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        with self._board.lock:
            self._board.start(spec, name, size, done)

    def advanced(self, spec: FileSpec, done: int) -> None:
        with self._board.lock:
            self._board.advance(spec, done)

    def retrying(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        with self._board.lock:
            self._board.retry(spec, attempt, of, reason, pause)

    def verifying(self, spec: FileSpec) -> None:
        with self._board.lock:
            self._board.verify(spec)

    def warned(self, spec: FileSpec, message: str) -> None:
        line = Text(f"! {about(spec.label, message)}", style="yellow")
        self._console.print(line, soft_wrap=True)

    def finished(self, result: FileResult) -> None:
        with self._board.lock:
            name = self._board.finish(result)
        # Printed outside the lock: printing waits for rich's refresh, which needs the lock.
        for text, may_wrap in live_lines(result, self._console.width, name):
            if may_wrap:
                self._console.print(text, soft_wrap=True)
            else:
                self._console.print(text, no_wrap=True, overflow="ellipsis")
