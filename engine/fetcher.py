"""One file, from the probe to its final path: probe, name, lock, preallocate, fetch the
segments concurrently (each connection that finishes takes over half of the largest range
left), flush, wait for the parent's hash verdict, move into place."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from evio_fetch.engine import drive, naming
from evio_fetch.engine.content_range import parse_content_range, range_header
from evio_fetch.engine.errors import (
    EvioError,
    RangeError,
    RemoteChangedError,
    TransportError,
)
from evio_fetch.engine.model import (
    Done,
    Event,
    Failed,
    FileSpec,
    Options,
    Progress,
    Started,
    Verdict,
    Written,
)
from evio_fetch.engine.probe import PROBE_HEADERS, Probe, read_probe
from evio_fetch.engine.retry import RetryBudget
from evio_fetch.engine.segments import (
    Segment,
    bytes_done,
    contiguous_prefix,
    plan_segments,
    split_largest,
)
from evio_fetch.engine.storage import PartFile, part_path
from evio_fetch.engine.transport import Reply, Transport

# A connection that runs out of work splits another's range only when each half is at least
# this big: a smaller tail finishes sooner on the connection that already has it.
MIN_SPLIT = 1024 * 1024
# Stands for "until the server stops" in a stream of unknown length.
UNBOUNDED = 1 << 62


@dataclass(slots=True)
class Context:
    """What a download needs from the worker that runs it."""

    transport: Transport
    options: Options
    emit: Callable[[Event], None]
    verdict: Callable[[int], Awaitable[Verdict]]


@dataclass(slots=True)
class Download:
    """A file in flight; the worker's progress reporter reads it."""

    spec: FileSpec
    segments: list[Segment] = field(default_factory=list)
    # Set once a ranged download has begun: from then on a failure retries the segment from
    # where it stopped, never the whole file.
    keeps_progress: bool = False

    def progress(self) -> Progress:
        return Progress(
            self.spec.index, bytes_done(self.segments), contiguous_prefix(self.segments)
        )


def source_url(spec: FileSpec, options: Options) -> str:
    if spec.url is not None:
        return spec.url
    assert spec.drive_id is not None, "a FileSpec has a url or a drive_id"
    return drive.download_url(options.drive_url, spec.drive_id, spec.resource_key)


async def fetch(download: Download, ctx: Context) -> Event:
    """Bring one file to its place; returns its Done or Failed event. Raises only on
    cancellation: every other failure becomes a Failed event."""
    budget = RetryBudget(ctx.options.retries)
    while True:
        try:
            return await _fetch_once(download, ctx)
        except EvioError as error:
            if not error.transient or download.keeps_progress or _give_up(budget):
                raise
            await asyncio.sleep(budget.delay())


def _give_up(budget: RetryBudget) -> bool:
    budget.record_failure()
    return budget.exhausted()


async def _fetch_once(download: Download, ctx: Context) -> Event:
    spec = download.spec
    url = source_url(spec, ctx.options)
    async with ctx.transport.get(url, PROBE_HEADERS) as reply:
        probe = read_probe(reply.status, reply.headers, url, spec)
        target = _target_path(spec, probe, reply.url)
        if spec.target is None and _already_present(target, probe):
            return Done(spec.index, "present", str(target), probe.total or 0)
        part = PartFile(part_path(target))
        try:
            return await _fill(download, ctx, _Job(url, target, part, probe), reply)
        finally:
            part.close()


def _target_path(spec: FileSpec, probe: Probe, final_url: str) -> Path:
    if spec.target is not None:
        return Path(spec.target)
    assert spec.output_dir is not None, "a FileSpec has a target or an output_dir"
    return Path(spec.output_dir) / naming.choose_name(probe.content_disposition, final_url)


def _already_present(target: Path, probe: Probe) -> bool:
    try:
        return target.is_file() and probe.total is not None and target.stat().st_size == probe.total
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class _Job:
    url: str
    target: Path
    part: PartFile
    probe: Probe


