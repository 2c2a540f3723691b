"""What a finished file leaves on screen: one plain line for a log, or styled lines above
the live board. Skipped entries leave nothing: the summary counts them."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from evio_fetch.cli.columns import shorten
from evio_fetch.cli.units import human_bytes, human_duration, human_rate
from evio_fetch.engine.model import BUG_HINT, FileResult
from evio_fetch.engine.subjects import about

# Said of a file whose size nothing stated: it is what arrived before the server closed.
UNVERIFIED = "size not verified"


def _rate_of(result: FileResult) -> str | None:
    """The speed of this run's own bytes: those an earlier run left took no time now."""
    fetched = result.bytes - result.resumed
    return human_rate(fetched / result.seconds) if fetched > 0 and result.seconds > 0 else None


def _downloaded(result: FileResult) -> str:
    """``212.3 MiB in 3.1 s (68.5 MiB/s)``, and what else is worth knowing of it."""
    said = f"{human_bytes(result.bytes)} in {human_duration(result.seconds)}"
    rate = _rate_of(result)
    said += f" ({rate})" if rate else ""
    said += f", resumed from {human_bytes(result.resumed)}" if result.resumed else ""
    return said if result.size_verified else f"{said}, {UNVERIFIED}"


def _failure_parts(result: FileResult) -> tuple[str, str]:
    if result.failure is None:
        return "failed without a reason", BUG_HINT
    return result.failure.message, result.failure.hint


def plain_line(result: FileResult) -> str | None:
    """The one log line for a finished file; None for skipped entries."""
    label = result.spec.label
    if result.outcome == "downloaded":
        return f"downloaded {label} {_downloaded(result)}"
    if result.outcome == "present":
        return f"present {label}"
    if result.outcome == "failed":
        message, hint = _failure_parts(result)
        return f"FAILED {about(label, message)}" + (f" (hint: {hint})" if hint else "")
    return None


def live_lines(result: FileResult, width: int, name: str = "") -> list[tuple[Text, bool]]:
    """The lines a finished file prints above the board, each with whether it may wrap.

    Status lines are cut to the width, the label in its middle; when its row needed more
    than a file name to tell it apart (``events-a/events.dat``), that ``name`` stays whole.
    Failure lines wrap (soft) so the message and a Drive link in it stay whole and copyable.
    """
    label = result.spec.label
    tail = cell_len(name) if "/" in name and label.endswith(name) else 0
    if result.outcome == "downloaded":
        detail = f"  {_downloaded(result)}"
        shown = shorten(label, width - 2 - cell_len(detail), tail)
        text = Text.assemble(("✓ ", "green"), shown)
        text.append(detail, style="dim")
        return [(text, False)]
    if result.outcome == "present":
        suffix = "  already present"
        line = f"· {shorten(label, width - 2 - len(suffix), tail)}{suffix}"
        return [(Text(line, style="dim"), False)]
    if result.outcome == "failed":
        message, hint = _failure_parts(result)
        # One text for both lines, so the board is not redrawn between them.
        text = Text(f"✗ {about(label, message)}", style="red")
        if hint:
            text.append(f"\n  hint: {hint}", style="yellow")
        return [(text, True)]
    return []
