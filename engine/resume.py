"""Deciding what of a partial download can be trusted: the state must describe the same
remote file, and the blocks it vouches for must still read back with their digests."""

from __future__ import annotations

from dataclasses import dataclass

from evio_fetch.engine.blocks import BLOCK_SIZE, align_down, block_matches, tail_matches
from evio_fetch.engine.model import FileSpec, SourceId
from evio_fetch.engine.probe import Probe
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.segment_board import Segment
from evio_fetch.engine.state import SegmentState, SourceState, State


@dataclass(frozen=True, slots=True)
class ResumePoint:
    segments: list[Segment]
    digests: dict[int, int]

    @property
    def first_gap(self) -> int | None:
        """Where the first unfinished segment continues; None when every byte is there."""
        return next((s.pos for s in self.segments if not s.done), None)


def usable(state: State, spec: FileSpec) -> bool:
    """Whether the state belongs to this download at all: one of its sources is one of the
    spec's."""
    sizes_agree = spec.size is None or spec.size == state.size
    hashes_agree = (spec.sha256 is None or spec.sha256 == state.sha256) and (
        spec.checksum is None or spec.checksum == state.checksum
    )
    shared = any(recorded(state, source) is not None for source in spec.sources())
    return (
        shared
        and sizes_agree
        and hashes_agree
        and state.block_size == BLOCK_SIZE
        and _covers(state.segments, state.size)
    )


def recorded(state: State, source: SourceId) -> SourceState | None:
    """What the state recorded of ``source``; None if it names no such source."""
    for saved in state.recorded_sources():
        if (saved.drive_id if source.drive else saved.url) == source.given:
            return saved
    return None


def saved_version(state: State, source: SourceId) -> Representation | None:
    """The version of the file the state recorded ``source`` serving; None for a source it
    does not know."""
    saved = recorded(state, source)
    if saved is None:
        return None
    return Representation(state.size, saved.etag, saved.last_modified)


def unchanged(state: State, probe: Probe, source: SourceId) -> bool:
    """Whether ``source`` still serves the version the state was fetching: a ranged answer of
    the same size whose validators do not say otherwise. A source the state does not know (a
    mirror added since) agrees by its size: sources are declared the same bytes, and the
    SHA256, when known, is the judge."""
    if not probe.ranged or probe.total != state.size:
        return False
    version = saved_version(state, source)
    return version is None or version.difference(probe.representation, strict=True) is None


def trusted_point(fd: int, state: State, check_all: bool) -> ResumePoint:
    """Where each segment can continue. Flushed bytes after the last completed block are kept
    (the state was written after they were flushed); a block that no longer reads back with
    its digest is fetched again, with everything after it in its segment."""
    digests = dict(state.blocks)
    segments = [_trusted_segment(fd, s, state.size, digests, check_all) for s in state.segments]
    return ResumePoint(segments, digests)


def _trusted_segment(
    fd: int, saved: SegmentState, size: int, digests: dict[int, int], check_all: bool
) -> Segment:
    """The segment continues at its flushed end when its last completed block (every block,
    with ``check_all``) reads back right; otherwise after the last block that does."""
    whole_end = saved.end if saved.done >= saved.end else align_down(saved.done)
    first, last = saved.start // BLOCK_SIZE, -(-whole_end // BLOCK_SIZE) - 1
    indices = list(range(first, last + 1))
    checked = indices if check_all else indices[-1:]
    bad = next((i for i in checked if not _matches(fd, i, size, digests)), None)
    if bad is None:
        return Segment(saved.start, saved.end, max(_trusted_end(fd, saved), saved.start))
    if not check_all:  # the last block failed: walk back to one that holds
        bad = next((i for i in reversed(indices[:-1]) if _matches(fd, i, size, digests)), first - 1)
        bad += 1
    for index in range(bad, last + 1):
        digests.pop(index, None)  # fetched again, so hashed again
    return Segment(saved.start, saved.end, max(saved.start, bad * BLOCK_SIZE))


def _trusted_end(fd: int, saved: SegmentState) -> int:
    """How far the segment's bytes can be trusted: to ``done`` when the bytes after its last
    whole block read back with their digest (a state edited, or planted, to claim bytes that
    were never written is caught), else to that block's start."""
    if saved.done >= saved.end or tail_matches(fd, saved.done, saved.tail):
        return saved.done
    return align_down(saved.done)


def _matches(fd: int, index: int, size: int, digests: dict[int, int]) -> bool:
    return index in digests and block_matches(fd, index, size, digests[index])


def _covers(segments: list[SegmentState], size: int) -> bool:
    edge = 0
    for s in segments:
        if s.start != edge or not s.start <= s.done <= s.end or s.start % BLOCK_SIZE:
            return False
        edge = s.end
    return edge == size
