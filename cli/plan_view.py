"""The plan as a person reads it: what will be fetched, resumed or skipped, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evio_fetch.cli.units import human_bytes
from evio_fetch.engine.model import FileSpec, PlanItem
from evio_fetch.engine.planning import NAMED_BY_SERVER

VERBS = {"fetch": "fetch ", "resume": "resume", "skip": "skip  "}


@dataclass(frozen=True)
class PlanTotals:
    fetch: int
    resume: int
    skip: int
    # Bytes still to download, of the files whose size is known; partial downloads count
    # only what they lack.
    bytes_left: int
    unknown_sizes: int


def totals(items: Sequence[PlanItem]) -> PlanTotals:
    moving = [item for item in items if item.action != "skip"]
    return PlanTotals(
        fetch=sum(1 for item in moving if item.action == "fetch"),
        resume=sum(1 for item in moving if item.action == "resume"),
        skip=len(items) - len(moving),
        bytes_left=sum(_left(item) for item in moving),
        unknown_sizes=sum(1 for item in moving if item.size is None),
    )


def _left(item: PlanItem) -> int:
    if item.size is None:
        return 0
    return max(0, item.size - (item.partial or 0) if item.action == "resume" else item.size)


def plan_lines(items: Sequence[PlanItem]) -> list[str]:
    return [_line(item) for item in items] + [total_line(totals(items))]


def total_line(sums: PlanTotals) -> str:
    """``2 to fetch, 1 to resume (121.8 MiB left + 1 of unknown size), 1 to skip``."""
    parts = [human_bytes(sums.bytes_left)] if sums.bytes_left or not sums.unknown_sizes else []
    parts += [f"{sums.unknown_sizes} of unknown size"] if sums.unknown_sizes else []
    counts = f"{sums.fetch} to fetch"
    if sums.resume:
        counts += f", {sums.resume} to resume"
        parts[0] += " left" if sums.bytes_left else ""
    return f"{counts} ({' + '.join(parts)}), {sums.skip} to skip"


def shard_line(which: tuple[int, int], mine: Sequence[FileSpec], total: int) -> str:
    """``shard 2/4: 5 of 14 files, 380.0 MiB``: what this machine's share is."""
    known = sum(spec.size or 0 for spec in mine)
    unknown = sum(1 for spec in mine if spec.size is None)
    parts = [human_bytes(known)] if known or not unknown else []
    parts += [f"{unknown} of unknown size"] if unknown else []
    index, count = which
    return f"shard {index}/{count}: {len(mine)} of {total} files, {' + '.join(parts)}"


def _line(item: PlanItem) -> str:
    return f"{VERBS[item.action]}  {_where(item)}  ({_detail(item)})"


def _where(item: PlanItem) -> str:
    spec = item.spec
    if spec.target is not None or spec.output_dir is None:
        return spec.label
    # A file the server names: its name only when something of that name was found.
    found = item.guessed and item.path is not None and item.reason != NAMED_BY_SERVER
    return f"{spec.label} -> {item.path if found else spec.output_dir + '/'}"


def _detail(item: PlanItem) -> str:
    if item.action == "resume" and item.partial is not None and item.size is not None:
        size = f"partial: {human_bytes(item.partial)} of {human_bytes(item.size)}"
    else:
        size = human_bytes(item.size) if item.size is not None else "size unknown"
    return f"{size}; {item.reason}"
