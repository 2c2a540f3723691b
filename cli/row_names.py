"""What a row of the board calls its file: the shortest end of its path that no other file
of the run shares. ``events.dat`` when it is the only one; ``events-a/events.dat`` and
``events-b/events.dat`` when two recordings share a file name, as the evio layout has them.
Pure: paths are strings, nothing is read."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence


def _parts(path: str) -> list[str]:
    return [part for part in path.split(os.sep) if part]


def distinct_suffixes(paths: Sequence[str]) -> list[str]:
    """For each path, its shortest suffix of whole components that is the suffix of no other
    path in ``paths``. A path that is all of another's end (``a/b`` beside ``x/a/b``), or
    given twice, is shown whole."""
    parts = [_parts(path) for path in paths]
    shown = list(paths)
    # Groups of paths that share their last ``depth - 1`` components, told apart one
    # component further up at a time.
    pending: list[tuple[list[int], int]] = [(list(range(len(paths))), 1)]
    while pending:
        members, depth = pending.pop()
        groups: dict[str, list[int]] = defaultdict(list)
        for i in members:
            if len(parts[i]) >= depth:
                groups[parts[i][-depth]].append(i)
        for same in groups.values():
            if len(same) == 1:
                shown[same[0]] = "/".join(parts[same[0]][-depth:])
            else:
                pending.append((same, depth + 1))
    return shown


class RowNames:
    """The names of the paths a run has learnt so far. Only paths with the same file name
    can need more than it, so each such group is worked out alone when it grows.

    A run may learn a hundred thousand paths, nearly all with names of their own: such a
    path is held once, under its file name, and only the names longer than a file name are
    kept."""

    def __init__(self) -> None:
        # Each file name: the one path that has it, or every path that shares it.
        self._groups: dict[str, str | list[str]] = {}
        self._names: dict[str, str] = {}

    def add(self, paths: Iterable[str]) -> None:
        grown: dict[str, list[str]] = {}
        # A member of an older group has a name; one that joined in this call is here.
        joined: set[str] = set()
        for path in paths:
            base = os.path.basename(path)
            held = self._groups.get(base)
            if held is None:
                self._groups[base] = path
            elif held != path and path not in self._names and path not in joined:
                group = [held] if isinstance(held, str) else held
                joined.update((group[0], path))
                group.append(path)
                self._groups[base] = grown[base] = group
        for group in grown.values():
            self._names.update(zip(group, distinct_suffixes(group), strict=True))

    def name(self, path: str) -> str:
        """The row name of ``path``: its file name, or more when another path shares it."""
        return self._names.get(path) or os.path.basename(path) or path
