"""Digests of files (SHA256, and a manifest's other checksum): of whole files on disk, and of
a file still being written, hashed as its contiguous prefix grows so the check ends moments
after the last byte lands. Each block is read once, whatever the number of algorithms."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

from evio_fetch.engine.checksums import Algorithm, Digests, expected, first_mismatch
from evio_fetch.engine.errors import ChecksumMismatchError, UnsafePathError
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.platform_io import PLATFORM
from evio_fetch.engine.safe_paths import open_regular

BLOCK = 1024 * 1024


def file_digests(path: Path, algorithms: Iterable[Algorithm]) -> dict[Algorithm, str]:
    digests = Digests(algorithms)
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digests.update(block)
    return digests.hexdigests()


def sha256_file(path: Path) -> str:
    return file_digests(path, ["sha256"])["sha256"]


def algorithms_for(spec: FileSpec) -> list[Algorithm]:
    """SHA256 always (it names the bytes in the report), and the manifest's other checksum."""
    other = spec.checksum
    return (
        ["sha256"] if other is None or other.algorithm == "sha256" else ["sha256", other.algorithm]
    )


def mismatch(spec: FileSpec, digests: dict[Algorithm, str]) -> ChecksumMismatchError | None:
    """The error when ``digests`` contradict what the spec expects; None when they agree."""
    found = first_mismatch(expected(spec.sha256, spec.checksum), digests)
    if found is None:
        return None
    wanted, got = found
    return ChecksumMismatchError(
        f"{spec.label}: {wanted.shown} mismatch: got {got}, expected {wanted.hex}",
        "the file differs from the manifest's; if the source changed, update it",
    )


class HashPool:
    """A few long-lived threads that hash every file of a run. A thread per file cost the
    parent more than hashing a 1 MiB file, and its start stalled the parent's loop."""

    def __init__(self, threads: int | None = None) -> None:
        count = threads or min(4, os.cpu_count() or 1)
        self._executor = ThreadPoolExecutor(count, thread_name_prefix="hash")

    def hasher(
        self,
        path: str,
        wake: Callable[[], None],
        algorithms: Iterable[Algorithm] = ("sha256",),
        identity: tuple[int, int] | None = None,
    ) -> PrefixHasher:
        return PrefixHasher(path, wake, self._executor, algorithms, identity)

    def close(self) -> None:
        # Tasks still queued run: each sees its hasher cancelled and closes its file.
        self._executor.shutdown(wait=False)


class PrefixHasher:
    """Hashes ``path`` up to the offset it is told is complete, on a pool's thread.

    hashlib releases the GIL on large updates, so hashing overlaps with the caller's work.
    At most one pool task works on a file at a time; it hashes what is known to be complete,
    then ends, and the next advance schedules another. When the final size is reached,
    ``digests`` (one per algorithm) or ``error`` is set and ``wake`` is called.

    The file is opened as a regular file of its own, never through a link
    (engine.safe_paths), and when ``identity`` (device, inode) is given it must be that
    file: the one the worker writes, even if its directory was swapped for a link since."""

    def __init__(
        self,
        path: str,
        wake: Callable[[], None],
        executor: Executor,
        algorithms: Iterable[Algorithm] = ("sha256",),
        identity: tuple[int, int] | None = None,
    ) -> None:
        self._path = path
        self._identity = identity
        self._wake = wake
        self._executor = executor
        self._lock = threading.Lock()
        self._target = 0
        self._final: int | None = None
        self._cancelled = False
        self._scheduled = False
        # Touched only by the one scheduled task.
        self._hashed = 0
        self._digests = Digests(algorithms)
        self._fd: int | None = None
        self.digests: dict[Algorithm, str] | None = None
        self.error: str | None = None

    def advance(self, upto: int) -> None:
        with self._lock:
            if upto > self._target:
                self._target = upto
                self._schedule()

    def finish(self, size: int) -> None:
        with self._lock:
            self._final = size
            self._target = size
            self._schedule()

    def cancel(self) -> None:
        with self._lock:
            if self._scheduled:
                self._cancelled = True  # the running task stops and closes the file
            else:
                self._end()

    @property
    def finished(self) -> bool:
        return self.digests is not None or self.error is not None

    def _schedule(self) -> None:
        """Called with the lock held."""
        if not self._scheduled and not self._cancelled:
            self._scheduled = True
            try:
                self._executor.submit(self._work)
            except BaseException:
                self._scheduled = False  # no task runs: cancel() must close the file itself
                raise

    def _work(self) -> None:
        try:
            while (target := self._next_target()) is not None:
                self._hash_until(target)
        except (OSError, UnsafePathError) as error:
            with self._lock:
                self._end()
            self.error = f"cannot read {self._path} to check it: {error}"
            self._wake()

    def _next_target(self) -> int | None:
        """What to hash up to next; None when this task is done (caught up, finished or
        cancelled), in which case the next advance schedules another."""
        with self._lock:
            if self._cancelled:
                self._end()
            elif self._final == self._hashed:
                self._end()
                self.digests = self._digests.hexdigests()
                self._wake()
            elif self._target > self._hashed:
                return self._target
            self._scheduled = False
            return None

    def _hash_until(self, target: int) -> None:
        if self._fd is None:
            self._fd = self._open()
        buffer = _thread_buffer()
        while self._hashed < target and not self._cancelled:
            want = min(BLOCK, target - self._hashed)
            count = PLATFORM.read_into(self._fd, buffer[:want], self._hashed)
            if not count:
                raise OSError(f"{self._path} ended at byte {self._hashed}, expected {target}")
            self._digests.update(buffer[:count])
            self._hashed += count

    def _open(self) -> int:
        fd = open_regular(Path(self._path), os.O_RDONLY)
        info = os.fstat(fd)
        if self._identity is not None and (info.st_dev, info.st_ino) != self._identity:
            os.close(fd)
            raise OSError(f"{self._path} is no longer the file being written")
        return fd

    def _end(self) -> None:
        self._cancelled = True  # nothing more is hashed, whatever arrives later
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_LOCAL = threading.local()


def _thread_buffer() -> memoryview:
    """The calling thread's read buffer, one block, reused for every file it hashes: a
    pool's few threads keep a few MiB between them instead of allocating each block."""
    buffer: memoryview | None = getattr(_LOCAL, "buffer", None)
    if buffer is None:
        buffer = _LOCAL.buffer = memoryview(bytearray(BLOCK))
    return buffer
