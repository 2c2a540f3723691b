"""What this platform offers for writing files, chosen once: the one place that knows Linux
from macOS from Windows.

evio-fetch reserves a file's space before fetching it, writes chunks at their offsets,
flushes data before the state that describes it, and locks what it writes. Linux has a
call for each; macOS and Windows lack some and offer others. ``PlatformIO`` records which
is used, ``detect()`` chooses from what the ``os``, ``fcntl`` and ``msvcrt`` modules offer,
and ``PLATFORM`` is that choice for this process. Nothing else in evio-fetch asks which
system it runs on to read or write a file; tests build other ``PlatformIO`` values to run
each fallback on any machine.

=============  =====================  ==========================  =========================
               Linux                  macOS                       Windows
=============  =====================  ==========================  =========================
reserve        posix_fallocate        fcntl F_PREALLOCATE, then   file extended (ftruncate)
                                      ftruncate
flush data     fdatasync              fcntl F_FULLFSYNC (fsync    fsync
                                      where it is refused)
directories    fsync                  fsync                       not flushed (cannot be
                                                                  opened)
lock           flock                  flock                       msvcrt.locking, one byte
                                                                  far past any data
write at       os.pwrite / os.pread   os.pwrite / os.pread        seek + write under a lock
no-follow      O_NOFOLLOW             O_NOFOLLOW                  lstat before, fstat after
directory      held open (O_DIRECTORY held open (O_DIRECTORY      named by path each time
of a target    | O_NOFOLLOW), names   | O_NOFOLLOW), names
               relative to it         relative to it
batches        syncfs                 each file, then each        each file
                                      directory
=============  =====================  ==========================  =========================

Python's ``os`` offers ``sync`` (every file system) but not Linux's ``syncfs`` (one): it comes
from the C library, looked for only where ``os`` has ``sync``, so that removing ``sync``
selects the fallback (tests/without_os).
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Reserve = Literal["fallocate", "preallocate", "extend"]
Flush = Literal["fdatasync", "fsync"]
Lock = Literal["flock", "lockfile"]
# How a batch of files is made durable: one syncfs per file system, or a flush of each.
FlushMany = Literal["syncfs", "each"]

# macOS's fcntl commands and the fstore_t they take (<sys/fcntl.h>); Python 3.11's fcntl
# module names F_FULLFSYNC but not F_PREALLOCATE.
F_PREALLOCATE = 42
F_FULLFSYNC = 51
F_ALLOCATECONTIG = 0x2
F_ALLOCATEALL = 0x4
F_PEOFPOSMODE = 3
# fst_flags (unsigned int), fst_posmode (int), fst_offset, fst_length, fst_bytesalloc (off_t).
FSTORE = struct.Struct("=Iiqqq")
# st_blocks counts in these units, whatever the file system's block size.
STAT_BLOCK = 512
# Windows locks byte ranges, and its locks are mandatory: a locked byte cannot be read or
# written through any other handle, the parent's hasher included. So the lock covers one
# byte far beyond any file's data (a lock may lie past the end of a file).
LOCK_OFFSET = 1 << 62
# Where there is no pwrite, a seek and a write on one descriptor must not interleave with
# another thread's: one lock per descriptor number, taken from a fixed set.
_POSITION_LOCKS = tuple(threading.Lock() for _ in range(64))


@dataclass(frozen=True)
class PlatformIO:
    """How files are reserved, flushed, locked, written and opened here.

    ``full_flush`` is macOS's F_FULLFSYNC command (None elsewhere): its fsync leaves the
    data in the drive's cache, where a power loss can lose or reorder it, so the flush that
    a checkpoint's guarantee rests on asks the drive to write its cache out. ``no_follow``,
    ``non_block`` and ``open_flags`` are flags for ``os.open``, 0 where the platform has
    none. ``rename_open`` says whether a file may be renamed or removed while it is open
    (not on Windows). ``hold_directories`` says whether a directory can be opened without
    following a link and files named relative to it (``dir_fd``): not on Windows, nor
    where ``O_DIRECTORY`` or ``O_NOFOLLOW`` is missing."""

    reserve: Reserve
    flush: Flush
    full_flush: int | None
    lock: Lock
    positional: bool
    no_follow: int
    non_block: int
    open_flags: int
    sync_directories: bool
    rename_open: bool
    flush_many: FlushMany = "each"
    hold_directories: bool = False

    def describe(self) -> str:
        """One line naming every choice, for test reports and bug reports."""
        flush = "F_FULLFSYNC" if self.full_flush is not None else self.flush
        return (
            f"reserve={self.reserve} flush={flush} lock={self.lock} "
            f"positional={'pwrite' if self.positional else 'seek+write'} "
            f"no_follow={'O_NOFOLLOW' if self.no_follow else 'lstat+fstat'} "
            f"sync_directories={self.sync_directories} rename_open={self.rename_open} "
            f"flush_many={self.flush_many} hold_directories={self.hold_directories}"
        )

    # Space ---------------------------------------------------------------------------------

    def reserve_space(self, fd: int, size: int) -> None:
        """Make the file ``size`` bytes long, its blocks taken now where the platform can.
        Raises OSError as the platform does (ENOSPC, or EOPNOTSUPP/EINVAL where the file
        system cannot reserve)."""
        if self.reserve == "fallocate":
            _fallocate(fd, size)
            return
        if self.reserve == "preallocate":
            _preallocate(fd, size)
        extend(fd, size)

    # Durability ----------------------------------------------------------------------------

    def flush_data(self, fd: int) -> None:
        """Make the file's bytes durable (not necessarily its times)."""
        if self.full_flush is None and self.flush == "fdatasync":
            _fdatasync(fd)
        else:
            self.flush_file(fd)

    def flush_file(self, fd: int) -> None:
        """Make the file durable, bytes and size alike."""
        if self.full_flush is not None and _full_flush(fd, self.full_flush):
            return
        os.fsync(fd)

    def sync_directory(self, directory: Path | int) -> None:
        """Make the names in ``directory`` (a path, or a directory held open) durable (a
        rename, a removal), where a directory can be opened to flush it; Windows cannot, and
        commits them in its own time."""
        if not self.sync_directories:
            return
        if isinstance(directory, int):
            os.fsync(directory)
            return
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | self.open_flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def flush_batch(self, written: Sequence[int], directories: Iterable[Path | int]) -> None:
        """Make durable at once the bytes of the files open as ``written`` and the renames
        made into ``directories`` (paths, or directories held open): one ``syncfs`` per file
        system they lie on where there is one (a single journal commit), else a flush of each
        written file and of each distinct directory."""
        if self.flush_many == "syncfs" and _libc_syncfs() is not None:
            _syncfs_each_device(written, dict.fromkeys(directories), self.open_flags)
            return
        for fd in written:
            self.flush_data(fd)
        for directory in dict.fromkeys(directories):
            self.sync_directory(directory)

    # Locking -------------------------------------------------------------------------------

    def try_lock(self, fd: int) -> bool:
        """Take the file's exclusive lock without waiting; False when another holds it. The
        lock belongs to the open file: the system drops it when the process dies."""
        if self.lock == "flock":
            return _flock(fd)
        with self._position(fd):  # the lock is taken at the descriptor's position
            return _lock_far_byte(fd)

    # Positional reads and writes -----------------------------------------------------------

    def write_at(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        """Write at ``offset`` without disturbing another thread's write; returns the count
        written (possibly short, as os.write's)."""
        if self.positional:
            return _pwrite(fd, data, offset)
        with self._position(fd):
            os.lseek(fd, offset, os.SEEK_SET)
            return os.write(fd, data)

    def read_at(self, fd: int, size: int, offset: int) -> bytes:
        if self.positional:
            return _pread(fd, size, offset)
        with self._position(fd):
            os.lseek(fd, offset, os.SEEK_SET)
            return os.read(fd, size)

    def read_into(self, fd: int, buffer: memoryview, offset: int) -> int:
        """Fill ``buffer`` from ``offset``; returns the count read (short at the end of the
        file). No new bytes object per read: reading a whole file through one reused buffer
        spares an allocation, and its page faults, per block."""
        if self.positional and hasattr(os, "preadv"):
            return os.preadv(fd, [buffer], offset)
        data = self.read_at(fd, len(buffer), offset)
        buffer[: len(data)] = data
        return len(data)

    def remove_directory_below(self, base: str, parts: Sequence[str]) -> None:
        """``rmdir base/parts…`` where it is empty, reaching it without following a symlink
        (a directory swapped for one during the run leads nowhere else): through directory
        descriptors where the platform has them, else checked with ``lstat`` on the way.
        Raises OSError when it is not empty, gone, or reached only through a link."""
        if self.hold_directories:
            _rmdir_through_descriptors(base, parts, self.no_follow)
            return
        path = base
        for part in parts:
            path = os.path.join(path, part)
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise OSError(errno.ELOOP, "a symbolic link on the way", path)
        os.rmdir(path)

    def open_directory(
        self, name: str | Path, dir_fd: int | None = None, *, follow: bool = False
    ) -> int:
        """A descriptor of the directory ``name`` (relative to ``dir_fd`` when given), its
        last component never a symbolic link unless ``follow``. Only where
        ``hold_directories``; raises OSError (ELOOP or ENOTDIR for a link or a file)."""
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | self.open_flags
        return os.open(name, flags | (0 if follow else self.no_follow), dir_fd=dir_fd)

    def make_blocking(self, fd: int) -> None:
        """Undo ``non_block`` once the file is open (it only keeps the open from waiting)."""
        if self.non_block:
            _set_blocking(fd)

    @contextmanager
    def _position(self, fd: int) -> Iterator[None]:
        with _POSITION_LOCKS[fd % len(_POSITION_LOCKS)]:
            yield


def detect() -> PlatformIO:
    """This process's platform, from what the ``os`` and ``fcntl`` modules offer now."""
    darwin = sys.platform == "darwin"
    windows = sys.platform == "win32"
    return PlatformIO(
        reserve=_reserve_kind(darwin),
        flush="fdatasync" if hasattr(os, "fdatasync") else "fsync",
        full_flush=F_FULLFSYNC if darwin else None,
        lock="lockfile" if windows else "flock",
        positional=hasattr(os, "pwrite") and hasattr(os, "pread"),
        no_follow=getattr(os, "O_NOFOLLOW", 0),
        non_block=getattr(os, "O_NONBLOCK", 0),
        # O_CLOEXEC where it exists; O_BINARY on Windows, whose C library otherwise opens
        # files in text mode and rewrites line ends in binary data.
        open_flags=getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0),
        sync_directories=not windows,
        rename_open=not windows,
        flush_many="syncfs" if _has_syncfs() else "each",
        hold_directories=_can_hold_directories(),
    )


