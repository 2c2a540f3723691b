"""The connections of one file: each claims work from the file's segment board, asks its source
for it in ranged requests, checks that every answer is the bytes asked for of the version that
source serves, and writes each chunk at its offset.

A connection is bound to one source of the file (its URL, its Drive file or a mirror): the
connections that start together are spread over the healthy sources in turn. A connection
whose source fails takes the next healthy one (at once while another is there; after the
usual pause when its source is the last); a source that fails for good, or serves another
size or a version that changes, is dropped for the file; the file fails when none is left."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from evio_fetch.engine.blocks import BlockDigests
from evio_fetch.engine.connection_sizer import ConnectionSizer
from evio_fetch.engine.content_range import content_length, parse_content_range, range_header
from evio_fetch.engine.drive_pages import MAX_PAGE_BYTES, is_html_page, throttle_from
from evio_fetch.engine.errors import (
    BodyLengthError,
    DiskFullError,
    DownloadError,
    DriveError,
    DriveThrottledError,
    EvioError,
    HTTPStatusError,
    LinkExpiredError,
    RangeError,
    RangesIgnoredError,
    RemoteChangedError,
    SourceMismatchError,
    TransportError,
)
from evio_fetch.engine.file_sources import FileSources, Source
from evio_fetch.engine.model import Options
from evio_fetch.engine.probe import EXPIRED_HINT, status_error
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.retry import RetryPolicy, retry_after
from evio_fetch.engine.segment_board import UNBOUNDED, Segment, SegmentBoard
from evio_fetch.engine.storage import PartFile
from evio_fetch.engine.transport import Reply, Transport

# How often the bytes that arrived are sampled while the connections size themselves: often,
# so a measurement starts soon after new connections receive their first bytes (the sizer
# measures over several samples); seldom once their count is settled.
SAMPLE_INTERVAL = 0.02
SETTLED_INTERVAL = 0.25
# Drive cuts transfers after about an hour, a signed link expires after its lifetime: a link
# renewed this many times in a row without a byte in between is broken.
MAX_RENEWALS = 8
CHANGED_HINT = "run the same command again to fetch the new version"
# What a link that served the file answers once it has expired (S3: 403; some CDNs: 410).
EXPIRED_STATUSES = (401, 403, 410)


@dataclass(slots=True)
class Pending:
    """A reply already open at ``segment.pos`` (the probe's, from ``source``), to be read
    before any request; its body ends at ``stop``."""

    reply: Reply
    segment: Segment
    stop: int
    source: Source


@dataclass(slots=True)
class ConnectionLimit:
    """How many connections a file may hold. A server that throttles (429, Google's
    "automated queries" page) says it takes fewer: each refused connection lowers the limit
    below the connections open (itself among them) and leaves, so once every refusal is back
    the limit is what the server serves. It is not raised again for this file."""

    limit: int
    active: int = 0

    def lower(self) -> None:
        self.limit = max(1, min(self.limit, self.active - 1))

    def leave(self) -> bool:
        """Whether a connection should leave now; if so it is uncounted at once, so that the
        others, deciding before it is gone, do not all leave with it."""
        if not self.over:
            return False
        self.active -= 1
        return True

    @property
    def over(self) -> bool:
        return self.active > self.limit


@dataclass(slots=True)
class FileWork:
    """What every connection of one file shares."""

    transport: Transport
    options: Options
    part: PartFile
    board: SegmentBoard
    digests: BlockDigests | None
    # Where the bytes come from; every answer must be the version its source serves, of the
    # file's size.
    sources: FileSources
    # False: the server ignores ranges, and the file is one stream from its first byte.
    ranged: bool
    label: str = ""
    rng: random.Random = field(default_factory=random.Random)
    connections: ConnectionLimit = field(default_factory=lambda: ConnectionLimit(1))
    # Sizes the connections by the rate they reach; None: ``options.segments`` of them.
    sizer: ConnectionSizer | None = None
    # Told of each retry (the policy after the failure, the failure, the pause before it).
    retried: Callable[[RetryPolicy, EvioError, float], None] | None = None


@dataclass(slots=True)
class _Link:
    """One connection's source, and its budget of failures there."""

    source: Source
    policy: RetryPolicy


async def run_connections(work: FileWork, lead: Source, pending: Pending | None) -> None:
    """Fetch the rest of the file, on as many connections as allowed (as many as pay, when
    ``work.sizer`` decides), starting with ``lead`` (the source that answered the probe)."""
    sizer = work.sizer if work.ranged else None
    count = _first_count(work, sizer)
    work.connections = ConnectionLimit(count)
    firsts: list[tuple[Segment, Pending | None]] = []
    if pending is not None:
        firsts.append((pending.segment, pending))
    while len(firsts) < count and (segment := work.board.claim()) is not None:
        firsts.append((segment, None))
    sources = work.sources.spread(lead, len(firsts))
    sizing: asyncio.Task[None] | None = None
    try:
        async with asyncio.TaskGroup() as group:
            crew = _Crew(work, group, lead)
            for (segment, first), source in zip(firsts, sources, strict=True):
                crew.start(segment, source, first)
            if sizer is not None:
                sizing = asyncio.create_task(_resize(work, crew, sizer))
    except BaseExceptionGroup as failures:
        # One connection's failure stops its siblings; the file fails for that one reason.
        raise _most_telling(failures) from None
    finally:
        if sizing is not None:
            sizing.cancel()
            with suppress(asyncio.CancelledError):
                await sizing


def _first_count(work: FileWork, sizer: ConnectionSizer | None) -> int:
    if not work.ranged:
        return 1
    if sizer is not None:
        return sizer.target
    return work.options.segments or 1


@dataclass(slots=True)
class _Crew:
    """Starts the connections of one file in its task group, each on a source in turn, and
    tells which of them are receiving bytes yet."""

    work: FileWork
    group: asyncio.TaskGroup
    last: Source
    # The first segment of each connection that has not written a byte yet, and where it
    # stood when the connection started.
    starting: list[tuple[Segment, int]] = field(default_factory=list)

    def start(
        self, segment: Segment, source: Source | None = None, first: Pending | None = None
    ) -> None:
        if source is None:
            source = self.work.sources.after(self.last) or self.last
        self.last = source
        # Counted at once, not when the task first runs: the sizer must not start it twice.
        self.work.connections.active += 1
        self.starting.append((segment, segment.pos))
        link = _Link(source, RetryPolicy(self.work.options.retries))
        self.group.create_task(_connection(self.work, link, segment, first))

    def receiving(self) -> int:
        """Connections that have written bytes (a connection starting up is not measured)."""
        self.starting = [(s, pos) for s, pos in self.starting if s.claimed and s.pos == pos]
        return self.work.connections.active - len(self.starting)


async def _resize(work: FileWork, crew: _Crew, sizer: ConnectionSizer) -> None:
    """Every interval, tell the sizer what arrived, and start or retire connections to match
    its answer (a retired connection leaves once its piece is written)."""
    loop = asyncio.get_running_loop()
    then, written = loop.time(), work.board.bytes_done()
    while True:
        await asyncio.sleep(SETTLED_INTERVAL if sizer.settled else SAMPLE_INTERVAL)
        now, total = loop.time(), work.board.bytes_done()
        wanted = sizer.observe(crew.receiving(), total - written, now - then)
        then, written = now, total
        limit = min(wanted, sizer.ceiling)
        work.connections.limit = limit
        while work.connections.active < limit and (segment := work.board.claim()) is not None:
            crew.start(segment)


def _most_telling(failures: BaseExceptionGroup[BaseException]) -> BaseException:
    flat: list[BaseException] = []
    pending: list[BaseException] = [failures]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            flat.append(error)
    ranked = sorted(
        flat,
        key=lambda e: (
            not isinstance(e, DiskFullError),
            not isinstance(e, RemoteChangedError),
            not isinstance(e, EvioError),
        ),
    )
    return ranked[0]


async def _connection(
    work: FileWork, link: _Link, segment: Segment | None, first: Pending | None
) -> None:
    """One connection's life: the segment it was given, then whatever the board hands it,
    until nothing is left or the server wants fewer connections."""
    left = False
    try:
        while segment is not None:
            try:
                await _fill_segment(work, link, segment, first)
            finally:
                work.board.release(segment)
            first = None
            segment = work.board.claim() if work.ranged and not work.connections.over else None
    except _Leave:
        left = True  # its segment is free again: the connections that stay take it
    finally:
        if not left:
            work.connections.active -= 1


class _Leave(Exception):
    """This connection ends, already uncounted (``ConnectionLimit.leave``): the server
    throttles, or the sizer wants fewer, and the others are enough."""


async def _fill_segment(
    work: FileWork, link: _Link, segment: Segment, first: Pending | None
) -> None:
    link.policy = RetryPolicy(work.options.retries)
    while not segment.done:
        before = segment.pos
        try:
            if first is not None:
                # The probe's answer is one of Drive's byte responses too.
                async with _drive_place(first.source):
                    await _pump(work, first.source, first.reply, segment, first.stop)
            else:
                if link.source.failure is not None:  # another connection dropped it
                    _switch(work, link, link.source.failure)
                await _request_span(work, link.source, segment)
        except EvioError as error:
            if segment.pos > before:
                link.policy = link.policy.after_progress()
            await _recover(work, link, error)
        finally:
            if first is not None:
                first.reply.abandon()
            first = None


async def _recover(work: FileWork, link: _Link, error: EvioError) -> None:
    """After a failed request: renew an expired link, move to another source, or wait and
    try again (fewer connections when the server throttles); raises when the file must give
    up."""
    source = link.source
    if isinstance(error, _Expired):
        try:
            await _renew(work, source, error.url)
            return
        except EvioError as renewal:
            error = renewal
    if not work.ranged or not isinstance(error, DownloadError):
        raise error  # one stream cannot continue mid-body: the file starts again
    if is_throttle(error) or (work.sizer is not None and _busy(error)):
        if is_throttle(error) and source.gate is not None:
            source.gate.throttled(retry_after(error))
        work.connections.lower()
        if work.sizer is not None:
            work.sizer.throttled(work.connections.limit)
        if work.connections.leave():
            raise _Leave
    if not error.transient:
        _switch(work, link, error)
        return
    if work.sources.others(source):
        # Another source can serve at once; this one is dropped after as many failures in a
        # row as a connection would retry.
        source.strikes += 1
        if source.strikes > work.options.retries:
            _switch(work, link, error)
        else:
            _move_on(work, link)
        return
    try:
        link.policy = link.policy.increment(error)
    except EvioError:
        _switch(work, link, error)  # the last source: this raises
        return
    pause = link.policy.pause(error, work.rng)
    if work.retried is not None:
        work.retried(link.policy, error, pause)
    await asyncio.sleep(pause)


def _switch(work: FileWork, link: _Link, error: EvioError) -> None:
    """Drop the link's source for ``error`` and take the next healthy one (raises when none
    is left)."""
    link.source = work.sources.drop(link.source, error)
    link.policy = RetryPolicy(work.options.retries)


def _move_on(work: FileWork, link: _Link) -> None:
    following = work.sources.after(link.source)
    if following is not None and following is not link.source:
        link.source = following
        link.policy = RetryPolicy(work.options.retries)


async def _renew(work: FileWork, source: Source, stale: str) -> None:
    """Replace ``source``'s expired link, once for all the connections that found it
    expired."""
    async with source.renewing:
        if source.url != stale:
            return  # another connection renewed it meanwhile
        if source.served > source.served_at_renewal:
            source.renewals = 0  # bytes flowed since the last renewal: the link worked
        if source.renewals >= MAX_RENEWALS:
            raise _renewals_spent(work, source)
        source.renewals += 1
        source.served_at_renewal = source.served
        source.url = await _fresh_url(work, source)


def _renewals_spent(work: FileWork, source: Source) -> EvioError:
    if source.id.drive:
        return DriveError(
            f"{work.label}: Google Drive withdrew the download link {source.renewals} times",
            "run the same command again later: the download resumes",
        )
    return LinkExpiredError(
        f"{work.label}: {source.label} led to {source.renewals} links in a row that had "
        "expired before they served a byte",
        EXPIRED_HINT,
    )


async def _fresh_url(work: FileWork, source: Source) -> str:
    """Ask the source again from what was given (Drive's flow, or the link that redirected):
    the same file, a new URL."""
    async with source.open({"Range": "bytes=0-0"}) as reply:
        span = parse_content_range(reply.headers.get("Content-Range"))
        reply.abandon()
        if reply.status >= 400:
            raise status_error(reply.status, reply.headers, reply.url)
        total = span.total if span is not None else None
        answer = Representation.of(reply.headers, total)
        known = source.representation
        # Always from elsewhere than the link that expired: it must state the validators again.
        changed = known is not None and known.difference(answer, strict=True) is not None
        if reply.status != 206 or total is None or total != work.board.size or changed:
            raise RemoteChangedError(
                f"{work.label}: the file changed at {source.label} during the download",
                CHANGED_HINT,
            )
        return reply.url


def _busy(error: EvioError) -> bool:
    """A 503: the server is busy. Connections it sized itself take it as a throttle."""
    return isinstance(error, HTTPStatusError) and error.status == 503


def is_throttle(error: EvioError) -> bool:
    return isinstance(error, DriveThrottledError) or (
        isinstance(error, HTTPStatusError) and error.status == 429
    )


async def _request_span(work: FileWork, source: Source, segment: Segment) -> None:
    introducing = await source.introduce()
    if source.failure is not None:
        return  # dropped while this connection waited: it takes another (see _fill_segment)
    try:
        stop = work.board.span_end(segment)
        headers = {"Range": range_header(segment.pos, stop - 1)}
        known = source.representation
        if known is not None and known.if_range:
            headers["If-Range"] = known.if_range
        asked = source.url
        async with (
            _drive_place(source),
            source.open(headers)
            if asked is None
            else work.transport.get(asked, headers, source.home) as reply,
        ):
            await _refuse_throttling(work, source, reply)
            _refuse_expired(source, reply, asked)
            check_span(reply, work, source, segment.pos, stop - 1, asked=asked)
            if source.url == asked:  # not renewed meanwhile: where the link leads now
                source.url = reply.url
            if introducing:
                introducing = False
                source.settle()
            await _pump(work, source, reply, segment, stop)
    finally:
        if introducing:
            source.settle()


def _drive_place(source: Source) -> AbstractAsyncContextManager[None]:
    """One of the byte responses Drive takes from this machine at once (nothing to hold for
    other sources)."""
    return source.gate.place() if source.gate is not None else nullcontext()


def _refuse_expired(source: Source, reply: Reply, asked: str | None) -> None:
    """Raise when the link no longer serves the file: a link that can be renewed is renewed
    (``_Expired``); another that served the file before has expired for good."""
    expired = reply.status in EXPIRED_STATUSES
    if source.id.drive:
        expired = expired or is_html_page(reply.headers)
    if not expired:
        return
    if source.renewable and asked is not None:
        raise _Expired(asked)
    if source.representation is not None:
        raise LinkExpiredError(
            f"{reply.url}: the link stopped serving the file (HTTP {reply.status}); it has "
            "probably expired",
            EXPIRED_HINT,
            reply.status,
        )


async def _refuse_throttling(work: FileWork, source: Source, reply: Reply) -> None:
    """Raise when the answer says the server throttles this client: a 429, or (from Google
    Drive) an error page saying "automated queries"."""
    drive_page = source.id.drive and reply.status >= 400 and is_html_page(reply.headers)
    if reply.status != 429 and not drive_page:
        return
    body = await reply.read(MAX_PAGE_BYTES) if drive_page else None
    throttled = throttle_from(reply.status, reply.headers, body, label=work.label)
    if throttled is not None:
        raise throttled
    if reply.status == 429:
        raise status_error(reply.status, reply.headers, reply.url)


class _Expired(EvioError):
    """The source's URL no longer serves the bytes (Drive drops long transfers, a signed link
    expires): ask the source again for a fresh one."""

    code = "source_expired"

    def __init__(self, url: str) -> None:
        super().__init__(f"{url}: the download link expired")
        self.url = url

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.url,))


