"""The state of a run as the live board shows it: the overall row and a row per file in
flight, kept as running sums and turned into text (columns.Cells) when a frame is drawn."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult

from evio_fetch.cli.columns import NO_VALUE, Cells, board, percent
from evio_fetch.cli.rate_meter import RateMeter
from evio_fetch.cli.row_names import RowNames
from evio_fetch.cli.units import clock_duration, human_bytes, human_rate
from evio_fetch.engine.model import FileResult, FileSpec, PlanItem
from evio_fetch.engine.totals import RunTotals

Clock = Callable[[], float]


# Cells left free at the end of the rows (see __rich_console__).
ECHO_ROOM = len("^C")
# How long a file taken up again says so, in place of its columns.
RESUME_NOTE_SECONDS = 2.0


@dataclass(frozen=True)
class _Retry:
    attempt: int
    of: int
    reason: str
    until: float  # when the next attempt starts

    def note(self, now: float) -> str:
        said = f"retrying {self.attempt}/{self.of}: {self.reason}"
        wait = math.ceil(self.until - now)
        return f"{said}, next in {wait} s" if wait > 0 else said


@dataclass
class _Row:
    # Where the file lands (or its label, before that is known): the row's name is taken
    # from it.
    path: str
    size: int | None
    done: int
    meter: RateMeter
    began: float
    # Bytes an earlier run left, taken up by this one.
    resumed: int = 0
    verifying: bool = False
    # Set while a failed request waits to be tried again, until bytes flow after it.
    retry: _Retry | None = None

    def note(self, now: float) -> str | None:
        """What the row says instead of its columns, if anything."""
        if self.retry is not None:
            return self.retry.note(now)
        if self.resumed and now - self.began < RESUME_NOTE_SECONDS:
            return f"resuming from {human_bytes(self.resumed)}"
        return None


class Board:
    """The rows of the board.

    Observer calls arrive on the run's thread while rich redraws from its refresh thread,
    so every read and write holds ``lock``. Totals are kept as running sums: with thousands
    of files a frame must not walk the whole plan.
    """

    def __init__(self, clock: Clock) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        # The widest each column of the board has been (see columns.layout).
        self.widths: dict[str, int] = {}
        # The run's files and bytes, as the engine keeps them for every display.
        self.totals = RunTotals()
        # Only files in flight have rows: those downloading or waiting to be retried (at most
        # the concurrency) and those being checked and moved into place, for the moment that
        # takes.
        self.rows: dict[int, _Row] = {}
        self.overall: RateMeter | None = None
        self.names = RowNames()

    def plan(self, plan: list[PlanItem]) -> None:
        self.totals.planned(plan)
        fetched = [item.spec for item in plan if item.action != "skip"]
        # Names are told apart among every file that may get a row, so a row's name does not
        # change as other rows come and go.
        self.names.add(spec.target for spec in fetched if spec.target is not None)

    def start(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        now = self.clock()
        self.totals.started(spec, size, done)
        if self.overall is None:
            # Start the overall rate with the first transfer, not with planning, which may
            # have spent seconds hashing present files.
            self.overall = RateMeter(now)
        if name:
            self.names.add([name])
        # A file that started over keeps the most it had, so the bar never runs back.
        old = self.rows.get(spec.index)
        most = max(done, old.done) if old is not None else done
        self.rows[spec.index] = _Row(name or spec.label, size, most, RateMeter(now), now, done)

    def retry(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        """A request of the file waits ``pause`` seconds to be tried again: its row says so
        (a file that never started gets a row for it)."""
        now = self.clock()
        row = self.rows.get(spec.index)
        if row is None:
            row = _Row(spec.target or spec.label, spec.size, 0, RateMeter(now), now)
            self.rows[spec.index] = row
        row.retry = _Retry(attempt, of, reason, now + pause)

    def advance(self, spec: FileSpec, done: int) -> None:
        added = self.totals.advanced(spec, done)
        row = self.rows.get(spec.index)
        if row is None or done <= row.done:
            return
        now = self.clock()
        row.meter.add(done - row.done, now)
        if self.overall is not None:
            self.overall.add(added, now)
        row.done = done
        if row.retry is not None and now >= row.retry.until:
            row.retry = None  # bytes flow again after the pause

    def verify(self, spec: FileSpec) -> None:
        row = self.rows.get(spec.index)
        if row is not None:
            row.verifying = True

    def finish(self, result: FileResult) -> str:
        """Take the file's row away; returns the name it had (its target's, if it had none)."""
        self.totals.finished(result)
        row = self.rows.pop(result.spec.index, None)
        path = row.path if row is not None else result.target or result.spec.target
        return self.names.name(path) if path else ""

    # Drawing -------------------------------------------------------------------------

    def snapshot(self) -> tuple[list[Cells], float]:
        with self.lock:
            now = self.clock()
            cells = [self._overall_cells(now)]
            cells.extend(self._row_cells(row, now) for row in self.rows.values())
        return cells, now

    def _overall_cells(self, now: float) -> Cells:
        # What this run fetches: files the plan found in place are no part of its bar.
        totals = self.totals
        done, total = totals.fetched.done, totals.fetched.total or 0
        known = totals.fetched.total is not None
        rate = self.overall.rate(now) if self.overall is not None else None
        if known and total > 0:
            fraction = min(1.0, done / total)
        else:
            # Without every size, progress in files is the only honest fraction.
            files_total = totals.files_total
            fraction = totals.files_done / files_total if files_total else 0.0
        eta: float | None = None
        if known and total > 0:
            eta = 0.0 if done >= total else (total - done) / rate if rate else None
        return Cells(
            name=f"{totals.files_done}/{totals.files_total} files",
            fraction=fraction,
            percent=percent(fraction),
            done=human_bytes(done),
            size=human_bytes(total) if known else None,
            speed=human_rate(rate) if rate is not None else NO_VALUE,
            eta=clock_duration(eta),
            style="bold",
        )

    def _row_cells(self, row: _Row, now: float) -> Cells:
        name = self.names.name(row.path)
        if row.size is None:
            fraction = None
        elif row.size == 0:
            fraction = 1.0
        else:
            fraction = min(1.0, row.done / row.size)
        size = human_bytes(row.size) if row.size is not None else None
        if row.verifying:
            return Cells(name, 1.0, "100%", human_bytes(row.done), size, "verifying", "")
        note = row.note(now)
        rate = row.meter.rate(now)
        eta = (row.size - row.done) / rate if row.size is not None and rate else None
        return Cells(
            name=name,
            fraction=fraction,
            percent=percent(fraction),
            done=human_bytes(row.done),
            size=size,
            speed=human_rate(rate) if rate is not None else NO_VALUE,
            eta=clock_duration(eta),
            note=note,
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cells, now = self.snapshot()
        # The cursor rests after the last row, where a terminal echoes the "^C" of a Ctrl-C:
        # rows leave room for it, or it would wrap onto a line the board cannot clear.
        yield board(cells, max(1, options.max_width - ECHO_ROOM), now, self.widths)
