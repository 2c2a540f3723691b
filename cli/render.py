"""What the user sees while a run goes on (SPEC §7).

Three observers of a run, one per situation: a live board on a terminal, one plain line per
file when the output is a log or a pipe, and failures only with ``--quiet``. ``make_display``
picks one. Everything that depends on time reads an injected clock, so tests drive it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from evio_fetch.cli.units import clock_duration, human_bytes, human_duration, human_rate
from evio_fetch.engine.model import FileResult, FileSpec, PlanItem
from evio_fetch.engine.observer import NullObserver, Observer

Clock = Callable[[], float]


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


# Speed -----------------------------------------------------------------------------------

# Workers report in batches a few times a second, and segments finish unevenly: averaging
# over ~3 s hides that jitter while still following a real change within a few seconds.
SMOOTHING_SECONDS = 3.0
# Below this much observed time a rate is mostly noise (the first batch after a probe).
WARMUP_SECONDS = 0.5
# A report a little late is batching, not a stall; only after this does the rate decay.
STALL_GRACE_SECONDS = 1.0


class RateMeter:
    """Bytes per second, exponentially weighted over time rather than over reports.

    Weighting by elapsed time makes a burst (two batches arriving at once) move the rate by
    only ``bytes / SMOOTHING_SECONDS``, however short the gap. The weight of real
    observations is tracked separately so the first seconds are not biased towards zero.
    """

    def __init__(self, now: float, smoothing: float = SMOOTHING_SECONDS) -> None:
        self._tau = smoothing
        self._last = now
        self._rate = 0.0
        self._weight = 0.0

    def add(self, nbytes: int, now: float) -> None:
        dt = now - self._last
        if dt <= 0:
            # Same instant as the last report: the limit of spreading nbytes over dt -> 0.
            self._rate += nbytes / self._tau
            return
        keep = math.exp(-dt / self._tau)
        self._rate = self._rate * keep + (nbytes / dt) * (1.0 - keep)
        self._weight = self._weight * keep + (1.0 - keep)
        self._last = now

    def rate(self, now: float) -> float | None:
        """The smoothed rate, or None while too little has been observed to say."""
        rate, weight = self._rate, self._weight
        silent = now - self._last - STALL_GRACE_SECONDS
        if silent > 0:
            # Nothing arrived for a while: fold in the silence so a stall shows as slowing.
            keep = math.exp(-silent / self._tau)
            rate *= keep
            weight = weight * keep + (1.0 - keep)
        if weight < 1.0 - math.exp(-WARMUP_SECONDS / self._tau):
            return None
        return rate / weight


# Text helpers ----------------------------------------------------------------------------

ELLIPSIS = "…"


def _tail(text: str, width: int) -> str:
    """The longest end of ``text`` that fits in ``width`` cells."""
    used = 0
    start = len(text)
    while start > 0 and used + cell_len(text[start - 1]) <= width:
        start -= 1
        used += cell_len(text[start])
    return text[start:]


def shorten(text: str, width: int) -> str:
    """Fit ``text`` in ``width`` cells by cutting its middle: dataset names share prefixes
    and differ at the end (``…_rpm_2.dat``), so both ends carry meaning."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    tail_width = keep // 2
    head = set_cell_size(text, keep - tail_width).rstrip(" ")
    tail = _tail(text, width - 1 - cell_len(head))
    return f"{head}{ELLIPSIS}{tail}"


def _rate_of(nbytes: int, seconds: float) -> str | None:
    return human_rate(nbytes / seconds) if nbytes > 0 and seconds > 0 else None


def _failure_parts(result: FileResult) -> tuple[str, str]:
    if result.failure is None:
        return "failed without a reason", ""
    return result.failure.message, result.failure.hint


# Said of a file whose size nothing stated: it is what arrived before the server closed.
UNVERIFIED = "size not verified"


def plain_line(result: FileResult) -> str | None:
    """The one log line for a finished file; None for skipped entries (the summary counts them)."""
    label = result.spec.label
    if result.outcome == "downloaded":
        line = f"downloaded {label} {human_bytes(result.bytes)} in {human_duration(result.seconds)}"
        rate = _rate_of(result.bytes, result.seconds)
        line = f"{line} ({rate})" if rate else line
        return line if result.size_verified else f"{line}, {UNVERIFIED}"
    if result.outcome == "present":
        return f"present {label}"
    if result.outcome == "failed":
        message, hint = _failure_parts(result)
        return f"FAILED {label}: {message}" + (f" (hint: {hint})" if hint else "")
    return None