def check_span(
    reply: Reply, work: FileWork, source: Source, first: int, last: int, *, asked: str | None
) -> None:
    """Raise unless ``reply`` (to a request for ``asked``; None: through the source's own
    flow) carries exactly bytes ``first``..``last`` of the version ``source`` serves; the
    first answer of a source fixes its version, and must state the file's size."""
    if reply.status >= 400:
        raise status_error(reply.status, reply.headers, reply.url)
    span = parse_content_range(reply.headers.get("Content-Range"))
    total = span.total if span is not None and reply.status == 206 else None
    if reply.status == 200:
        total = content_length(reply.headers)
    answer = Representation.of(reply.headers, total)
    known = source.representation
    if known is None and total is not None and total != work.board.size:
        raise SourceMismatchError(
            f"{reply.url}: this source has {total} bytes, the file's others "
            f"{work.board.size}: it serves another file",
            "check the mirrors of the file: they must serve the same bytes",
        )
    # An answer from elsewhere (a redirect), or the first checked against what a previous run
    # recorded, must show it is the same version, not only fail to show it is another.
    strict = reply.url != asked or source.restored
    changed = known.difference(answer, strict=strict) if known is not None else None
    if changed is not None:
        raise RemoteChangedError(
            f"{reply.url}: the file changed on the server during the download ({changed})",
            CHANGED_HINT,
        )
    if reply.status == 200:
        raise RangesIgnoredError(f"{reply.url}: the server stopped honouring byte ranges")
    length = content_length(reply.headers)
    expected = (first, last, work.board.size)
    if reply.status != 206 or span != expected or length not in (None, last + 1 - first):
        raise RangeError(
            f"{reply.url}: asked for bytes {first}-{last}, got HTTP {reply.status} "
            f"with Content-Range {reply.headers.get('Content-Range')!r}",
            "the server's range support is unreliable; try --segments 1",
        )
    if known is None:
        source.representation = answer
    source.restored = False


