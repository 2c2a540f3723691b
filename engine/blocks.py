"""xxh3 digests of a file's fixed-size blocks, computed from the bytes as they are written and
checked against the disk on resume, so a damaged block is fetched again instead of trusted."""

from __future__ import annotations

from collections.abc import Mapping

import xxhash

from evio_fetch.engine.platform_io import PLATFORM

BLOCK_SIZE = 1024 * 1024


class BlockDigests:
    """Digests of completed blocks. Every block is filled front to back by one connection
    (segment boundaries fall on block boundaries), so one running hash per open block is
    enough."""

    def __init__(self, size: int, known: Mapping[int, int] | None = None) -> None:
        self.size = size
        self.done: dict[int, int] = dict(known or {})
        self._open: dict[int, xxhash.xxh3_64] = {}

    def add(self, offset: int, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            index, within = divmod(offset, BLOCK_SIZE)
            end = min((index + 1) * BLOCK_SIZE, self.size)
            take = min(len(view), end - offset)
            running = self._open.pop(index, None)
            if running is None and within == 0:
                running = xxhash.xxh3_64()
            if running is not None:  # None: a block entered midway has no digest to make
                running.update(view[:take])
                if offset + take == end:
                    self.done[index] = running.intdigest()
                else:
                    self._open[index] = running
            offset += take
            view = view[take:]

    def reopen(self, offset: int, fd: int) -> None:
        """Continue the block that ``offset`` falls inside, from the bytes already on disk."""
        index, within = divmod(offset, BLOCK_SIZE)
        if within and index not in self.done:
            running = xxhash.xxh3_64()
            running.update(PLATFORM.read_at(fd, within, index * BLOCK_SIZE))
            self._open[index] = running

    def completed(self) -> dict[int, int]:
        return dict(self.done)

    def partial(self, offset: int) -> int | None:
        """The digest of the bytes written so far in the block ``offset`` falls inside (from
        its start to ``offset``), if that block is being filled; None otherwise."""
        running = self._open.get(offset // BLOCK_SIZE)
        return None if running is None or offset % BLOCK_SIZE == 0 else running.intdigest()


def tail_matches(fd: int, offset: int, digest: int | None) -> bool:
    """Whether the bytes from the start of ``offset``'s block up to ``offset`` read back
    with ``digest``."""
    start = align_down(offset)
    if digest is None or offset == start:
        return offset == start
    data = PLATFORM.read_at(fd, offset - start, start)
    return len(data) == offset - start and xxhash.xxh3_64_intdigest(data) == digest


def block_matches(fd: int, index: int, size: int, digest: int) -> bool:
    start = index * BLOCK_SIZE
    length = min(BLOCK_SIZE, size - start)
    data = PLATFORM.read_at(fd, length, start)
    return len(data) == length and xxhash.xxh3_64_intdigest(data) == digest


def align_down(offset: int) -> int:
    return offset - offset % BLOCK_SIZE
