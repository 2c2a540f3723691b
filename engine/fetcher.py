"""One file, from the probe to its final path: lock the partial file, take over what a previous
run left if it can be trusted, probe its sources in order until one answers, preallocate, run
the connections, flush, wait for the parent's hash verdict, move into place."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from evio_fetch.engine import connection_sizer, drive, naming, provenance
from evio_fetch.engine import state as state_file
from evio_fetch.engine.blocks import BLOCK_SIZE, BlockDigests
from evio_fetch.engine.checkpoint import Checkpoint
from evio_fetch.engine.checksums import Digests
from evio_fetch.engine.connections import FileWork, Pending, run_connections
from evio_fetch.engine.drive_gate import DriveGate
from evio_fetch.engine.errors import (
    BodyLengthError,
    DownloadError,
    EvioError,
    RangesIgnoredError,
    RemoteChangedError,
    StateError,
    StateVersionError,
    TransportError,
    UnsafePathError,
)
from evio_fetch.engine.file_sources import FileSources, Source
from evio_fetch.engine.landing import Lander
from evio_fetch.engine.model import (
    Done,
    Event,
    Failed,
    FileSpec,
    Options,
    Placed,
    Progress,
    SourceId,
    Started,
    Verdict,
    Warned,
    Written,
    to_failure,
)
from evio_fetch.engine.probe import PROBE_SPAN, Probe, probe_headers, read_probe
from evio_fetch.engine.redaction import redact_url
from evio_fetch.engine.resume import (
    ResumePoint,
    saved_version,
    trusted_point,
    unchanged,
    usable,
)
from evio_fetch.engine.retry import RetryPolicy, retry_event
from evio_fetch.engine.safe_paths import check_regular_or_absent
from evio_fetch.engine.segment_board import BoardShape, SegmentBoard
from evio_fetch.engine.sidecars import part_path, state_path
from evio_fetch.engine.state import State
from evio_fetch.engine.storage import PartFile
from evio_fetch.engine.transport import Reply, Transport
from evio_fetch.engine.verify import algorithms_for, mismatch


@dataclass(slots=True)
class Context:
    """What a download needs from the worker that runs it."""

    transport: Transport
    options: Options
    emit: Callable[[Event], None]
    verdict: Callable[[int], Awaitable[Verdict]]
    # Where a file the server named lands (engine.claims decides, in the parent).
    place: Callable[[int, str, int | None], Awaitable[Placed]]
    # What Google Drive allows this machine, shared by every worker.
    drive_gate: DriveGate | None = None
    # Where files that come whole in their first answer land, in batches (None: each alone).
    lander: Lander | None = None
    rng: random.Random = field(default_factory=random.Random)


@dataclass(slots=True)
class Download:
    """A file in flight; the worker's progress reporter reads it."""

    spec: FileSpec
    board: SegmentBoard | None = None
    # Set once bytes are kept across failures: from then on a failure retries the segment
    # from where it stopped, never the whole file.
    keeps_progress: bool = False
    # Set when the server's ranges proved unreliable: fetch the whole file on one stream.
    one_stream: bool = False
    # Times the file started over because the server's version changed under it.
    changes: int = 0
    # Its URL, Drive file and mirrors, with what this run learnt of each (set by ``fetch``).
    sources: FileSources | None = None
    # The source that answered the probe of the current attempt.
    lead: Source | None = None
    # Where the parent placed a file the server names: later attempts keep it.
    placed: Path | None = None

    def file_sources(self) -> FileSources:
        assert self.sources is not None, "fetch sets the sources up"
        return self.sources

    def progress(self) -> Progress | None:
        board = self.board
        if board is None:
            return None
        return Progress(self.spec.index, board.bytes_done(), board.prefix())


@dataclass(slots=True)
class _Resume:
    state: State
    point: ResumePoint


