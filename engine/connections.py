"""The connections of one file: each claims work from the file's segment board, asks the server
for it in ranged requests, checks that every answer is the bytes asked for of the version the
download started with, and writes each chunk at its offset."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from evio_fetch.engine.blocks import BlockDigests
from evio_fetch.engine.content_range import content_length, parse_content_range, range_header
from evio_fetch.engine.drive_gate import DriveGate
from evio_fetch.engine.drive_pages import MAX_PAGE_BYTES, is_html_page, throttle_from
from evio_fetch.engine.errors import (
    BodyLengthError,
    DiskFullError,
    DriveError,
    DriveThrottledError,
    EvioError,
    HTTPStatusError,
    RangeError,
    RangesIgnoredError,
    RemoteChangedError,
    TransportError,
)
from evio_fetch.engine.model import Options
from evio_fetch.engine.probe import status_error
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.retry import RetryPolicy, retry_after
from evio_fetch.engine.segment_board import UNBOUNDED, Segment, SegmentBoard
from evio_fetch.engine.storage import PartFile
from evio_fetch.engine.transport import Reply, Transport

# Drive cuts transfers after about an hour; a link renewed more often than this is broken.
MAX_RENEWALS = 8
CHANGED_HINT = "run the same command again to fetch the new version"


@dataclass(slots=True)
class Pending:
    """A reply already open at ``segment.pos`` (the probe's), to be read before any request;
    its body ends at ``stop``."""

    reply: Reply
    segment: Segment
    stop: int


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

    @property
    def over(self) -> bool:
        return self.active > self.limit


@dataclass(slots=True)
class FileWork:
    """What every connection of one file shares."""

    transport: Transport
    options: Options
    url: str
    # The source's own URL: only its origin gets the user's headers and credentials, even
    # when ``url`` is where it redirected to.
    home: str
    part: PartFile
    board: SegmentBoard
    digests: BlockDigests | None
    # The version the download started with: every answer must be the same one.
    representation: Representation
    # False: the server ignores ranges, and the file is one stream from its first byte.
    ranged: bool
    label: str = ""
    rng: random.Random = field(default_factory=random.Random)
    connections: ConnectionLimit = field(default_factory=lambda: ConnectionLimit(1))
    # Google Drive's budget for this machine, for a Drive source (engine.drive_gate).
    gate: DriveGate | None = None
    # For sources whose URL expires (Google Drive): asks for a fresh URL to the same bytes.
    refresh: Callable[[], Awaitable[str]] | None = None
    # Told of each retry (the policy after the failure, the failure, the pause before it).
    retried: Callable[[RetryPolicy, EvioError, float], None] | None = None
    renewals: int = 0
    renewing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def renew(self, stale: str) -> None:
        """Replace an expired URL, once for all the connections that found it expired."""
        async with self.renewing:
            if self.url != stale or self.refresh is None:
                return
            if self.renewals >= MAX_RENEWALS:
                raise DriveError(
                    f"{stale}: Google Drive withdrew the download link {self.renewals} times",
                    "run the same command again later: the download resumes",
                )
            self.renewals += 1
            self.url = await self.refresh()


async def run_connections(work: FileWork, pending: Pending | None) -> None:
    count = work.options.segments if work.ranged else 1
    work.connections = ConnectionLimit(count)
    firsts: list[tuple[Segment, Pending | None]] = []
    if pending is not None:
        firsts.append((pending.segment, pending))
    while len(firsts) < count and (segment := work.board.claim()) is not None:
        firsts.append((segment, None))
    try:
        async with asyncio.TaskGroup() as group:
            for segment, first in firsts:
                group.create_task(_connection(work, segment, first))
    except BaseExceptionGroup as failures:
        # One connection's failure stops its siblings; the file fails for that one reason.
        raise _most_telling(failures) from None


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


async def _connection(work: FileWork, segment: Segment | None, first: Pending | None) -> None:
    """One connection's life: the segment it was given, then whatever the board hands it,
    until nothing is left or the server wants fewer connections."""
    work.connections.active += 1
    try:
        while segment is not None:
            try:
                await _fill_segment(work, segment, first)
            finally:
                work.board.release(segment)
            first = None
            segment = work.board.claim() if work.ranged and not work.connections.over else None
    except _Leave:
        pass  # its segment is free again: the connections that stay take it
    finally:
        work.connections.active -= 1


class _Leave(Exception):
    """This connection ends: the server throttles, and the others are enough."""


async def _fill_segment(work: FileWork, segment: Segment, first: Pending | None) -> None:
    policy = RetryPolicy(work.options.retries)
    while not segment.done:
        before = segment.pos
        try:
            if first is not None:
                async with _drive_place(work):  # the probe's answer is one of Drive's too
                    await _pump(work, first.reply, segment, first.stop)
            else:
                await _request_span(work, segment)
        except EvioError as error:
            if segment.pos > before:
                policy = policy.after_progress()
            policy = await _recover(work, policy, error)
        finally:
            if first is not None:
                first.reply.abandon()
            first = None


async def _recover(work: FileWork, policy: RetryPolicy, error: EvioError) -> RetryPolicy:
    """After a failed request: renew an expired link, or wait and try again (fewer
    connections when the server throttles); raises when the file must give up."""
    if isinstance(error, _Expired):
        try:
            await work.renew(error.url)
            return policy
        except EvioError as renewal:
            error = renewal
    if not work.ranged:
        raise error  # one stream cannot continue mid-body: the file starts again
    if is_throttle(error):
        if work.gate is not None:
            work.gate.throttled(retry_after(error))
        work.connections.lower()
        if work.connections.over:
            raise _Leave
    policy = policy.increment(error)
    pause = policy.pause(error, work.rng)
    if work.retried is not None:
        work.retried(policy, error, pause)
    await asyncio.sleep(pause)
    return policy


def is_throttle(error: EvioError) -> bool:
    return isinstance(error, DriveThrottledError) or (
        isinstance(error, HTTPStatusError) and error.status == 429
    )


async def _request_span(work: FileWork, segment: Segment) -> None:
    stop = work.board.span_end(segment)
    headers = {"Range": range_header(segment.pos, stop - 1)}
    validator = work.representation.if_range
    if validator:
        headers["If-Range"] = validator
    url = work.url
    async with _drive_place(work), work.transport.get(url, headers, work.home) as reply:
        await _refuse_throttling(work, reply)
        if work.refresh is not None and (reply.status in (401, 403) or is_html_page(reply.headers)):
            raise _Expired(url)
        check_span(reply, work, segment.pos, stop - 1)
        await _pump(work, reply, segment, stop)


def _drive_place(work: FileWork) -> AbstractAsyncContextManager[None]:
    """One of the byte responses Drive takes from this machine at once (nothing to hold for
    other sources)."""
    return work.gate.place() if work.gate is not None else nullcontext()


async def _refuse_throttling(work: FileWork, reply: Reply) -> None:
    """Raise when the answer says the server throttles this client: a 429, or (from Google
    Drive) an error page saying "automated queries"."""
    drive_page = work.refresh is not None and reply.status >= 400 and is_html_page(reply.headers)
    if reply.status != 429 and not drive_page:
        return
    body = await reply.read(MAX_PAGE_BYTES) if drive_page else None
    throttled = throttle_from(reply.status, reply.headers, body, label=work.label)
    if throttled is not None:
        raise throttled
    if reply.status == 429:
        raise status_error(reply.status, reply.headers, reply.url)


class _Expired(EvioError):
    """The source's URL no longer serves the bytes (Drive drops long transfers)."""

    code = "source_expired"

    def __init__(self, url: str) -> None:
        super().__init__(f"{url}: the download link expired")
        self.url = url

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.url,))


