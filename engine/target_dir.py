"""The directory a download's files live in, held open for as long as the download lasts:
every later open, rename, removal and flush of the partial file, the state file and the
state's temporary is made relative to that descriptor, never by a path walked again.

Why: a directory is checked once, when it is reached, but a download lasts minutes. A local
process that meanwhile swaps the directory (or one above it) for a symbolic link would lead
every path-named call after the swap out of the root: a state's temporary created there, a
rename over a file there, a removal there. A descriptor keeps naming the directory that was
checked, wherever it has been moved since, and a link put in its place is never followed.

The directory is reached one component at a time from the root, each opened with
``O_DIRECTORY | O_NOFOLLOW`` relative to the one before (missing ones made there), so
nothing on the way is a link; the root itself is the user's choice and may be one. Before a
finished file is renamed into place, the directory must still be the one its path names:
otherwise the file fails rather than be reported at a path where it is not.

Where directories cannot be held (``PlatformIO.hold_directories`` is False: Windows, or
``O_DIRECTORY`` removed by tests/without_os), the same calls name each file by its path, as
engine.safe_paths checks it, and directories are checked once when made."""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path
from types import TracebackType

from evio_fetch.engine.platform_io import PLATFORM, PlatformIO
from evio_fetch.engine.safe_paths import (
    VerifiedDirectories,
    check_regular_or_absent,
    check_same_file,
    make_directories,
    named,
    open_regular,
    unsafe,
)


class TargetDirectory:
    """A directory held open (``fd``), or, where the platform cannot, named by ``path``
    (``fd`` is None). Every file given to a method must lie in ``path``; the path names
    the file in messages, its last component names it to the call."""

    def __init__(self, path: Path, fd: int | None, platform: PlatformIO = PLATFORM) -> None:
        self.path = path
        self.fd = fd
        self.platform = platform
        # Once let go, a held directory is never named by its path instead.
        self._held = fd is not None

    @classmethod
    def open(
        cls,
        root: Path,
        directory: Path,
        platform: PlatformIO = PLATFORM,
        directories: VerifiedDirectories | None = None,
    ) -> TargetDirectory:
        """``directory`` below ``root``, its missing levels made, none of them reached through
        a link. Raises UnsafePathError for a link or a file on the way, OSError for the rest.
        ``directories`` spares the fallback a walk for a directory already checked."""
        if not platform.hold_directories:
            if directories is not None:
                directories.make(root, directory)
            else:
                make_directories(root, directory)
            return cls(directory, None, platform)
        return cls(directory, _walk(root, directory, platform), platform)

    @classmethod
    def of(cls, path: Path, platform: PlatformIO = PLATFORM) -> TargetDirectory:
        """The directory ``path`` lies in, as its path leads now: for a file written alone,
        outside any download (a state file saved by hand, in a test)."""
        if not platform.hold_directories:
            return cls(path.parent, None, platform)
        return cls(path.parent, platform.open_directory(path.parent, follow=True), platform)

    def __enter__(self) -> TargetDirectory:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def duplicate(self) -> TargetDirectory:
        """Another hold on the same directory, closed on its own."""
        held = self._descriptor()
        fd = os.dup(held) if held is not None else None
        return TargetDirectory(self.path, fd, self.platform)

    @property
    def handle(self) -> Path | int:
        """What a flush of the directory is given: its descriptor, else its path."""
        held = self._descriptor()
        return held if held is not None else self.path

    # Files in it ---------------------------------------------------------------------------

    def open_regular(self, path: Path, flags: int, mode: int = 0o644) -> int:
        """engine.safe_paths.open_regular, in this directory."""
        return open_regular(path, flags, mode, platform=self.platform, dir_fd=self._at(path))

    def create(self, path: Path, flags: int, mode: int) -> int:
        """A new file: ``O_CREAT | O_EXCL`` refuses any name that exists, a link included."""
        extra = os.O_CREAT | os.O_EXCL | self.platform.no_follow | self.platform.open_flags
        at = self._at(path)
        return os.open(named(path, at), flags | extra, mode, dir_fd=at)

    def is_regular(self, path: Path) -> bool:
        """engine.safe_paths.check_regular_or_absent, in this directory."""
        return check_regular_or_absent(path, dir_fd=self._at(path))

    def check_same_file(self, path: Path, fd: int) -> None:
        """engine.safe_paths.check_same_file, in this directory."""
        check_same_file(path, fd, dir_fd=self._at(path))

    def replace(self, source: Path, destination: Path) -> None:
        at = self._at(source)
        self._at(destination)
        os.replace(named(source, at), named(destination, at), src_dir_fd=at, dst_dir_fd=at)

    def unlink(self, path: Path) -> None:
        """Remove ``path`` if it is there."""
        at = self._at(path)
        with suppress(FileNotFoundError):
            os.unlink(named(path, at), dir_fd=at)

    def sync(self) -> None:
        """Make the names changed in it durable."""
        self.platform.sync_directory(self.handle)

    def check_in_place(self) -> None:
        """Raise UnsafePathError unless the directory's path still leads to the directory
        held: a file renamed in it now lands where it will be reported."""
        fd = self._descriptor()
        if fd is None:
            return
        held = os.fstat(fd)
        try:
            found = os.stat(self.path)
        except OSError:
            found = None
        if found is None or (found.st_dev, found.st_ino) != (held.st_dev, held.st_ino):
            raise unsafe(self.path, "was moved or replaced while a file was written in it")

    def _at(self, path: Path) -> int | None:
        if path.parent != self.path:
            raise ValueError(f"{path} is not in {self.path}")
        return self._descriptor()

    def _descriptor(self) -> int | None:
        """The directory's descriptor; None where it is named by path. Raises OSError once
        a held directory was let go."""
        if self._held and self.fd is None:
            raise OSError(errno.EBADF, "its directory is no longer held", str(self.path))
        return self.fd


def _walk(root: Path, directory: Path, platform: PlatformIO) -> int:
    """A descriptor of ``directory``, reached from ``root`` one level at a time, each level
    opened relative to the one before without following a link, and made if missing."""
    parts = _parts_below(root, directory)
    root.mkdir(parents=True, exist_ok=True)
    fd = platform.open_directory(root, follow=True)
    current = root
    try:
        for part in parts:
            current = current / part
            inner = _enter(fd, part, current, platform)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _enter(fd: int, part: str, path: Path, platform: PlatformIO) -> int:
    with suppress(FileExistsError):
        os.mkdir(part, dir_fd=fd)
    try:
        return platform.open_directory(part, dir_fd=fd)
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
    # Linux says ENOTDIR for a link when O_DIRECTORY is asked too, macOS ELOOP: look.
    if stat.S_ISLNK(os.lstat(part, dir_fd=fd).st_mode):
        raise unsafe(path, "is a symbolic link, which evio-fetch does not follow")
    raise unsafe(path, "is not a directory")


def _parts_below(root: Path, directory: Path) -> tuple[str, ...]:
    try:
        parts = directory.relative_to(root).parts
    except ValueError:
        raise unsafe(directory, f"is not inside {root}") from None
    if any(part in (".", "..") for part in parts):
        raise unsafe(directory, f"is not plainly below {root}")
    return parts
