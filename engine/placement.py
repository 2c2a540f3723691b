"""Where a run's files land, settled before anything is written.

The output directory and the root are one directory under two names: manifest paths are
relative to it and SOURCE files land in it, so a manifest run honours ``-o`` and a run of
sources honours ``--root``. Naming two different directories, or a directory that is a file,
is refused with a UsageError; nothing is created here (the directory is made with the first
file).
"""

from __future__ import annotations

import os
from pathlib import Path

from evio_fetch.engine.errors import UsageError

# (the name the caller knows the setting by, what was given): ("-o", Path("data")) for a
# flag, ("root=", Path("data")) for a keyword argument.
Named = tuple[str, Path | None]


def landing_directory(output_dir: Named, root: Named) -> Path:
    """The directory named by ``output_dir`` or ``root`` (``.`` when neither is given).

    Raises UsageError when both are given and name different directories, or when the one
    named is (or lies under) something that is not a directory.
    """
    given = [(name, path) for name, path in (output_dir, root) if path is not None]
    if len(given) == 2 and not _same(given[0][1], given[1][1]):
        first, second = given
        raise UsageError(
            f"{_shown(*first)} and {_shown(*second)} name different directories",
            f"give one of them: {first[0].rstrip('=')} and {second[0].rstrip('=')} are one "
            "directory, the one manifest paths are relative to and sources land in",
        )
    name, path = given[0] if given else (output_dir[0], Path("."))
    check_directory(name, path)
    return path


def check_directory(name: str, path: Path) -> None:
    """Refuse ``path`` when it, or the nearest part of it that exists, is not a directory."""
    existing = _nearest_existing(path)
    if existing is None or existing.is_dir():
        return
    where = _shown(name, path) + ("" if existing == path else f": {existing}")
    raise UsageError(
        f"{where} is not a directory",
        f"name a directory (a missing one is created), or move {existing} out of the way",
    )


def _shown(name: str, path: Path) -> str:
    # A flag and its value (-o data), or a keyword argument as written in Python (root='data').
    return f"{name}{str(path)!r}" if name.endswith("=") else f"{name} {path}"


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return None


def _same(one: Path, other: Path) -> bool:
    # Spelt differently ("data", "./data/", an absolute path, a symlink to it): still one.
    return os.path.realpath(one) == os.path.realpath(other)
