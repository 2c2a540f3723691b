"""Directories a run creates for files that then fail, and only those, removed if empty.

The plan notes, for each file, which directories between its output directory (or root) and
the file did not exist then; the run creates them as it writes. At the end, those that are
empty are removed, deepest first, with ``rmdir`` (which removes nothing else): a directory
that existed before the run, holds anything, or lies above the root is never touched, and
none is reached through a symlink.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from evio_fetch.engine.platform_io import PLATFORM


def missing_directories(
    directory: str, floor: str, exists: Callable[[str], bool] = os.path.lexists
) -> tuple[str, ...]:
    """The directories from ``floor`` down to ``directory`` (both included, absolute paths)
    that do not exist, shallowest first; nothing above ``floor``. ``exists`` may be a cached
    look, for a plan of many files in few directories."""
    if directory != floor and not directory.startswith(os.path.join(floor, "")):
        return ()
    missing: list[str] = []
    candidate = directory
    while not exists(candidate):
        missing.append(candidate)
        if candidate == floor:
            break
        candidate = os.path.dirname(candidate)
    return tuple(reversed(missing))


def remove_empty(chains: Iterable[Sequence[str]]) -> None:
    """Remove the directories of ``chains`` (each as ``missing_directories`` gave it) that are
    empty now, deepest first, so that a parent emptied by its child's removal goes too."""
    # Each directory, with the one of its chain whose parent existed at the plan.
    tops = {path: chain[0] for chain in chains for path in chain}
    for path in sorted(tops, key=lambda p: p.count(os.sep), reverse=True):
        base = os.path.dirname(tops[path])
        _rmdir_under(base, Path(path).relative_to(base).parts)


def _rmdir_under(base: str, parts: Sequence[str]) -> None:
    try:
        PLATFORM.remove_directory_below(base, parts)
    except OSError:  # not empty, gone, or not reachable without a symlink: left as it is
        return
