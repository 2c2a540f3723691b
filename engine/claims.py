"""The names a run's server-named files take (SOURCE arguments with ``-o DIR``). Workers learn
a file's name from the server; the parent, which sees the whole run, decides where it lands:
never where another file of the run lands, never over an existing file that is not the same
one. A taken name is numbered as browsers number them (``data (1).bin``).

Only the parent makes these decisions, so two workers can never pick one name at once."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

from evio_fetch.engine.errors import UnsafeNameError
from evio_fetch.engine.naming import numbered
from evio_fetch.engine.provenance import source_of

# Far more numbered copies than anyone keeps: past this, something is wrong with the names.
MAX_NUMBER = 1000

Occupant = Literal["free", "same", "other"]


class NameClaims:
    """Names are compared without their case: macOS and Windows keep ``Data.bin`` and
    ``data.bin`` as one file, so two files of a run must differ by more than case."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(
        self, directory: Path, name: str, size: int | None, source: bytes
    ) -> tuple[Path, bool]:
        """Where a file the server calls ``name`` (of ``size`` bytes, if it says) lands in
        ``directory``, and whether a file there is already it: a regular file of that size,
        landed from the same ``source`` (engine.provenance) or carrying no mark."""
        for number in range(MAX_NUMBER):
            path = directory / numbered(name, number)
            if _folded(path) in self._taken:
                continue
            occupant = _occupant(path, size, source)
            if occupant != "other":
                self._taken.add(_folded(path))
                return path, occupant == "same"
        raise UnsafeNameError(
            f"{directory / name}: {MAX_NUMBER} files of that name are there already",
            "download into another directory with -o",
        )


def _folded(path: Path) -> str:
    return str(path).casefold()


def _occupant(path: Path, size: int | None, source: bytes) -> Occupant:
    """``free`` when nothing is at ``path``; ``same`` when a regular file of ``size`` bytes is
    (a symlink never is) that no other source landed; ``other`` for anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "free"
    if not stat.S_ISREG(info.st_mode) or size is None or info.st_size != size:
        return "other"
    landed_from = source_of(path)
    return "same" if landed_from in (None, source) else "other"
