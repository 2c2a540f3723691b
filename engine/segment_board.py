"""The segment board: which connection owns which bytes of one file.

A file is a row of segments in start order that covers it exactly. A connection ``claim``s
work and gets a segment it alone writes, front to back; it asks the server for
``span_end(segment)`` at a time and ``advance``s the segment as bytes land. The rules:

- **Pieces in order.** Work is claimed from the front: the first unclaimed segment, cut to one
  piece when it is larger (pieces are made as they are claimed, so the row stays as short as
  the work in flight, whatever size a server claims). The complete prefix of the file then
  grows as it downloads, and its hash keeps pace.
- **Take over half.** Once nothing is unclaimed, a connection that runs out of work takes the
  second half of the largest range that nobody has asked for yet, if that is worth a request.
- **Ask for half.** While a take-over is possible, a request asks for at most half of what its
  segment has left, so the other half stays free to hand over: no byte in flight is ever
  abandoned. With one connection nobody can take anything over: one request per segment.
- Finished neighbours merge, so the row (and the state file that records it) stays short.

Pure: no I/O, no clock. Boundaries other than the file's end fall on ``align`` multiples, so
every block of that size is written by one connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Stands for "until the server stops" in a stream of unknown length.
UNBOUNDED = 1 << 62


@dataclass(slots=True, eq=False)
class Segment:
    """Bytes ``[start, end)`` of a file; ``[start, pos)`` are written. ``asked``: how far the
    open request of its owner reaches (``pos`` when none is open)."""

    start: int
    end: int
    pos: int
    claimed: bool = False
    asked: int = 0

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    @property
    def done(self) -> bool:
        return self.pos >= self.end

    @property
    def free(self) -> int:
        """Bytes of this segment that no request asks for yet."""
        return self.end - max(self.pos, self.asked)


@dataclass(frozen=True, slots=True)
class BoardShape:
    """How a board cuts its file: at most ``connections`` at once, pieces of about ``piece``
    bytes and never below ``min_piece``, no take-over of less than ``min_split`` bytes,
    boundaries on multiples of ``align``."""

    connections: int
    piece: int
    min_piece: int
    min_split: int
    align: int


class SegmentBoard:
    def __init__(self, size: int | None, shape: BoardShape, row: Iterable[Segment] = ()) -> None:
        """A board for a file of ``size`` bytes (None: unknown until the stream ends), fresh or
        continuing the ``row`` a previous run left (which must cover the file)."""
        self.size = size
        self.shape = shape
        self.segments = list(row) or [Segment(0, UNBOUNDED if size is None else size, 0)]
        self._piece = _piece_length(size, shape)

    # Claiming ---------------------------------------------------------------------------------

    def claim(self) -> Segment | None:
        """Work for a connection: the next piece in order, else half of the largest free range,
        else None (nothing left worth another connection)."""
        return self._next_piece() or self._take_over()

    def _next_piece(self) -> Segment | None:
        waiting = next((s for s in self.segments if not s.claimed and not s.done), None)
        return None if waiting is None else self.claim_at(waiting)

    def _cut_point(self, segment: Segment) -> int | None:
        """Where to cut an untouched segment so its front is one piece; None to take it whole
        (touched, unbounded, or too little would be left behind)."""
        if segment.pos != segment.start or segment.end == UNBOUNDED:
            return None
        cut = _align_down(segment.start + self._piece, self.shape.align)
        if cut <= segment.start or segment.end - cut < self.shape.min_piece:
            return None
        return cut

    def _take_over(self) -> Segment | None:
        if self.shape.connections <= 1 or self.size is None:
            return None
        victim = max(self.segments, key=lambda s: s.free if s.claimed else 0, default=None)
        if victim is None or not victim.claimed or victim.free < 2 * self.shape.min_split:
            return None
        committed = max(victim.pos, victim.asked)
        middle = _align_down(committed + victim.free // 2, self.shape.align)
        if middle <= committed or middle >= victim.end:
            return None
        taken = Segment(middle, victim.end, middle, claimed=True, asked=middle)
        victim.end = middle
        self.segments.insert(self.segments.index(victim) + 1, taken)
        return taken

    # Working a segment ------------------------------------------------------------------------

    def span_end(self, segment: Segment) -> int:
        """Where the next request for ``segment`` should stop (exclusive), recorded as asked:
        the whole segment while pieces wait to be claimed or nobody could take a half over;
        otherwise half of what is left, in whole ``align`` units."""
        left = segment.remaining
        stop = segment.end
        if self._halves(left):
            half = _align_down(segment.pos + left // 2, self.shape.align)
            stop = min(segment.end, max(segment.pos + self.shape.min_split, half))
        segment.asked = stop
        return stop

    def _halves(self, left: int) -> bool:
        return (
            self.shape.connections > 1
            and self.size is not None
            and left > 2 * self.shape.min_split
            and not self._has_unclaimed()
        )

    def asked_to(self, segment: Segment, stop: int) -> None:
        """A request already open (the probe's) reaches ``stop``."""
        segment.asked = stop

    def advance(self, segment: Segment, count: int) -> None:
        segment.pos += count

    def end_stream(self, segment: Segment) -> None:
        """A stream of unknown length ended where the segment stands: the file ends there."""
        segment.end = segment.pos
        self.size = segment.pos

    def release(self, segment: Segment) -> None:
        """The owner leaves ``segment`` (finished, or failing): it may be claimed again, and
        finished neighbours merge."""
        segment.claimed, segment.asked = False, segment.pos
        self._merge_done()

    def _merge_done(self) -> None:
        merged: list[Segment] = []
        for segment in self.segments:
            last = merged[-1] if merged else None
            if last is not None and _idle_done(last) and _idle_done(segment):
                last.end = last.pos = segment.end
            else:
                merged.append(segment)
        self.segments[:] = merged

    def _has_unclaimed(self) -> bool:
        return any(not s.claimed and not s.done for s in self.segments)

    # Reading the board ------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return all(s.done for s in self.segments)

    def bytes_done(self) -> int:
        return sum(s.pos - s.start for s in self.segments)

    def prefix(self) -> int:
        """Bytes from offset 0 written without a gap."""
        return contiguous_prefix(self.segments)

    def first_gap(self) -> int | None:
        """Where the first unfinished segment continues; None when every byte is written."""
        return next((s.pos for s in self.segments if not s.done), None)

    def segment_at(self, offset: int) -> Segment | None:
        """The unclaimed, unfinished segment that continues at ``offset`` (for a reply that
        is already open there)."""
        return next(
            (s for s in self.segments if s.pos == offset and not s.done and not s.claimed), None
        )

    def claim_at(self, segment: Segment) -> Segment:
        """Claim ``segment`` (found by ``segment_at``), cut to one piece like any claim."""
        cut = self._cut_point(segment)
        if cut is not None:
            self.segments.insert(self.segments.index(segment) + 1, Segment(cut, segment.end, cut))
            segment.end = cut
        segment.claimed, segment.asked = True, segment.pos
        return segment


def contiguous_prefix(segments: Iterable[Segment]) -> int:
    """How many bytes from offset 0 are written without a gap (segments in start order)."""
    prefix = 0
    for segment in segments:
        if segment.start != prefix:
            break
        if not segment.done:
            return segment.pos
        prefix = segment.end
    return prefix


def _piece_length(size: int | None, shape: BoardShape) -> int:
    """About ``piece`` bytes, fewer for a file that would not give every connection one,
    never below ``min_piece``."""
    if size is None or shape.connections <= 1:
        return UNBOUNDED
    share = -(-size // shape.connections)
    return max(shape.min_piece, min(shape.piece, share))


def _idle_done(segment: Segment) -> bool:
    return segment.done and not segment.claimed


def _align_down(offset: int, align: int) -> int:
    return offset - offset % max(1, align)