def _can_hold_directories() -> bool:
    """Directories opened without following a link, and names relative to them: Linux and
    macOS. Removing ``O_DIRECTORY`` (tests/without_os) selects the path-named fallback."""
    needed = {os.open, os.stat, os.unlink, os.rename, os.mkdir, os.rmdir}
    return (
        hasattr(os, "O_DIRECTORY")
        and hasattr(os, "O_NOFOLLOW")
        and needed <= getattr(os, "supports_dir_fd", set())
    )


def _has_syncfs() -> bool:
    # The C library is opened at the first batch, not here: the parent never needs it.
    return sys.platform.startswith("linux") and hasattr(os, "sync")


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2) from the C library (glibc since 2.14, musl), or None: then each
    file is flushed instead."""
    import ctypes  # noqa: PLC0415  (only where a batch is flushed)

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return call


def _syncfs(fd: int) -> None:
    call = _libc_syncfs()
    if call is None:
        raise OSError(errno.ENOSYS, "syncfs does not exist here")
    if call(fd) != 0:
        import ctypes  # noqa: PLC0415  (loaded by _libc_syncfs already)

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _syncfs_each_device(fds: Sequence[int], directories: Iterable[Path | int], flags: int) -> None:
    """One ``syncfs`` for each file system that holds one of ``fds`` or ``directories``."""
    devices: dict[int, int | Path] = {}
    for fd in fds:
        devices.setdefault(os.fstat(fd).st_dev, fd)
    for directory in directories:
        if isinstance(directory, int):
            devices.setdefault(os.fstat(directory).st_dev, directory)
        else:
            devices.setdefault(os.stat(directory).st_dev, directory)
    for found in devices.values():
        if isinstance(found, int):
            _syncfs(found)
            continue
        fd = os.open(found, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | flags)
        try:
            _syncfs(fd)
        finally:
            os.close(fd)


def _rmdir_through_descriptors(base: str, parts: Sequence[str], no_follow: int) -> None:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    fd = os.open(base, flags)
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | no_follow, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.rmdir(parts[-1], dir_fd=fd)
    finally:
        os.close(fd)


def _reserve_kind(darwin: bool) -> Reserve:
    if hasattr(os, "posix_fallocate"):
        return "fallocate"
    return "preallocate" if darwin else "extend"


def allocated(info: os.stat_result) -> int:
    """Bytes the file occupies on its device; its size where the platform does not say
    (Windows has no st_blocks)."""
    blocks = getattr(info, "st_blocks", None)
    return info.st_size if blocks is None else blocks * STAT_BLOCK


def extend(fd: int, size: int) -> None:
    """Make the file ``size`` bytes long if it is shorter; never shorten it."""
    if os.fstat(fd).st_size < size:
        os.ftruncate(fd, size)


def fstore(flags: int, length: int) -> bytes:
    """macOS's fstore_t asking for ``length`` more bytes from the file's physical end."""
    return FSTORE.pack(flags, F_PEOFPOSMODE, 0, length, 0)


def _preallocate(fd: int, size: int) -> None:
    """Take the blocks a ``size``-byte file needs beyond those it has, all or none: in one
    contiguous run if there is one, else anywhere. The file's length is left as it was."""
    missing = size - allocated(os.fstat(fd))
    if missing <= 0:
        return
    try:
        _fcntl(fd, F_PREALLOCATE, fstore(F_ALLOCATECONTIG | F_ALLOCATEALL, missing))
    except OSError:
        _fcntl(fd, F_PREALLOCATE, fstore(F_ALLOCATEALL, missing))


