"""The live board's columns: what each row holds as text, how wide each column may be in a
terminal of a given width, and the table that lays the rows out. No row ever wraps: on a
narrow terminal columns are given up in order, and names are cut in the middle."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

ELLIPSIS = "…"


def _tail(text: str, width: int) -> str:
    """The longest end of ``text`` that fits in ``width`` cells."""
    used = 0
    start = len(text)
    while start > 0 and used + cell_len(text[start - 1]) <= width:
        start -= 1
        used += cell_len(text[start])
    return text[start:]


def shorten(text: str, width: int, tail: int = 0) -> str:
    """Fit ``text`` in ``width`` cells by cutting its middle: dataset names share prefixes
    and differ at the end (``…_rpm_2.dat``), so both ends carry meaning. The last ``tail``
    cells stay whole while they fit beside one cell of the head: the part of a path that tells
    its file from others."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    tail_width = max(keep // 2, min(keep - 1, tail))
    head = set_cell_size(text, keep - tail_width).rstrip(" ")
    end = _tail(text, width - 1 - cell_len(head))
    return f"{head}{ELLIPSIS}{end}"


@dataclass(frozen=True)
class Cells:
    """One row of the board as text, taken under the board's lock and drawn outside it."""

    name: str
    fraction: float | None  # None: size unknown, the bar pulses
    percent: str
    done: str
    size: str | None
    speed: str
    eta: str
    style: str = ""
    # Said instead of the columns after the name: a file in trouble, or taken up again.
    note: str | None = None

    @property
    def bytes_full(self) -> str:
        return self.done if self.size is None else f"{self.done}/{self.size}"


@dataclass(frozen=True)
class Layout:
    name: int
    bar: int  # 0: no bar
    bytes_full: bool
    bytes: bool
    speed: bool
    eta: bool
    # The width of each column shown after the name, bar and percent included, in order.
    rest: tuple[int, ...]


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


def percent(fraction: float | None) -> str:
    # Floor, so 100% means done and never "almost".
    return "" if fraction is None else f"{math.floor(fraction * 100)}%"


def _widest(texts: list[str]) -> int:
    return max((cell_len(t) for t in texts), default=0)


def layout(rows: list[Cells], width: int, seen: dict[str, int]) -> Layout:
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
            name = min(name_need, room)
            return Layout(name, 0, full, nbytes, speed, eta, tuple(shown))
        if bar and room - BAR_MIN - 1 >= min(NAME_MIN, name_need):
            # The name may take up to 3/5 of the room: a whole name beats a long bar, but
            # a bar too short to move visibly is not worth drawing.
            cap = max(NAME_MIN, min(NAME_MAX, room * 3 // 5))
            name = min(name_need, cap, room - BAR_MIN - 1)
            bar_width = min(BAR_MAX, room - name - 1)
            return Layout(name, bar_width, full, nbytes, speed, eta, (bar_width, *shown))
    name = max(1, width - PERCENT_WIDTH - 1)
    return Layout(name, 0, False, False, False, False, (PERCENT_WIDTH,))


def _bar(cells: Cells, width: int, now: float) -> ProgressBar:
    if cells.fraction is None:
        return ProgressBar(total=None, width=width, animation_time=now)
    return ProgressBar(total=1.0, completed=cells.fraction, width=width, animation_time=now)


def board(rows: list[Cells], width: int, now: float, seen: dict[str, int]) -> RenderableType:
    """``rows`` laid out in ``width`` cells; ``now`` animates the bars of unknown size. Each
    row is a table of its own with the same column widths, so a row with a note can give
    the note all the room after the name and still line up with the others."""
    shape = layout(rows, width, seen)
    return Group(*(_row(cells, shape, now) for cells in rows))


def _row(cells: Cells, shape: Layout, now: float) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(width=shape.name, no_wrap=True, overflow="crop")
    name = Text(shorten(cells.name, shape.name), style=cells.style)
    if cells.note is not None:
        room = sum(w + 1 for w in shape.rest) - 1
        table.add_column(width=room, no_wrap=True, overflow="ellipsis")
        table.add_row(name, Text(cells.note, style="yellow", overflow="ellipsis"))
        return table
    row: list[RenderableType] = [name]
    if shape.bar:
        table.add_column(width=shape.bar, no_wrap=True)
        row.append(_bar(cells, shape.bar, now))
    for column_width in shape.rest[1:] if shape.bar else shape.rest:
        table.add_column(width=column_width, justify="right", no_wrap=True, overflow="crop")
    row.append(cells.percent)
    if shape.bytes:
        row.append(cells.bytes_full if shape.bytes_full else cells.done)
    if shape.speed:
        row.append(cells.speed)
    if shape.eta:
        row.append(cells.eta)
    table.add_row(*row)
    return table
