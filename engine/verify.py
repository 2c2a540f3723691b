"""SHA256 of files: of whole files on disk, and of a file still being written, hashed as its
contiguous prefix grows so the check ends moments after the last byte lands."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

BLOCK = 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


class PrefixHasher:
    """Hashes ``path`` on its own thread up to the offset it is told is complete.

    hashlib releases the GIL on large updates, so hashing overlaps with the caller's work.
    When the final size is reached, ``digest`` (or ``error``) is set and ``wake`` is called."""

    def __init__(self, path: str, wake: Callable[[], None]) -> None:
        self._path = path
        self._wake = wake
        self._ready = threading.Condition()
        self._target = 0
        self._final: int | None = None
        self._cancelled = False
        self.digest: str | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"sha256 {path}", daemon=True)
        self._thread.start()

    def advance(self, upto: int) -> None:
        with self._ready:
            if upto > self._target:
                self._target = upto
                self._ready.notify()

    def finish(self, size: int) -> None:
        with self._ready:
            self._final = size
            self._target = size
            self._ready.notify()

    def cancel(self) -> None:
        with self._ready:
            self._cancelled = True
            self._ready.notify()

    @property
    def finished(self) -> bool:
        return self.digest is not None or self.error is not None

    def _next_target(self, hashed: int) -> int | None:
        """Block until there is more to hash; None when done or cancelled."""
        with self._ready:
            while not self._cancelled and self._target <= hashed and self._final != hashed:
                self._ready.wait()
            if self._cancelled or self._final == hashed:
                return None
            return self._target

    def _run(self) -> None:
        digest = hashlib.sha256()
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            self._fail(error)
            return
        try:
            self._hash_until_final(fd, digest)
        except OSError as error:
            self._fail(error)
        finally:
            os.close(fd)

    def _hash_until_final(self, fd: int, digest: hashlib._Hash) -> None:
        hashed = 0
        while (target := self._next_target(hashed)) is not None:
            while hashed < target:
                block = os.pread(fd, min(BLOCK, target - hashed), hashed)
                if not block:
                    raise OSError(f"{self._path} ended at byte {hashed}, expected {target}")
                digest.update(block)
                hashed += len(block)
        if not self._cancelled:
            self.digest = digest.hexdigest()
            self._wake()

    def _fail(self, error: OSError) -> None:
        self.error = f"cannot read {self._path} to check it: {error}"
        self._wake()
