"""Opening and creating what evio-fetch writes, without ever being led outside the root by a
file planted on the way: a symbolic link, a hard link, a directory or a FIFO where a partial
or state file goes, or a symlinked directory between the root and the target.

Every path is checked where it is opened, on the descriptor: ``O_NOFOLLOW`` refuses a link,
``fstat`` refuses anything but a regular file with one name. Where there is no
``O_NOFOLLOW`` or ``O_NONBLOCK`` (Windows), the path is checked with ``lstat`` before it is
opened, and after, the file opened must be the one the path names (same device and inode).
What remains is a race that ``O_NOFOLLOW`` does not leave: a link planted between the check
and the open is followed by that open. The comparison then refuses what was opened, and
nothing is written through it, unless the link was swapped meanwhile for another name of the
same file; an empty file that the open created where the link pointed stays there. (Windows
lets only administrators, or developer mode, make symbolic links.) Directories are made one
level at a time, each checked before the next is made inside it."""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path

from evio_fetch.engine.errors import UnsafePathError
from evio_fetch.engine.platform_io import PLATFORM, PlatformIO

_REFUSE_HINT = (
    "evio-fetch did not make it and will not write through it; move it away if it is yours, "
    "then run again"
)


def unsafe(path: Path, what: str) -> UnsafePathError:
    return UnsafePathError(f"{path}: {what}", _REFUSE_HINT)


def open_regular(
    path: Path,
    flags: int,
    mode: int = 0o644,
    *,
    platform: PlatformIO = PLATFORM,
    dir_fd: int | None = None,
) -> int:
    """``os.open`` for a file beside a target: never through a symlink, and only a regular
    file with no other name (writing to a planted hard link would change the file it shares
    its bytes with). With ``dir_fd`` (its directory, held open: engine.target_dir), the
    file is ``path``'s last component in that directory, whatever ``path`` leads to now.
    Raises UnsafePathError for anything else, OSError for the rest."""
    if not (platform.no_follow and platform.non_block):
        # before an open that could follow a link or wait
        check_regular_or_absent(path, dir_fd=dir_fd)
    # O_NONBLOCK: opening a planted FIFO must not wait for a writer.
    extra = platform.no_follow | platform.non_block | platform.open_flags
    try:
        fd = os.open(named(path, dir_fd), flags | extra, mode, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise unsafe(path, "is a symbolic link") from None
        if error.errno == errno.EISDIR:
            raise unsafe(path, "is a directory") from None
        raise
    try:
        _check_opened(path, fd, platform, dir_fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def named(path: Path, dir_fd: int | None) -> str | Path:
    """What names ``path`` to a call: its last component relative to ``dir_fd``, else the
    whole path."""
    return path.name if dir_fd is not None else path


def _check_opened(path: Path, fd: int, platform: PlatformIO, dir_fd: int | None) -> None:
    _check_regular(path, os.fstat(fd))
    if not platform.no_follow:
        # Opened by a name checked a moment before: it must still name what was opened.
        check_same_file(path, fd, dir_fd=dir_fd)
    platform.make_blocking(fd)


def _check_regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise unsafe(path, f"is not a regular file ({_kind(info.st_mode)})")
    if info.st_nlink > 1:
        raise unsafe(path, f"has {info.st_nlink - 1} other hard link(s)")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a device"


def check_regular_or_absent(path: Path, *, dir_fd: int | None = None) -> bool:
    """True when ``path`` is a regular file with one name, False when nothing is there;
    raises UnsafePathError for a link, a directory or anything else. ``dir_fd``: as for
    ``open_regular``."""
    try:
        info = os.lstat(named(path, dir_fd), dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise unsafe(path, "is a symbolic link")
    _check_regular(path, info)
    return True


def make_directories(root: Path, directory: Path) -> None:
    """Make ``directory`` and its missing parents below ``root`` (which must exist or is made
    as the user's own choice), never inside a symlinked directory that leads outside
    ``root``: each level is checked before the next is made in it."""
    root.mkdir(parents=True, exist_ok=True)
    real_root = Path(os.path.realpath(root))
    current = root
    for part in _parts_below(root, directory):
        current = current / part
        with suppress(FileExistsError):
            current.mkdir()
        if not _inside(Path(os.path.realpath(current)), real_root):
            raise unsafe(current, f"leads outside {root} (a symbolic link)")
        if not current.is_dir():
            raise unsafe(current, "is not a directory")


class VerifiedDirectories:
    """Directories ``make_directories`` made and checked, remembered by what they are (device
    and inode): another file landing in one costs one ``stat``, not a walk from the root. A
    directory replaced since (by a link leading elsewhere, say) is another inode, and is
    walked and checked again."""

    def __init__(self) -> None:
        self._known: dict[tuple[Path, Path], tuple[int, int]] = {}

    def make(self, root: Path, directory: Path) -> None:
        key = (root, directory)
        known = self._known.get(key)
        if known is not None and _identity(directory) == known:
            return
        make_directories(root, directory)
        found = _identity(directory)
        if found is not None:
            self._known[key] = found


def _identity(directory: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(directory)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _parts_below(root: Path, directory: Path) -> tuple[str, ...]:
    try:
        return directory.relative_to(root).parts
    except ValueError:
        raise unsafe(directory, f"is not inside {root}") from None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_same_file(path: Path, fd: int, *, dir_fd: int | None = None) -> None:
    """Raise unless ``path`` still names the file open as ``fd``: what was checked and hashed
    is what a rename will move. ``dir_fd``: as for ``open_regular``."""
    try:
        found = os.lstat(named(path, dir_fd), dir_fd=dir_fd)
    except FileNotFoundError:
        raise unsafe(path, "was removed while it was being written") from None
    held = os.fstat(fd)
    if (found.st_dev, found.st_ino) != (held.st_dev, held.st_ino):
        raise unsafe(path, "was replaced by another file while it was being written")
