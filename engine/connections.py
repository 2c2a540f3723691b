"""The connections of one file: each works through its segment in ranged requests, writing
every chunk at its offset, then takes over half of the largest range nobody has asked for yet.

A request never asks for more than half of what its segment has left, so the other half is
always free to hand to a connection that runs out of work: rebalancing never abandons bytes
already in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from evio_fetch.engine.blocks import BLOCK_SIZE, BlockDigests
from evio_fetch.engine.content_range import parse_content_range, range_header
from evio_fetch.engine.drive_pages import is_html_page
from evio_fetch.engine.errors import (
    DiskFullError,
    DriveError,
    EvioError,
    RangeError,
    RangesIgnoredError,
    RemoteChangedError,
    TransportError,
)
from evio_fetch.engine.model import Options
from evio_fetch.engine.probe import status_error
from evio_fetch.engine.retry import RetryBudget
from evio_fetch.engine.segments import Segment
from evio_fetch.engine.storage import PartFile
from evio_fetch.engine.transport import Reply, Transport

# A connection that runs out of work takes over part of another's range only if it can have
# at least this much: a smaller tail finishes sooner on the connection that already has it.
MIN_SPLIT = BLOCK_SIZE
# Stands for "until the server stops" in a stream of unknown length.
UNBOUNDED = 1 << 62
# Drive cuts transfers after about an hour; a link renewed more often than this is broken.
MAX_RENEWALS = 8


@dataclass(slots=True)
class Pending:
    """A reply already open at ``segment.pos`` (the probe's), to be read before any request;
    its body ends at ``stop`` (None: at the end of the file)."""

    reply: Reply
    segment: Segment
    stop: int | None


@dataclass(slots=True)
class FileWork:
    """What every connection of one file shares."""

    transport: Transport
    options: Options
    url: str
    part: PartFile
    segments: list[Segment]
    digests: BlockDigests | None
    total: int | None
    validator: str | None
    ranged: bool
    # How far each segment's open request reaches; the rest of the segment is free to split.
    asked: dict[int, int]
    # Segments a connection has started on (by id); the rest wait, in order, for the next.
    claimed: set[int] = field(default_factory=set)
    # For sources whose URL expires (Google Drive): asks for a fresh URL to the same bytes.
    refresh: Callable[[], Awaitable[str]] | None = None
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

    def free(self, segment: Segment) -> int:
        return segment.end - max(segment.pos, self.asked.get(id(segment), segment.pos))


async def run_connections(work: FileWork, pending: Pending | None) -> None:
    starts = [s for s in work.segments if not s.done][: work.options.segments]
    if pending is not None and pending.segment not in starts:
        starts = [pending.segment, *starts[:-1]]
    work.claimed.update(id(s) for s in starts)
    try:
        async with asyncio.TaskGroup() as group:
            for segment in starts:
                first = pending if pending is not None and pending.segment is segment else None
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
        flat, key=lambda e: (not isinstance(e, DiskFullError), not isinstance(e, EvioError))
    )
    return ranked[0]


async def _connection(work: FileWork, segment: Segment | None, first: Pending | None) -> None:
    """One connection's life: its own segment, then halves of the largest free ranges."""
    while segment is not None:
        await _fill_segment(work, segment, first)
        first = None
        segment = _next_in_order(work) or (_take_over(work) if work.ranged else None)


def _next_in_order(work: FileWork) -> Segment | None:
    for segment in work.segments:
        if not segment.done and id(segment) not in work.claimed:
            work.claimed.add(id(segment))
            return segment
    return None


def _all_claimed(work: FileWork) -> bool:
    return all(s.done or id(s) in work.claimed for s in work.segments)


def _take_over(work: FileWork) -> Segment | None:
    victim = max(work.segments, key=work.free, default=None)
    if victim is None or work.free(victim) < 2 * MIN_SPLIT:
        return None
    committed = max(victim.pos, work.asked.get(id(victim), victim.pos))
    middle = committed + work.free(victim) // 2
    middle -= middle % BLOCK_SIZE
    if middle <= committed or middle >= victim.end:
        return None
    taken = Segment(middle, victim.end, middle)
    victim.end = middle
    work.segments.insert(work.segments.index(victim) + 1, taken)
    work.claimed.add(id(taken))
    return taken


async def _fill_segment(work: FileWork, segment: Segment, first: Pending | None) -> None:
    budget = RetryBudget(work.options.retries)
    while not segment.done:
        try:
            if first is not None:
                work.asked[id(segment)] = segment.end if first.stop is None else first.stop
                await _pump(work, first.reply, segment, budget, first.stop)
            else:
                await _request_span(work, segment, budget)
        except _Expired as expired:
            await work.renew(expired.url)
        except EvioError as error:
            pause = budget.retry_after(error) if work.ranged else None
            if pause is None:
                raise
            await asyncio.sleep(pause)
        finally:
            if first is not None:
                first.reply.abandon()
            first = None
    work.asked.pop(id(segment), None)


def _span_end(work: FileWork, segment: Segment) -> int:
    """Ask for half of what is left (whole blocks), so the other half stays free to split;
    the whole segment while pieces wait to be claimed, since nobody would take it over."""
    left = segment.remaining
    if left <= 2 * MIN_SPLIT or not _all_claimed(work):
        return segment.end
    half = segment.pos + left // 2
    return min(segment.end, max(segment.pos + MIN_SPLIT, half - half % BLOCK_SIZE))


async def _request_span(work: FileWork, segment: Segment, budget: RetryBudget) -> None:
    stop = _span_end(work, segment)
    work.asked[id(segment)] = stop
    headers = {"Range": range_header(segment.pos, stop - 1), "Accept-Encoding": "identity"}
    if work.validator:
        headers["If-Range"] = work.validator
    url = work.url
    async with work.transport.get(url, headers) as reply:
        if work.refresh is not None and (reply.status in (401, 403) or is_html_page(reply.headers)):
            raise _Expired(url)
        check_span(reply, work, segment.pos, stop - 1)
        await _pump(work, reply, segment, budget, stop)


class _Expired(EvioError):
    """The source's URL no longer serves the bytes (Drive drops long transfers)."""

    code = "source_expired"

    def __init__(self, url: str) -> None:
        super().__init__(f"{url}: the download link expired")
        self.url = url

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.url,))