@dataclass(slots=True)
class _Job:
    """One attempt at one file, from the probe on."""

    target: Path
    part: PartFile
    probe: Probe
    reply: Reply
    resume: _Resume | None
    # The source whose answer the probe is.
    source: Source
    digests: BlockDigests | None = None
    checkpoint: Checkpoint | None = None


class _MixedSources(Exception):
    """The bytes of several sources failed the checksum together: the file is fetched again from
    one of them alone."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _file_sources(ctx: Context, spec: FileSpec) -> FileSources:
    def warn(message: str) -> None:
        ctx.emit(Warned(spec.index, message))

    return FileSources([_source(ctx, spec, found) for found in spec.sources()], warn)


def _source(ctx: Context, spec: FileSpec, found: SourceId) -> Source:
    if found.drive:
        home = drive.download_url(ctx.options.drive_url, found.given, spec.resource_key)
        opener = partial(_open_drive, ctx, spec)
        return Source(found, found.given, opener, home, gate=ctx.drive_gate)
    opener = partial(ctx.transport.get, found.given)
    return Source(found, redact_url(found.given), opener, found.given)


@asynccontextmanager
async def _open_drive(
    ctx: Context, spec: FileSpec, headers: Mapping[str, str]
) -> AsyncIterator[Reply]:
    """The reply to ``headers`` through Drive's flow for the file's ID, once any pause Drive
    asked of this machine is over."""
    if ctx.drive_gate is not None:
        await ctx.drive_gate.wait()
    async with drive.open_file(ctx.transport, spec, ctx.options.drive_url, headers) as reply:
        yield reply


# A file whose version changes under the download starts over this many times, then fails:
# a source that changes on every request can never be fetched whole.
MAX_CHANGES = 1


async def fetch(download: Download, ctx: Context) -> Event:
    """Bring one file to its place; returns its Done or Failed event. Raises our errors for
    failures, and CancelledError when stopped (after saving what it has)."""
    if download.sources is None:
        download.sources = _file_sources(ctx, download.spec)
    policy = RetryPolicy(ctx.options.retries)
    while True:
        try:
            return await _attempt(download, ctx)
        except RangesIgnoredError:
            if download.one_stream:
                raise
            download.one_stream, download.keeps_progress = True, False
        except RemoteChangedError as error:
            if download.changes >= MAX_CHANGES:
                raise
            download.changes += 1
            ctx.emit(Warned(download.spec.index, f"{error.message}; starting over"))
        except _MixedSources as mixed:
            ctx.emit(Warned(download.spec.index, mixed.message))
            download.keeps_progress = False  # nothing was kept: it starts from zero
        except EvioError as error:
            if download.keeps_progress:
                raise
            if _drop_lead(download, error):
                continue
            policy = policy.increment(error)
            pause = policy.pause(error, ctx.rng)
            _on_retry(ctx, download.spec)(policy, error, pause)
            await asyncio.sleep(pause)


def _on_retry(ctx: Context, spec: FileSpec) -> Callable[[RetryPolicy, EvioError, float], None]:
    """Tells the parent that a request of ``spec`` is tried again, and when."""

    def report(policy: RetryPolicy, error: EvioError, pause: float) -> None:
        ctx.emit(retry_event(spec, policy, error, pause))

    return report


def _drop_lead(download: Download, error: EvioError) -> bool:
    """After a one-stream download failed for good: drop its source when another can serve
    the file, and say so (the next attempt asks that one)."""
    lead, sources = download.lead, download.file_sources()
    if lead is None or not isinstance(error, DownloadError):
        return False
    if not lead.healthy:
        return False
    if error.transient or not sources.others(lead):
        return False
    sources.drop(lead, error)
    return True


async def _attempt(download: Download, ctx: Context) -> Event:
    spec = download.spec
    target = Path(spec.target) if spec.target is not None else download.placed
    part: PartFile | None = None
    resume: _Resume | None = None
    _begin(download)
    try:
        if target is None:
            placed = await _resumable_name(download, ctx)
            if placed is not None and placed.failure is not None:
                return Failed(spec.index, placed.failure)
            if placed is not None:
                target = download.placed = Path(placed.target)
        if target is not None and ctx.lander is not None and _comes_whole(download):
            return await _fetch_whole(download, ctx, ctx.lander, target)
        if target is not None:
            part = await PartFile.acquire(part_path(target), _root(spec))
            resume = _load_resume(part, target, download, ctx)
            if resume is None and spec.size is not None:
                part.preallocate(spec.size)  # a full disk shows before any byte is asked for
        while True:
            open_ended = ctx.options.segments == 1
            async with _first_answer(download, resume, open_ended) as (source, reply, probe):
                if target is None or part is None:
                    name = naming.choose_name(probe.content_disposition, reply.url)
                    placed = await ctx.place(spec.index, name, probe.total)
                    if placed.failure is not None:
                        return Failed(spec.index, placed.failure)
                    target = download.placed = Path(placed.target)
                    if placed.present:
                        return Done(spec.index, "present", str(target), probe.total or 0)
                    part = await PartFile.acquire(part_path(target), _root(spec))
                    resume = _load_resume(part, target, download, ctx)
                if resume is not None and not unchanged(resume.state, probe, source.id):
                    ctx.emit(
                        Warned(
                            spec.index,
                            "the file changed on the server since the last run; starting over",
                        )
                    )
                    _start_over(part, target)
                    resume = None
                    continue
                job = _Job(target, part, probe, reply, resume, source)
                return await _download(download, ctx, job)
    except BaseException:
        # Nothing resumable was written (no state beside it): leave no empty file behind.
        if part is not None and target is not None and not _has_state(part, target):
            part.discard()
        raise
    finally:
        if part is not None:
            part.close()


def _comes_whole(download: Download) -> bool:
    """Whether the probe's answer will hold the whole file (the manifest's size fits in it):
    then it takes the short way. Nothing beside its target can be resumed: a state is kept
    only for a file larger than one probe (a state of another size describes another
    download), and the short way removes what it finds there (engine.landing)."""
    size = download.spec.size
    return size is not None and size <= PROBE_SPAN and not download.one_stream


async def _fetch_whole(download: Download, ctx: Context, lander: Lander, target: Path) -> Event:
    """A file that fits in the probe's answer: read into memory, hashed and checked here,
    written once and landed with its batch (engine.landing). No reservation, no state, no
    segments: a failure starts it over, which costs one small request."""
    spec = download.spec
    async with _first_answer(download, None, ctx.options.segments == 1) as (_, reply, probe):
        size = _expected_size(spec, probe)
        assert size is not None and size <= PROBE_SPAN, "the manifest's size, checked"
        ctx.emit(Started(spec.index, str(target), str(part_path(target)), size, 1, whole=True))
        body = await _whole_body(reply, probe, size)
    digests = Digests(algorithms_for(spec))
    digests.update(body)
    found = digests.hexdigests()
    wrong = mismatch(spec, found)
    if wrong is not None:
        return Failed(spec.index, to_failure(wrong))
    ctx.emit(Written(spec.index, size))
    landing = lander.land(spec, target, _root(spec), body)
    del body  # the lander lets it go once written, before the flush this waits for
    await asyncio.shield(landing)
    used = download.file_sources().used()
    return Done(spec.index, "downloaded", str(target), size, sources=used, digests=found)


async def _whole_body(reply: Reply, probe: Probe, size: int) -> bytes:
    """The answer's body, which must be ``size`` bytes (an empty file's 416 has none)."""
    if size == 0:
        reply.abandon()
        return b""
    # Kept as received and joined once: a growing buffer copies its bytes again at every
    # growth, and once more to become bytes (four times the CPU, measured).
    chunks: list[bytes] = []
    received = 0
    async for chunk in reply.chunks():
        chunks.append(chunk)
        received += len(chunk)
        if received > size:
            raise BodyLengthError(
                f"{reply.url}: the server sent more than the file's {size} bytes",
                "the size in the manifest may be out of date; fix it, or leave it out",
            )
    if received < size:
        raise TransportError(
            f"{reply.url}: the body ended at byte {received} of {size}",
            "the connection was cut; --retries sets how often it is tried again",
        )
    return b"".join(chunks)


def _begin(download: Download) -> None:
    """Each attempt starts from the given links, knowing nothing of their versions yet."""
    download.lead = None
    for source in download.file_sources().all:
        source.reset()


@asynccontextmanager
async def _first_answer(
    download: Download, resume: _Resume | None, open_ended: bool
) -> AsyncIterator[tuple[Source, Reply, Probe]]:
    """The probe's answer from the first of the file's sources that gives one, in order. A
    source that fails for good is dropped for the file (while another is left); when none
    answers, raises a failure that may pass if there is one (the caller tries again later),
    else the most telling."""
    sources = download.file_sources()
    failures: list[EvioError] = []
    for source in sources.healthy():
        start, validator = _probe_from(resume, source)
        ranged = not download.one_stream
        headers = probe_headers(start, validator, ranged=ranged, open_ended=open_ended)
        async with AsyncExitStack() as stack:
            try:
                reply = await stack.enter_async_context(source.open(headers))
                probe = read_probe(
                    reply.status,
                    reply.headers,
                    reply.url,
                    download.spec,
                    start,
                    open_ended=open_ended,
                    drive=source.id.drive,
                )
            except DownloadError as error:
                failures.append(error)
                if not error.transient and sources.others(source):
                    sources.drop(source, error)
                continue
            source.url, source.representation = reply.url, probe.representation
            download.lead = source
            yield source, reply, probe
            return
    passing = next((error for error in failures if error.transient), None)
    raise passing if passing is not None else sources.most_telling(*failures)


async def _resumable_name(download: Download, ctx: Context) -> Placed | None:
    """For a file the server names (``-o DIR``): where a previous run left its download, found
    beside the name its URL gives, so the probe asks from where that run stopped instead of
    from the first byte (a name from Content-Disposition is only learnt by asking). None when
    nothing usable lies there."""
    spec = download.spec
    if spec.url is None or spec.output_dir is None or not ctx.options.resume:
        return None
    name = naming.choose_name(None, spec.url)
    target = Path(spec.output_dir) / name
    saved = _peek_state(target)
    if saved is None or not usable(saved, spec) or os.path.lexists(target):
        return None
    return await ctx.place(spec.index, name, None)


def _peek_state(target: Path) -> State | None:
    """The state beside ``target``, if one is there and reads; anything else is left for the
    download to judge (and to refuse by name)."""
    path = state_path(target)
    try:
        if not path.exists() or not check_regular_or_absent(path):
            return None
        return state_file.load(path)
    except (StateError, UnsafePathError, OSError):
        return None


def _probe_from(resume: _Resume | None, source: Source) -> tuple[int, str | None]:
    """Where the probe asks from (the first gap a previous run left), and on what condition
    (the version the state recorded of ``source``, if it knows that source)."""
    if resume is None:
        return 0, None
    version = saved_version(resume.state, source.id)
    return resume.point.first_gap or 0, version.if_range if version is not None else None


def _root(spec: FileSpec) -> Path | None:
    """What nothing is written outside of, and no directory made above."""
    return Path(spec.output_dir) if spec.output_dir is not None else None


def _has_state(part: PartFile, target: Path) -> bool:
    try:
        return part.directory.is_regular(state_path(target))
    except UnsafePathError:
        return False


def _load_resume(part: PartFile, target: Path, download: Download, ctx: Context) -> _Resume | None:
    """What a previous run left beside the target, if it can be trusted; otherwise nothing is
    left there to confuse this run."""
    path = state_path(target)
    # A state file that is not a regular file of its own is refused here, by name.
    if not ctx.options.resume or download.one_stream or not part.directory.is_regular(path):
        _start_over(part, target)
        return None
    try:
        saved = state_file.load(path, part.directory)
    except StateVersionError:
        raise
    except StateError as error:
        ctx.emit(Warned(download.spec.index, f"{error.message}; starting over"))
        _start_over(part, target)
        return None
    if not usable(saved, download.spec) or part.size() != saved.size:
        ctx.emit(Warned(download.spec.index, f"{path}: describes another download; starting over"))
        _start_over(part, target)
        return None
    # A digest of the whole file, checked at the end, catches any bad block; without one,
    # --verify reads every block back.
    spec = download.spec
    check_all = ctx.options.verify and spec.sha256 is None and spec.checksum is None
    return _Resume(saved, trusted_point(part.fd, saved, check_all))


def _start_over(part: PartFile, target: Path) -> None:
    state_file.discard(state_path(target), part.directory)
    part.truncate(0)


async def _download(download: Download, ctx: Context, job: _Job) -> Event:
    _prepare(download, ctx, job)
    try:
        await _fetch_bytes(download, ctx, job)
    except BaseException as error:
        _keep_or_drop(job, error)
        raise
    return await _finish(download, ctx, job)


def _prepare(download: Download, ctx: Context, job: _Job) -> None:
    """Reserve the space, then set up the segment board and, for a ranged download, the
    checkpoint, whose first state is written at once, so even a crash in the first second
    resumes."""
    spec, probe = download.spec, job.probe
    size = _expected_size(spec, probe)
    if size is not None:
        # First: a file that does not fit (or a server lying about its size) fails before
        # anything is planned or saved for it, so a fresh download leaves nothing behind.
        job.part.preallocate(size)
    shape = _shape(ctx.options, probe.ranged, _from_drive(download))
    if job.resume is not None:
        download.file_sources().restore(job.resume.state, job.source)
        download.board = SegmentBoard(size, shape, job.resume.point.segments)
        job.digests = BlockDigests(size or 0, job.resume.point.digests)
        for segment in download.board.segments:
            job.digests.reopen(segment.pos, job.part.fd)
    else:
        download.board = SegmentBoard(size, shape)
        if probe.ranged and size is not None:
            job.digests = BlockDigests(size)
    # A file that fits in one probe's block is done before a checkpoint could help (an
    # open-ended probe brings the whole file too, but may take hours).
    whole_in_probe = job.resume is None and size is not None and size <= PROBE_SPAN
    if job.digests is not None and not whole_in_probe:
        job.checkpoint = Checkpoint(
            state_path(job.target),
            job.part,
            _template(spec, job),
            download.board,
            job.digests,
            sources=download.file_sources().recorded,
        )
        job.checkpoint.save()
    download.keeps_progress = job.checkpoint is not None
    ctx.emit(
        Started(
            spec.index,
            str(job.target),
            str(job.part.path),
            size,
            shape.connections,
            download.board.bytes_done(),
            part_id=job.part.identity(),
        )
    )


def _expected_size(spec: FileSpec, probe: Probe) -> int | None:
    """The size the file must have: what the server states, else what the manifest says (the
    probe has checked they agree when both are known)."""
    return probe.total if probe.total is not None else spec.size


def _from_drive(download: Download) -> bool:
    return any(source.id.drive for source in download.file_sources().all)


def _shape(options: Options, ranged: bool, drive: bool) -> BoardShape:
    return BoardShape(
        connections=connection_sizer.ceiling(options.segments, drive) if ranged else 1,
        piece=options.piece,
        min_piece=options.min_segment,
        min_split=BLOCK_SIZE,
        align=BLOCK_SIZE,
    )


def _template(spec: FileSpec, job: _Job) -> State:
    return State(
        label=spec.label,
        url=spec.url,
        drive_id=spec.drive_id,
        resource_key=spec.resource_key,
        target=str(job.target),
        size=job.probe.total or 0,
        sha256=spec.sha256,
        checksum=spec.checksum,
        block_size=BLOCK_SIZE,
        segments=[],
    )


async def _fetch_bytes(download: Download, ctx: Context, job: _Job) -> None:
    assert download.board is not None, "the board is set up before any byte is fetched"
    work = FileWork(
        transport=ctx.transport,
        options=ctx.options,
        part=job.part,
        board=download.board,
        digests=job.digests,
        sources=download.file_sources(),
        ranged=job.probe.ranged,
        label=download.spec.label,
        rng=ctx.rng,
        retried=_on_retry(ctx, download.spec),
        sizer=connection_sizer.sizer_for(ctx.options.segments, _from_drive(download)),
    )
    keeper = asyncio.create_task(job.checkpoint.keep()) if job.checkpoint is not None else None
    try:
        await run_connections(work, job.source, _pending(job, download.board))
    finally:
        if keeper is not None:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper


def _pending(job: _Job, board: SegmentBoard) -> Pending | None:
    """The probe's body starts at ``probe.start``: it feeds the segment that continues there."""
    segment = board.segment_at(job.probe.start)
    if segment is None:
        job.reply.abandon()
        return None
    board.claim_at(segment)
    stop = segment.end if job.probe.stop is None else min(segment.end, job.probe.stop)
    board.asked_to(segment, stop)
    return Pending(job.reply, segment, stop, job.source)


