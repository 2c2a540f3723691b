"""The partial file beside a target: create, lock, preallocate, write at offsets, flush, and
move into place atomically. Every OSError leaves here as one of our errors, and this is where
a lack of space is judged: this file's (it does not fit) or the device's (it is full)."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from evio_fetch.engine.errors import (
    BusyError,
    DeviceFullError,
    DiskFullError,
    DownloadError,
    EvioError,
)
from evio_fetch.engine.platform_io import PLATFORM, PlatformIO, allocated, extend
from evio_fetch.engine.safe_paths import VerifiedDirectories
from evio_fetch.engine.target_dir import TargetDirectory

# A run that was just killed may take a moment to let go of its files: wait that long for
# the lock before calling the target busy.
LOCK_WAIT = 2.0
# A file that does not fit leaves less than this free, and the device counts as full: hardly
# any other file would fit (nor, perhaps, a state file), so the run stops instead of failing
# the rest one by one.
DEVICE_FULL_FLOOR = 1024 * 1024
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NOT_SUPPORTED = (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS)


def free_space(directory: Path) -> int | None:
    """Bytes an unprivileged user may still write on the device of ``directory`` (blocks kept
    for root not counted); None when its file system does not report a size."""
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return None
    return usage.free if usage.total else None


def disk_error(error: OSError, path: Path, doing: str) -> EvioError:
    """The error for ``error`` while ``doing`` something to ``path``. No space for bytes
    being written means the device is full; a file beyond the file system's largest fails
    alone."""
    if error.errno in _NO_SPACE:
        return _device_full(path, f"no space left on the device while {doing}")
    if error.errno == errno.EFBIG:
        return _too_large(path)
    return DownloadError(
        f"{path}: {doing} failed: {error.strerror or error}",
        "check that you may write there, or choose another place with -o",
    )


def _no_room(path: Path, needed: int, free: int | None) -> DiskFullError:
    """``needed`` bytes did not fit in ``free``: the device is full when next to nothing is
    free (or its file system will not say), else only this file is too large for it."""
    if free is None or free < DEVICE_FULL_FLOOR:
        return _device_full(path, "no space left on the device")
    return DiskFullError(
        f"{path}: needs {needed:,} bytes of space, its device has {free:,} free",
        "free more space or download it to another device, then run again",
    )


def _device_full(path: Path, what: str) -> DeviceFullError:
    return DeviceFullError(
        f"{path}: {what}", "free some space and run the same command again: downloads resume"
    )


def _too_large(path: Path) -> DiskFullError:
    return DiskFullError(
        f"{path}: larger than its file system allows for one file",
        "download it to a file system that allows larger files",
    )


class PartFile:
    """An open, exclusively locked partial file. The lock belongs to this open file, so the
    system drops it when the process dies: no stale lock files to clean up. Its directories
    are made below ``root`` and it is opened as a regular file of its own, never through
    anything planted there (engine.safe_paths). ``platform`` says how it is reserved,
    written, flushed and locked (engine.platform_io). Its directory is held open from
    here to ``close`` (engine.target_dir): the state file and everything else beside the
    target is reached through ``directory``."""

    def __init__(
        self,
        path: Path,
        root: Path | None = None,
        platform: PlatformIO = PLATFORM,
        directories: VerifiedDirectories | None = None,
    ) -> None:
        self.path = path
        self.platform = platform
        try:
            self.directory = TargetDirectory.open(
                root or path.parent, path.parent, platform, directories
            )
        except OSError as error:
            raise disk_error(error, path, "creating it") from None
        try:
            self.fd, self.created = _open_or_create(path, self.directory)
        except BaseException as error:
            self.directory.close()
            if isinstance(error, OSError):
                raise disk_error(error, path, "creating it") from None
            raise
        # The size reserved by this run (None: nothing yet, or cut since).
        self.reserved: int | None = None
        if not platform.try_lock(self.fd):
            self.close()
            raise BusyError(
                f"{path}: another evio-fetch process is downloading this file",
                "wait for it to finish, or stop it; this run leaves the file alone",
            ) from None

    @classmethod
    async def acquire(
        cls, path: Path, root: Path | None = None, wait: float = LOCK_WAIT
    ) -> PartFile:
        deadline = time.monotonic() + wait
        while True:
            # Creating a file waits on the file system's journal, which other files' flushes
            # keep busy: on a thread, the worker's other downloads go on.
            opening = asyncio.ensure_future(asyncio.to_thread(cls, path, root))
            try:
                return await asyncio.shield(opening)
            except BusyError:
                if time.monotonic() >= deadline:
                    raise
            except asyncio.CancelledError:
                await _abandon(opening)
                raise
            await asyncio.sleep(0.05)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def identity(self) -> tuple[int, int]:
        """The file's device and inode."""
        info = os.fstat(self.fd)
        return info.st_dev, info.st_ino

    def preallocate(self, size: int) -> None:
        """Reserve the whole file now, so a full disk shows before any byte is fetched. A
        file that does not fit holds on to nothing: it is refused when it needs more than is
        free, and a reservation that fails anyway (space taken meanwhile, the file system's
        own overhead) is cut back to the old size, giving back what it took beyond it: ext4
        and XFS keep the blocks of a failed reservation. Where the platform cannot reserve,
        the file is only extended, and a lack of space shows when a write finds none. A
        size already reserved is not reserved again."""
        if self.reserved == size:
            return
        before = os.fstat(self.fd)
        needed = size - allocated(before)
        free = free_space(self.path.parent)
        if free is not None and needed > free:
            raise _no_room(self.path, needed, free)
        try:
            self.platform.reserve_space(self.fd, size)
        except OSError as error:
            if error.errno not in _NOT_SUPPORTED:
                self.truncate(before.st_size)
                raise self._reserve_error(error, needed) from None
            self._extend(size)  # a file system that reserves nothing: extended only
        self.reserved = size

    def _reserve_error(self, error: OSError, needed: int) -> EvioError:
        if error.errno in _NO_SPACE:
            return _no_room(self.path, needed, free_space(self.path.parent))
        return disk_error(error, self.path, "reserving space")

    def truncate(self, size: int) -> None:
        self.reserved = None
        try:
            os.ftruncate(self.fd, size)
        except OSError as error:
            raise disk_error(error, self.path, "setting its size") from None

    def _extend(self, size: int) -> None:
        try:
            extend(self.fd, size)
        except OSError as error:
            raise disk_error(error, self.path, "setting its size") from None

    def write_at(self, data: bytes | memoryview, offset: int) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self.platform.write_at(self.fd, view, offset)
                view = view[written:]
                offset += written
        except OSError as error:
            raise disk_error(error, self.path, "writing") from None

    def sync(self) -> None:
        try:
            self.platform.flush_data(self.fd)
        except OSError as error:
            raise disk_error(error, self.path, "flushing to disk") from None

    def close(self) -> None:
        """Let go of the file (and its lock) and of its directory."""
        self._close_file()
        self.directory.close()

    def _close_file(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read_at(self, size: int, offset: int) -> bytes:
        return self.platform.read_at(self.fd, size, offset)

    def discard(self) -> None:
        """Remove the part file and let go of it; its directory stays held until ``close``."""
        if not self.platform.rename_open:
            self._close_file()  # Windows removes no open file; the lock goes with it
        self.directory.unlink(self.path)
        self._close_file()  # the directory stays held until close()

    def move_into_place(self, target: Path, cleanup: Callable[[], None] | None = None) -> None:
        """Rename the finished file over ``target`` while still holding the lock, run
        ``cleanup`` (removing what described the partial download) at once, so a kill can
        hardly fall between the two, then make both durable with one flush of the directory.
        The part's path must still name the file that was written and hashed: a rename moves
        a name, not the bytes that were checked. Windows renames no open file: there the
        file is closed first, and its lock is let go a moment before the rename. The file is
        closed on the way out, its directory only by ``close``."""
        try:
            self.rename_into_place(target, cleanup)
            self.directory.sync()
        except OSError as error:
            raise disk_error(error, target, "moving the finished file into place") from None
        finally:
            # The directory stays held: a caller cleaning up after a failure reaches the
            # part and state through it, never through a path that may lead elsewhere now.
            self._close_file()

    def rename_into_place(self, target: Path, cleanup: Callable[[], None] | None = None) -> None:
        """``move_into_place`` without the flush of the directory, for a caller that makes
        several renames durable at once. The directory must still be where its path leads,
        so the file lands where it is reported. Raises OSError (and UnsafePathError)."""
        self.directory.check_same_file(self.path, self.fd)
        self.directory.check_in_place()
        if not self.platform.rename_open:
            self._close_file()
        self.directory.replace(self.path, target)
        if cleanup is not None:
            cleanup()


def _open_or_create(path: Path, directory: TargetDirectory) -> tuple[int, bool]:
    """The part's descriptor, and whether this open made the file."""
    try:
        return directory.open_regular(path, os.O_RDWR | os.O_CREAT | os.O_EXCL), True
    except FileExistsError:
        return directory.open_regular(path, os.O_RDWR | os.O_CREAT), False


async def _abandon(opening: asyncio.Future[PartFile]) -> None:
    """A cancelled acquire: cancelling does not stop the thread opening the file, so wait for
    it, and leave nothing behind: a file it made holds nothing and is removed, one it found
    (a download to resume) is only closed."""
    await asyncio.wait([opening])
    if opening.cancelled() or opening.exception() is not None:
        return
    part = opening.result()
    if part.created:
        part.discard()
    part.close()
