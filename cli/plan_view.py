"""The plan as a person reads it: what will be fetched, what is skipped, and why."""

from __future__ import annotations

from collections.abc import Sequence

from evio_fetch.cli.units import human_bytes
from evio_fetch.engine.model import FileSpec, PlanItem

VERBS = {"fetch": "fetch ", "resume": "resume", "skip": "skip  "}


def plan_lines(items: Sequence[PlanItem]) -> list[str]:
    lines = [_line(item) for item in items]
    fetching = [i for i in items if i.action != "skip"]
    known = sum(i.spec.size or 0 for i in fetching)
    unknown = sum(1 for i in fetching if i.spec.size is None)
    parts = [human_bytes(known)] if known or not unknown else []
    parts += [f"{unknown} of unknown size"] if unknown else []
    total = " + ".join(parts)
    lines.append(f"{len(fetching)} to fetch ({total}), {len(items) - len(fetching)} to skip")
    return lines


def shard_line(which: tuple[int, int], mine: Sequence[FileSpec], total: int) -> str:
    """``shard 2/4: 5 of 14 files, 380.0 MiB``: what this machine's share is."""
    known = sum(spec.size or 0 for spec in mine)
    unknown = sum(1 for spec in mine if spec.size is None)
    parts = [human_bytes(known)] if known or not unknown else []
    parts += [f"{unknown} of unknown size"] if unknown else []
    index, count = which
    return f"shard {index}/{count}: {len(mine)} of {total} files, {' + '.join(parts)}"


def _line(item: PlanItem) -> str:
    size = human_bytes(item.spec.size) if item.spec.size is not None else "size unknown"
    where = item.spec.label
    if item.spec.target is None and item.spec.output_dir is not None:
        where = f"{where} -> {item.spec.output_dir}/"
    return f"{VERBS[item.action]}  {where}  ({size}; {item.reason})"
