"""Deciding what of a partial download can be trusted: the state must describe the same
remote file, and the blocks it vouches for must still read back with their digests.

A download is known by its resource, not by the signature in its link: a URL that differs
from the one the state recorded only in its credentials, query or fragment (an S3 link signed
again, a CDN token renewed) names the same download when the state holds a validator of that
source's version (ETag or Last-Modified) and the server states it again. Without a validator
only the very same URL does: a query may name another file just as well as sign one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from evio_fetch.engine.blocks import BLOCK_SIZE, align_down, block_matches, tail_matches
from evio_fetch.engine.model import FileSpec, SourceId
from evio_fetch.engine.probe import Probe
from evio_fetch.engine.representation import Representation, is_weak
from evio_fetch.engine.segment_board import Segment
from evio_fetch.engine.state import SegmentState, SourceState, State

# How a recorded source matches one of a spec: the very same, or the same resource whose
# link differs (another signature).
Match = Literal["same", "resource"]
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def recorded(state: State, source: SourceId) -> tuple[SourceState, Match] | None:
    """What the state recorded of ``source``, and how it matched; None if it names no such
    source."""
    for saved in state.recorded_sources():
        how = _match(saved, source)
        if how is not None:
            return saved, how
    return None


def _match(saved: SourceState, source: SourceId) -> Match | None:
    if source.drive:
        return "same" if saved.drive_id == source.given else None
    if saved.url is None:
        return None
    if saved.url == source.given:
        return "same"
    validated = saved.etag is not None or saved.last_modified is not None
    return "resource" if validated and same_resource(saved.url, source.given) else None


def same_resource(one: str, other: str) -> bool:
    """Whether two URLs name one resource: the same scheme, host, port and path, whatever their
    credentials, query and fragment."""
    found = _resource(one)
    return found is not None and found == _resource(other)


def _resource(url: str) -> tuple[str, str, int | None, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return parts.scheme.lower(), host, port, parts.path or "/"


def saved_version(state: State, source: SourceId) -> Representation | None:
    """The version of the file the state recorded ``source`` serving; None for a source it
    does not know."""
    found = recorded(state, source)
    if found is None:
        return None
    saved = found[0]
    return Representation(state.size, saved.etag, saved.last_modified)


def unchanged(state: State, probe: Probe, source: SourceId) -> bool:
    """Whether ``source`` still serves the version the state was fetching: a ranged answer of
    the same size whose validators do not say otherwise, and, for a link that changed since
    (signed again), that state a validator again. A source the state does not know (a mirror
    added since) agrees by its size: sources are declared the same bytes, and the SHA256, when
    known, is the judge."""
    if not probe.ranged or probe.total != state.size:
        return False
    found = recorded(state, source)
    if found is None:
        return True
    saved, how = found
    version = Representation(state.size, saved.etag, saved.last_modified)
    if version.difference(probe.representation, strict=True) is not None:
        return False
    return how == "same" or vouches(version, probe.representation)


def vouches(version: Representation, answer: Representation) -> bool:
    """Whether ``answer`` states one of ``version``'s validators again: a strong ETag, or the
    Last-Modified date."""
    strong = version.etag is not None and not is_weak(version.etag)
    if strong and answer.etag == version.etag:
        return True
    return version.last_modified is not None and answer.last_modified == version.last_modified


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