def check_span(reply: Reply, work: FileWork, first: int, last: int) -> None:
    if reply.status == 200:
        if work.validator and work.validator not in _validators(reply):
            raise RemoteChangedError(
                f"{work.url}: the file changed on the server during the download",
                "run the same command again to fetch the new version",
            )
        raise RangesIgnoredError(f"{work.url}: the server stopped honouring byte ranges")
    if reply.status >= 400:
        raise status_error(reply.status, reply.headers, reply.url)
    span = parse_content_range(reply.headers.get("Content-Range"))
    if reply.status != 206 or span != (first, last, work.total):
        got = reply.headers.get("Content-Range")
        raise RangeError(
            f"{work.url}: asked for bytes {first}-{last}, got HTTP {reply.status} "
            f"with Content-Range {got!r}",
            "the server's range support is unreliable; try --segments 1",
        )


def _validators(reply: Reply) -> tuple[str | None, str | None]:
    return reply.headers.get("ETag"), reply.headers.get("Last-Modified")


async def _pump(
    work: FileWork, reply: Reply, segment: Segment, budget: RetryBudget, stop: int | None = None
) -> None:
    """Write the reply's body at the segment's position up to ``stop`` (or the segment's end,
    which may shrink while this runs when another connection takes over its tail)."""
    async for chunk in reply.chunks():
        limit = min(segment.end, stop) if stop is not None else segment.end
        room = limit - segment.pos
        if len(chunk) >= room:
            _write(work, segment, memoryview(chunk)[:room])
            return
        _write(work, segment, chunk)
        budget.record_progress()
    limit = min(segment.end, stop) if stop is not None else segment.end
    if segment.end == UNBOUNDED:
        segment.end = segment.pos  # a stream of unknown length ends where the server stops
    elif segment.pos < limit:
        raise TransportError(f"{reply.url}: the body ended at byte {segment.pos} of {limit}")


def _write(work: FileWork, segment: Segment, data: bytes | memoryview) -> None:
    work.part.write_at(data, segment.pos)
    if work.digests is not None:
        work.digests.add(segment.pos, data)
    segment.pos += len(data)