def _full_flush(fd: int, command: int) -> bool:
    """Ask the drive to write out its cache; False where the file system refuses (network
    and some external file systems do), so that a plain fsync is done instead."""
    try:
        _fcntl(fd, command, 0)
    except OSError:
        return False
    return True


# What only some systems have, defined once for each, so that each branch is type-checked
# for the system it runs on. A call that the system lacks fails as the system would.

if sys.platform == "win32":
    import msvcrt

    def _fcntl(fd: int, command: int, arg: bytes | int) -> bytes | int:
        raise OSError(errno.ENOSYS, "fcntl does not exist on Windows")

    def _flock(fd: int) -> bool:
        raise OSError(errno.ENOSYS, "flock does not exist on Windows")

    def _pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
        raise OSError(errno.ENOSYS, "os.pwrite does not exist on Windows")

    def _pread(fd: int, size: int, offset: int) -> bytes:
        raise OSError(errno.ENOSYS, "os.pread does not exist on Windows")

    def _set_blocking(fd: int) -> None:
        pass  # files on Windows are never opened non-blocking

    def _lock_far_byte(fd: int) -> bool:
        os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

else:
    import fcntl

    def _fcntl(fd: int, command: int, arg: bytes | int) -> bytes | int:
        return fcntl.fcntl(fd, command, arg)

    def _pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def _pread(fd: int, size: int, offset: int) -> bytes:
        return os.pread(fd, size, offset)

    def _set_blocking(fd: int) -> None:
        os.set_blocking(fd, True)

    def _flock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock_far_byte(fd: int) -> bool:
        raise OSError(errno.ENOSYS, "msvcrt.locking exists on Windows only")


if sys.platform == "darwin" or sys.platform == "win32":

    def _fallocate(fd: int, size: int) -> None:
        raise OSError(errno.ENOSYS, "posix_fallocate does not exist here")

    def _fdatasync(fd: int) -> None:
        os.fsync(fd)

else:

    def _fallocate(fd: int, size: int) -> None:
        os.posix_fallocate(fd, 0, size)

    def _fdatasync(fd: int) -> None:
        os.fdatasync(fd)


PLATFORM = detect()
