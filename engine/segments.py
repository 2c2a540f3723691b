"""The segment scheduler: how a file's byte range is split among connections, and how a
connection that finishes early takes over half of the largest range still unfetched.

Pure: no I/O. The fetcher owns the ``Segment`` objects and advances ``pos`` as bytes land."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class Segment:
    """Bytes ``[start, end)`` of a file; ``[start, pos)`` are on disk."""

    start: int
    end: int
    pos: int

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    @property
    def done(self) -> bool:
        return self.pos >= self.end


def plan_segments(size: int, connections: int, min_segment: int, align: int = 1) -> list[Segment]:
    """Split ``[0, size)`` into at most ``connections`` near-equal segments, none smaller than
    ``min_segment`` (a file below twice that gets one segment). Every boundary but the file's
    end falls on a multiple of ``align``, so each block of that size belongs to one segment."""
    count = max(1, min(connections, size // max(1, min_segment)))
    inner = [_align_down(size * i // count, align) for i in range(1, count)]
    bounds = sorted({0, *(b for b in inner if 0 < b < size), size})
    return [Segment(lo, hi, lo) for lo, hi in itertools.pairwise(bounds)] or [Segment(0, 0, 0)]


def ordered_count(size: int, connections: int, piece: int) -> int:
    """How many segments ``connections`` connections should walk, front to back, for a file
    of ``size`` bytes: pieces of about ``piece`` bytes, never fewer than the connections.

    Taking pieces in order keeps the complete prefix of the file growing as bytes arrive,
    so it can be hashed while the rest downloads instead of after the last byte. One
    connection reads in order anyway: it gets one segment and one request."""
    if connections <= 1:
        return 1
    return max(connections, size // max(1, piece))


def split_largest(segments: list[Segment], min_split: int, align: int = 1) -> Segment | None:
    """Hand the unfetched second half of the largest remaining segment to a new segment.

    Returns the new segment (already inserted in ``segments`` in start order), or None when no
    segment has at least ``2 * min_split`` bytes left: the tail is too short to gain from
    another connection. The split point is a multiple of ``align``."""
    victim = max(segments, key=lambda s: s.remaining, default=None)
    if victim is None or victim.remaining < 2 * max(1, min_split):
        return None
    middle = _align_down(victim.pos + victim.remaining // 2, align)
    if middle <= victim.pos or middle >= victim.end:
        return None
    taken = Segment(middle, victim.end, middle)
    victim.end = middle
    segments.insert(segments.index(victim) + 1, taken)
    return taken


def _align_down(offset: int, align: int) -> int:
    return offset - offset % max(1, align)


def contiguous_prefix(segments: Sequence[Segment]) -> int:
    """How many bytes from offset 0 are on disk without a gap (segments are in start order)."""
    prefix = 0
    for segment in segments:
        if segment.start != prefix:
            break
        if not segment.done:
            return segment.pos
        prefix = segment.end
    return prefix


def bytes_done(segments: Sequence[Segment]) -> int:
    return sum(s.pos - s.start for s in segments)