async def _fill(download: Download, ctx: Context, job: _Job, reply: Reply) -> Event:
    spec, probe = download.spec, job.probe
    if probe.total is not None:
        job.part.preallocate(probe.total)
    segmented = probe.ranged and probe.total is not None and ctx.options.segments > 1
    total = probe.total if probe.total is not None else UNBOUNDED
    if segmented:
        download.segments = plan_segments(total, ctx.options.segments, ctx.options.min_segment)
    else:
        download.segments = [Segment(0, total, 0)]
    download.keeps_progress = probe.ranged
    ctx.emit(
        Started(
            spec.index, str(job.target), str(job.part.path), probe.total, len(download.segments)
        )
    )
    await _run_connections(download, ctx, job, reply)
    size = _finished_size(download, job)
    job.part.sync()
    ctx.emit(Written(spec.index, size))
    verdict = await ctx.verdict(spec.index)
    if verdict.failure is not None:
        job.part.discard()
        return Failed(spec.index, verdict.failure)
    job.part.move_into_place(job.target)
    return Done(spec.index, "downloaded", str(job.target), size)


def _finished_size(download: Download, job: _Job) -> int:
    segment = download.segments[-1]
    if segment.end != UNBOUNDED:
        return segment.end
    # A stream of unknown length ends where the server stopped; the file ends there too.
    job.part.truncate(segment.pos)
    return segment.pos


async def _run_connections(download: Download, ctx: Context, job: _Job, probe_reply: Reply) -> None:
    first, *others = list(download.segments)
    async with asyncio.TaskGroup() as group:
        group.create_task(_connection(download, ctx, job, first, probe_reply))
        for segment in others:
            group.create_task(_connection(download, ctx, job, segment, None))


async def _connection(
    download: Download, ctx: Context, job: _Job, segment: Segment | None, reply: Reply | None
) -> None:
    """One connection's life: its own segment, then halves of the largest ranges left."""
    while segment is not None:
        await _fetch_segment(ctx, job, segment, reply)
        reply = None
        segment = split_largest(download.segments, MIN_SPLIT) if job.probe.ranged else None


async def _fetch_segment(ctx: Context, job: _Job, segment: Segment, reply: Reply | None) -> None:
    budget = RetryBudget(ctx.options.retries)
    while not segment.done:
        try:
            if reply is not None:
                await _pump(reply, job.part, segment, budget)
            else:
                await _request_segment(ctx, job, segment, budget)
        except EvioError as error:
            if not error.transient or _give_up(budget) or not job.probe.ranged:
                raise
            await asyncio.sleep(budget.delay())
        finally:
            if reply is not None:
                reply.abandon()
            reply = None


async def _request_segment(ctx: Context, job: _Job, segment: Segment, budget: RetryBudget) -> None:
    last = segment.end - 1
    headers = {"Range": range_header(segment.pos, last), "Accept-Encoding": "identity"}
    if job.probe.validator:
        headers["If-Range"] = job.probe.validator
    async with ctx.transport.get(job.url, headers) as reply:
        _check_segment_reply(reply, job, segment.pos, last)
        await _pump(reply, job.part, segment, budget)


def _check_segment_reply(reply: Reply, job: _Job, first: int, last: int) -> None:
    if reply.status == 200 and job.probe.validator:
        raise RemoteChangedError(
            f"{job.url}: the file changed on the server during the download",
            "run the same command again to fetch the new version",
        )
    span = parse_content_range(reply.headers.get("Content-Range"))
    if reply.status != 206 or span != (first, last, job.probe.total):
        got = reply.headers.get("Content-Range")
        raise RangeError(
            f"{job.url}: asked for bytes {first}-{last}, got HTTP {reply.status} "
            f"with Content-Range {got!r}",
            "the server's range support is unreliable; try --segments 1",
        )


async def _pump(reply: Reply, part: PartFile, segment: Segment, budget: RetryBudget) -> None:
    """Write the reply's body at the segment's position until the segment is full. The
    segment's end may shrink while this runs (another connection took its tail)."""
    async for chunk in reply.chunks():
        room = segment.end - segment.pos
        if len(chunk) >= room:
            # The rest belongs to another segment (or to none): drop it with the connection.
            part.write_at(memoryview(chunk)[:room], segment.pos)
            segment.pos += room
            return
        part.write_at(chunk, segment.pos)
        segment.pos += len(chunk)
        budget.record_progress()
    if segment.end != UNBOUNDED and not segment.done:
        raise TransportError(f"{reply.url}: the body ended at byte {segment.pos} of {segment.end}")
    segment.end = segment.pos  # an unbounded stream is done when the server says so
