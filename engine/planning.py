"""What to do with each file before any request: fetch it, resume it, or skip it because it
is already in place. Reads only the local disk, and nothing there through a symlink that a
run would not follow either."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from msgspec.structs import replace

from evio_fetch.engine import state as state_file
from evio_fetch.engine.checksums import expected, first_mismatch
from evio_fetch.engine.errors import StateError, UnsafePathError
from evio_fetch.engine.model import FileSpec, Options, PlanItem
from evio_fetch.engine.naming import choose_name
from evio_fetch.engine.new_dirs import missing_directories
from evio_fetch.engine.resume import usable
from evio_fetch.engine.sidecars import part_path, state_path
from evio_fetch.engine.verify import file_digests

NAMED_BY_SERVER = "named by the server"
# For a file the server names, what is found under the name its URL suggests is only likely
# to be it.
MAY_DIFFER = "the server may name it otherwise"


def plan(specs: Sequence[FileSpec], options: Options) -> list[PlanItem]:
    directories = _Directories()
    return [plan_one(spec, options, directories) for spec in specs]


def plan_one(spec: FileSpec, options: Options, directories: _Directories | None = None) -> PlanItem:
    known = directories or _Directories()
    item = _decide(spec, options, known)
    return replace(item, new_dirs=_new_dirs(spec, known)) if item.action != "skip" else item


class _Directories:
    """Whether directories exist, each looked at once however many files it holds: a plan
    costs about one ``stat`` per file, whatever the number of files. The directories a
    file's download would create are worked out once per directory too, and the files of
    one directory share them: a run keeps its plan to the end."""

    def __init__(self) -> None:
        self._exists: dict[str, bool] = {}
        self._missing: dict[tuple[str, str], tuple[str, ...]] = {}

    def exists(self, directory: str) -> bool:
        known = self._exists.get(directory)
        if known is None:
            known = self._exists[directory] = os.path.lexists(directory)
        return known

    def missing(self, directory: str, floor: str) -> tuple[str, ...]:
        known = self._missing.get((directory, floor))
        if known is None:
            known = missing_directories(directory, floor, self.exists)
            self._missing[directory, floor] = known
        return known


def _new_dirs(spec: FileSpec, directories: _Directories) -> tuple[str, ...]:
    """The directories the download would create: those missing between the output
    directory (or root) and the file, both included."""
    if spec.target is not None:
        directory = os.path.dirname(spec.target)
        return directories.missing(directory, spec.output_dir or directory)
    if spec.output_dir is None:
        return ()
    return directories.missing(spec.output_dir, spec.output_dir)


def _decide(spec: FileSpec, options: Options, directories: _Directories) -> PlanItem:
    if spec.target is None:
        return _plan_named(spec, options)
    found = PlanItem(spec, "fetch", "missing", path=spec.target, size=spec.size)
    if not directories.exists(os.path.dirname(spec.target)):
        return found  # nothing can be there: no look at the file or its partial download
    size = _file_size(spec.target)
    if size is not None:
        reason = _why_refetch(spec, Path(spec.target), size, options)
        if reason is None:
            return PlanItem(spec, "skip", "already present", path=spec.target, size=spec.size)
        return PlanItem(spec, "fetch", reason, path=spec.target, size=spec.size)
    target = Path(spec.target)
    if options.resume and _is_regular(part_path(target)):
        return _plan_partial(found, target, "partial download found")
    return found


def _file_size(path: str) -> int | None:
    """The size of the regular file at ``path``; None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _plan_named(spec: FileSpec, options: Options) -> PlanItem:
    """A file named by the server: the name its URL suggests is where a previous run most
    likely left it, whole or in part."""
    if spec.url is None or spec.output_dir is None:
        return PlanItem(spec, "fetch", NAMED_BY_SERVER)
    path = Path(spec.output_dir) / choose_name(None, spec.url)
    found = PlanItem(spec, "fetch", NAMED_BY_SERVER, path=str(path), guessed=True)
    if options.resume and _is_regular(part_path(path)):
        return _plan_partial(found, path, MAY_DIFFER)
    if _is_regular(path):
        reason = f"a file of that name is present ({MAY_DIFFER})"
        return PlanItem(spec, "fetch", reason, path=str(path), guessed=True)
    return found


def _plan_partial(found: PlanItem, target: Path, reason: str) -> PlanItem:
    """Resume when the partial download's state describes this download, as the fetcher
    will decide; otherwise it starts over."""
    try:
        saved = state_file.load(state_path(target))
    except (StateError, UnsafePathError):
        saved = None
    if saved is None or not usable(saved, found.spec):
        why = "a partial download is there, but without a state to resume it from"
        return replace(found, reason=f"{why}: starts over")
    done = sum(segment.done - segment.start for segment in saved.segments)
    return replace(found, action="resume", reason=reason, size=saved.size, partial=done)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _why_refetch(spec: FileSpec, target: Path, size: int, options: Options) -> str | None:
    """None when the file on disk (of ``size`` bytes) is the one wanted, as far as can be
    told without a request."""
    if spec.size is not None and size != spec.size:
        return f"present with {size} bytes, expected {spec.size}"
    wanted = expected(spec.sha256, spec.checksum)
    # Without a size to compare, a known hash is the only way to tell a truncated file.
    if not wanted or not (options.verify or spec.size is None):
        return None
    mismatch = first_mismatch(wanted, file_digests(target, (c.algorithm for c in wanted)))
    return None if mismatch is None else f"present but its {mismatch[0].shown} differs"
