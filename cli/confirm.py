"""Asking before a download: only a person at a terminal is asked, and only when there is
something to fetch. Scripts, pipes, CI and ``--yes`` are never made to wait."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.console import Console

from evio_fetch.cli.plan_view import plan_lines
from evio_fetch.cli.tty import is_interactive
from evio_fetch.engine.model import PlanItem

# A plan longer than this shows its first lines and a count of the rest; the total follows.
SHOWN_LINES = 20
YES = {"y", "yes"}


def needs_asking(items: Sequence[PlanItem], *, yes: bool) -> bool:
    return not yes and any(item.action != "skip" for item in items) and is_interactive()


def ask(console: Console, items: Sequence[PlanItem]) -> bool:
    """Show the plan and ask y/N; anything but yes (end of input included) is no."""
    for line in shortened(plan_lines(items)):
        console.print(line, markup=False, soft_wrap=True)
    try:
        answer = console.input(f"Fetch into {destination(items)}? [y/N] ", markup=False)
    except EOFError:
        return False
    return answer.strip().lower() in YES


def destination(items: Sequence[PlanItem]) -> str:
    """The one directory every file goes under (the deepest they share)."""
    places = [
        os.path.dirname(item.spec.target) if item.spec.target else str(item.spec.output_dir)
        for item in items
        if item.action != "skip"
    ]
    return os.path.commonpath(places) if places else "."


def shortened(lines: list[str]) -> list[str]:
    """The plan's lines with the middle folded away; the summary line always stays."""
    *entries, total = lines
    if len(entries) <= SHOWN_LINES:
        return lines
    hidden = len(entries) - SHOWN_LINES
    return [*entries[:SHOWN_LINES], f"… and {hidden} more (--dry-run lists them all)", total]