def _keep_or_drop(job: _Job, error: BaseException) -> None:
    """On the way out, keep a resumable download's progress; drop anything else, and bytes of
    a version the server no longer has above all."""
    if job.checkpoint is None or isinstance(error, RemoteChangedError):
        if job.checkpoint is not None:
            job.checkpoint.discard()
        job.part.discard()
        return
    try:
        job.checkpoint.save()
    except (EvioError, OSError) as failure:
        error.add_note(f"the progress of {job.target} could not be saved: {failure}")


async def _finish(download: Download, ctx: Context, job: _Job) -> Event:
    spec = download.spec
    size = _finished_size(download, job)
    # Flushes run on threads: a worker's other downloads go on meanwhile, and the file
    # system can commit several files' flushes together.
    flush = job.checkpoint.save if job.checkpoint is not None else job.part.sync
    await asyncio.to_thread(flush)
    ctx.emit(Written(spec.index, size))
    verdict = await ctx.verdict(spec.index)
    if verdict.failure is not None:
        if job.checkpoint is not None:
            job.checkpoint.discard()
        job.part.discard()
        if verdict.failure.code == "checksum_mismatch":
            narrowed = download.file_sources().keep_only(job.source, spec.label, _judge(spec))
            if narrowed is not None:
                raise _MixedSources(narrowed)
        return Failed(spec.index, verdict.failure)
    # The state file goes with the rename, on the same thread: a kill between them (once a
    # directory flush and a turn of the event loop apart) left a state file beside a complete
    # target, which no later run removes.
    cleanup = job.checkpoint.discard if job.checkpoint is not None else None
    provenance.mark(job.part.fd, spec)
    await asyncio.to_thread(job.part.move_into_place, job.target, cleanup)
    verified = _expected_size(spec, job.probe) is not None
    used = download.file_sources().used()
    return Done(
        spec.index, "downloaded", str(job.target), size, size_verified=verified, sources=used
    )


def _judge(spec: FileSpec) -> str:
    """The digest that found the bytes wrong (the SHA256 when the entry gives one)."""
    if spec.sha256 is None and spec.checksum is not None:
        return spec.checksum.shown
    return "SHA256"


def _finished_size(download: Download, job: _Job) -> int:
    board = download.board
    assert board is not None and board.size is not None, "a finished stream has ended"
    if _expected_size(download.spec, job.probe) is None:
        job.part.truncate(board.size)  # a stream of unknown length ends where the server stopped
    return board.size