async def _pump(work: FileWork, source: Source, reply: Reply, segment: Segment, stop: int) -> None:
    """Write the reply's body at the segment's position up to ``stop`` (or the segment's end,
    which may shrink while this runs when another connection takes over its tail)."""
    async for chunk in reply.chunks():
        if work.sizer is not None and work.connections.leave():
            # The sizer wants fewer: the rest of the segment is free for those that stay.
            raise _Leave
        room = min(segment.end, stop) - segment.pos
        if len(chunk) > room:
            _write(work, source, segment, memoryview(chunk)[: max(0, room)])
            if not work.ranged:
                raise _too_long(work, reply)
            return  # the rest belongs to a connection that took this segment's tail over
        _write(work, source, segment, chunk)
    limit = min(segment.end, stop)
    if segment.end == UNBOUNDED:
        work.board.end_stream(segment)
    elif segment.pos < limit:
        raise TransportError(
            f"{reply.url}: the body ended at byte {segment.pos} of {limit}",
            "the connection was cut; --retries sets how often it is tried again",
        )


def _too_long(work: FileWork, reply: Reply) -> BodyLengthError:
    return BodyLengthError(
        f"{reply.url}: the server sent more than the file's {work.board.size} bytes",
        "the size in the manifest may be out of date; fix it, or leave it out",
    )


def _write(work: FileWork, source: Source, segment: Segment, data: bytes | memoryview) -> None:
    if not data:
        return
    work.part.write_at(data, segment.pos)
    if work.digests is not None:
        work.digests.add(segment.pos, data)
    work.board.advance(segment, len(data))
    source.wrote(len(data))