def _print_plain(console: Console, line: str, style: str = "") -> None:
    # soft_wrap: a log line stays one line whatever the console thinks its width is, so
    # grep finds it whole and a URL in it stays copyable.
    console.print(Text(line, style=style), soft_wrap=True)


# Plain and quiet -------------------------------------------------------------------------


class _LineDisplay(NullObserver):
    """The non-live displays: progress is ignored; warnings print one line each."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def warned(self, spec: FileSpec, message: str) -> None:
        _print_plain(self._console, f"warning: {spec.label}: {message}", "yellow")


class PlainDisplay(_LineDisplay):
    """No animation: one line per finished or failed file, for logs and pipes."""

    def finished(self, result: FileResult) -> None:
        line = plain_line(result)
        if line is not None:
            _print_plain(self._console, line, "red" if result.outcome == "failed" else "")


class QuietDisplay(_LineDisplay):
    """``--quiet``: failures and warnings only, one line each."""

    def finished(self, result: FileResult) -> None:
        if result.outcome == "failed":
            _print_plain(self._console, plain_line(result) or "", "red")


# Live board ------------------------------------------------------------------------------


@dataclass
class _Row:
    name: str
    size: int | None
    done: int
    meter: RateMeter
    verifying: bool = False


@dataclass(frozen=True)
class _Cells:
    """One row of the board as text, taken under the lock and drawn outside it."""

    name: str
    fraction: float | None  # None: size unknown, the bar pulses
    percent: str
    done: str
    size: str | None
    speed: str
    eta: str
    style: str = ""

    @property
    def bytes_full(self) -> str:
        return self.done if self.size is None else f"{self.done}/{self.size}"


@dataclass(frozen=True)
class _Layout:
    name: int
    bar: int  # 0: no bar
    bytes_full: bool
    bytes: bool
    speed: bool
    eta: bool


NAME_MIN = 12
NAME_MAX = 32
BAR_MIN = 10
BAR_MAX = 40
PERCENT_WIDTH = 4
SPEED_CELLS = len("1023.9 MiB/s")
ETA_CELLS = len("0:00")
NO_VALUE = "--"

# What to give up, in order, when the terminal is narrow: each step keeps the most useful
# columns (name, percent, then speed) and no row ever wraps.
_LAYOUT_STEPS: tuple[tuple[bool, bool, bool, bool, bool], ...] = (
    # bar, bytes_full, bytes, speed, eta
    (True, True, True, True, True),
    (True, False, True, True, True),
    (False, False, True, True, True),
    (False, False, True, True, False),
    (False, False, False, True, False),
    (False, False, False, False, False),
)


def _widest(texts: list[str]) -> int:
    return max((cell_len(t) for t in texts), default=0)


def _layout(rows: list[_Cells], width: int, seen: dict[str, int]) -> _Layout:
    """Columns for ``rows`` in ``width`` cells. ``seen`` holds the widest each column has
    been so far, so columns never narrow as files come and go and the bars stay put."""
    current = {
        # Room for the done count to grow to the size from the start.
        "bytes_full": _widest(
            [r.bytes_full for r in rows] + [f"{r.size}/{r.size}" for r in rows if r.size]
        ),
        "bytes": _widest([r.size or r.done for r in rows] + [r.done for r in rows]),
        # Speed and ETA appear only after a moment of data: their room is kept from the start.
        "speed": max(SPEED_CELLS, _widest([r.speed for r in rows])),
        "eta": max(ETA_CELLS, _widest([r.eta for r in rows])),
        "name": max(1, _widest([r.name for r in rows])),
    }
    for column, cells in current.items():
        seen[column] = max(seen.get(column, 0), cells)
    widths = dict(seen)
    name_need = widths["name"]
    for bar, full, nbytes, speed, eta in _LAYOUT_STEPS:
        # Every column after the name costs its width plus a one-cell gap.
        shown = [PERCENT_WIDTH]
        if nbytes:
            shown.append(widths["bytes_full"] if full else widths["bytes"])
        if speed:
            shown.append(widths["speed"])
        if eta:
            shown.append(widths["eta"])
        fixed = sum(w + 1 for w in shown)
        room = width - fixed  # for the name, and the bar with its gap
        if not bar and room >= min(NAME_MIN, name_need):
            return _Layout(min(name_need, room), 0, full, nbytes, speed, eta)
        if bar and room - BAR_MIN - 1 >= min(NAME_MIN, name_need):
            # The name may take up to 3/5 of the room: a whole name beats a long bar, but
            # a bar too short to move visibly is not worth drawing.
            cap = max(NAME_MIN, min(NAME_MAX, room * 3 // 5))
            name = min(name_need, cap, room - BAR_MIN - 1)
            return _Layout(name, min(BAR_MAX, room - name - 1), full, nbytes, speed, eta)
    return _Layout(max(1, width - PERCENT_WIDTH - 1), 0, False, False, False, False)


def _bar(cells: _Cells, width: int, now: float) -> ProgressBar:
    if cells.fraction is None:
        return ProgressBar(total=None, width=width, animation_time=now)
    return ProgressBar(total=1.0, completed=cells.fraction, width=width, animation_time=now)


def _percent(fraction: float | None) -> str:
    # Floor, so 100% means done and never "almost".
    return "" if fraction is None else f"{math.floor(fraction * 100)}%"


def _grid(rows: list[_Cells], width: int, now: float, seen: dict[str, int]) -> Table:
    layout = _layout(rows, width, seen)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=layout.name, no_wrap=True, overflow="crop")
    if layout.bar:
        grid.add_column(width=layout.bar, no_wrap=True)
    grid.add_column(width=PERCENT_WIDTH, justify="right", no_wrap=True, overflow="crop")
    for shown in (layout.bytes, layout.speed, layout.eta):
        if shown:
            grid.add_column(justify="right", no_wrap=True, overflow="crop")
    for cells in rows:
        row: list[RenderableType] = [Text(shorten(cells.name, layout.name), style=cells.style)]
        if layout.bar:
            row.append(_bar(cells, layout.bar, now))
        row.append(cells.percent)
        if layout.bytes:
            row.append(cells.bytes_full if layout.bytes_full else cells.done)
        if layout.speed:
            row.append(cells.speed)
        if layout.eta:
            row.append(cells.eta)
        grid.add_row(*row)
    return grid


class _Board:
    """The state of the run as the live board shows it.

    Observer calls arrive on the run's thread while rich redraws from its refresh thread,
    so every read and write holds ``lock``. Totals are kept as running sums: with thousands
    of files a frame must not walk the whole plan.
    """

    def __init__(self, clock: Clock) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        # The widest each column of the board has been (see _layout).
        self.widths: dict[str, int] = {}
        self.files_total = 0
        self.files_done = 0
        # Files to fetch that have not started: their size from the plan, None if unknown.
        self.pending: dict[int, int | None] = {}
        self.pending_bytes = 0
        self.pending_unknown = 0
        # Only files in flight have rows: those downloading (at most the concurrency) and
        # those being checked and moved into place, for the moment that takes.
        self.rows: dict[int, _Row] = {}
        self.finished_bytes = 0
        self.overall: RateMeter | None = None

    def plan(self, plan: list[PlanItem]) -> None:
        self.files_total = len(plan)
        for item in plan:
            if item.action != "skip":
                self._add_pending(item.spec.index, item.spec.size)

    def _add_pending(self, index: int, size: int | None) -> None:
        self.pending[index] = size
        if size is None:
            self.pending_unknown += 1
        else:
            self.pending_bytes += size

    def _drop_pending(self, index: int) -> None:
        if index not in self.pending:
            return
        size = self.pending.pop(index)
        if size is None:
            self.pending_unknown -= 1
        else:
            self.pending_bytes -= size

    def start(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        now = self.clock()
        self._drop_pending(spec.index)
        if self.overall is None:
            # Start the overall rate with the first transfer, not with planning, which may
            # have spent seconds hashing present files.
            self.overall = RateMeter(now)
        row = self.rows.get(spec.index)
        base = os.path.basename(name) or spec.label
        if row is None:
            self.rows[spec.index] = _Row(base, size, done, RateMeter(now))
        else:
            row.name, row.size, row.done = base, size, max(row.done, done)

    def advance(self, spec: FileSpec, done: int) -> None:
        row = self.rows.get(spec.index)
        if row is None or done <= row.done:
            return
        now = self.clock()
        row.meter.add(done - row.done, now)
        if self.overall is not None:
            self.overall.add(done - row.done, now)
        row.done = done

    def verify(self, spec: FileSpec) -> None:
        row = self.rows.get(spec.index)
        if row is not None:
            row.verifying = True

    def finish(self, result: FileResult) -> None:
        index = result.spec.index
        self.files_done += 1
        self.files_total = max(self.files_total, self.files_done)
        self._drop_pending(index)
        row = self.rows.pop(index, None)
        if result.outcome == "downloaded":
            self.finished_bytes += result.bytes or (row.done if row else 0)
        elif row is not None:
            # A failed file's unfetched rest leaves the total: the bar must still reach 100%.
            self.finished_bytes += row.done

    # Drawing -------------------------------------------------------------------------

    def snapshot(self) -> tuple[list[_Cells], float]:
        with self.lock:
            now = self.clock()
            cells = [self._overall_cells(now)]
            cells.extend(self._row_cells(row, now) for row in self.rows.values())
        return cells, now

    def _overall_cells(self, now: float) -> _Cells:
        done = self.finished_bytes
        total = self.finished_bytes + self.pending_bytes
        known = self.pending_unknown == 0
        for row in self.rows.values():
            done += row.done
            total += max(row.done, row.size or 0)
            known = known and row.size is not None
        rate = self.overall.rate(now) if self.overall is not None else None
        if known and total > 0:
            fraction = min(1.0, done / total)
        else:
            # Without every size, progress in files is the only honest fraction.
            fraction = self.files_done / self.files_total if self.files_total else 0.0
        eta: float | None = None
        if known and total > 0:
            eta = 0.0 if done >= total else (total - done) / rate if rate else None
        return _Cells(
            name=f"{self.files_done}/{self.files_total} files",
            fraction=fraction,
            percent=_percent(fraction),
            done=human_bytes(done),
            size=human_bytes(total) if known else None,
            speed=human_rate(rate) if rate is not None else NO_VALUE,
            eta=clock_duration(eta),
            style="bold",
        )

    @staticmethod
    def _row_cells(row: _Row, now: float) -> _Cells:
        if row.size is None:
            fraction = None
        elif row.size == 0:
            fraction = 1.0
        else:
            fraction = min(1.0, row.done / row.size)
        size = human_bytes(row.size) if row.size is not None else None
        if row.verifying:
            return _Cells(row.name, 1.0, "100%", human_bytes(row.done), size, "verifying", "")
        rate = row.meter.rate(now)
        eta = (row.size - row.done) / rate if row.size is not None and rate else None
        return _Cells(
            name=row.name,
            fraction=fraction,
            percent=_percent(fraction),
            done=human_bytes(row.done),
            size=size,
            speed=human_rate(rate) if rate is not None else NO_VALUE,
            eta=clock_duration(eta),
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cells, now = self.snapshot()
        yield _grid(cells, options.max_width, now, self.widths)


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
        self._board = _Board(clock)
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

    def verifying(self, spec: FileSpec) -> None:
        with self._board.lock:
            self._board.verify(spec)

    def warned(self, spec: FileSpec, message: str) -> None:
        self._console.print(Text(f"! {spec.label}: {message}", style="yellow"), soft_wrap=True)

    def finished(self, result: FileResult) -> None:
        with self._board.lock:
            self._board.finish(result)
        # Printed outside the lock: printing waits for rich's refresh, which needs the lock.
        for text, may_wrap in _live_lines(result, self._console.width):
            if may_wrap:
                self._console.print(text, soft_wrap=True)
            else:
                self._console.print(text, no_wrap=True, overflow="ellipsis")


def _live_lines(result: FileResult, width: int) -> list[tuple[Text, bool]]:
    """The lines a finished file prints above the board, each with whether it may wrap.

    Status lines are cut to the width; failure lines wrap (soft) so the message and a Drive
    link in it stay whole and copyable.
    """
    label = result.spec.label
    if result.outcome == "downloaded":
        rate = _rate_of(result.bytes, result.seconds)
        detail = f"  {human_bytes(result.bytes)} in {human_duration(result.seconds)}"
        detail += f" ({rate})" if rate else ""
        detail += "" if result.size_verified else f", {UNVERIFIED}"
        text = Text.assemble(("✓ ", "green"), shorten(label, width - 2 - cell_len(detail)))
        text.append(detail, style="dim")
        return [(text, False)]
    if result.outcome == "present":
        suffix = "  already present"
        line = f"· {shorten(label, width - 2 - len(suffix))}{suffix}"
        return [(Text(line, style="dim"), False)]
    if result.outcome == "failed":
        message, hint = _failure_parts(result)
        # One text for both lines, so the board is not redrawn between them.
        text = Text(f"✗ {label}: {message}", style="red")
        if hint:
            text.append(f"\n  hint: {hint}", style="yellow")
        return [(text, True)]
    return []