def check_span(reply: Reply, work: FileWork, first: int, last: int) -> None:
    """Raise unless ``reply`` carries exactly bytes ``first``..``last`` of the version the
    download started with."""
    if reply.status >= 400:
        raise status_error(reply.status, reply.headers, reply.url)
    span = parse_content_range(reply.headers.get("Content-Range"))
    total = span.total if span is not None and reply.status == 206 else None
    if reply.status == 200:
        total = content_length(reply.headers)
    # An answer from elsewhere (a redirect) must show it is the same version, not only fail
    # to show it is another.
    elsewhere = reply.url != work.url
    answer = Representation.of(reply.headers, total)
    changed = work.representation.difference(answer, strict=elsewhere)
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


async def _pump(work: FileWork, reply: Reply, segment: Segment, stop: int) -> None:
    """Write the reply's body at the segment's position up to ``stop`` (or the segment's end,
    which may shrink while this runs when another connection takes over its tail)."""
    async for chunk in reply.chunks():
        room = min(segment.end, stop) - segment.pos
        if len(chunk) > room:
            _write(work, segment, memoryview(chunk)[: max(0, room)])
            if not work.ranged:
                raise _too_long(work, reply)
            return  # the rest belongs to a connection that took this segment's tail over
        _write(work, segment, chunk)
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


def _write(work: FileWork, segment: Segment, data: bytes | memoryview) -> None:
    if not data:
        return
    work.part.write_at(data, segment.pos)
    if work.digests is not None:
        work.digests.add(segment.pos, data)
    work.board.advance(segment, len(data))
