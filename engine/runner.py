"""The parent side of a run: plan, hand files to worker processes (at most ``concurrency``
downloading across all of them), follow their progress, check each file's SHA256 (and the
manifest's other checksum) while it arrives, and give the verdict that lets a worker move a
file into place. No rendering: an Observer is told what happens."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec

from evio_fetch.engine import state as state_file
from evio_fetch.engine.checksums import Algorithm, Checksum
from evio_fetch.engine.claims import NameClaims
from evio_fetch.engine.errors import DownloadError, EvioError
from evio_fetch.engine.model import (
    Done,
    Event,
    Failed,
    Failure,
    FileResult,
    FileSpec,
    Job,
    Named,
    Options,
    Outcome,
    Placed,
    PlanItem,
    Progress,
    Retrying,
    Started,
    Verdict,
    Warned,
    Written,
    to_failure,
)
from evio_fetch.engine.new_dirs import remove_empty
from evio_fetch.engine.observer import Observer
from evio_fetch.engine.planning import plan
from evio_fetch.engine.pool import (
    Launch,
    WorkerHandle,
    for_run,
    kill_workers,
    start_worker,
    stop_workers,
)
from evio_fetch.engine.provenance import identity
from evio_fetch.engine.redaction import scrub_urls
from evio_fetch.engine.verify import HashPool, PrefixHasher, algorithms_for, mismatch

if TYPE_CHECKING:
    from multiprocessing.connection import _ConnectionBase as Channel

# Files in flight, downloading or finishing, per file allowed to download at once.
FINISHING_ROOM = 2
# Files that came whole wait in their worker's memory for a batch to land them: as many as
# this per file allowed to download at once, holding at most WHOLE_BYTES together.
WHOLE_ROOM = 4
WHOLE_BYTES = 32 * 1024 * 1024

T = TypeVar("T")

INTERRUPTED = Failure("interrupted", "stopped before it finished", "run the same command again")


@dataclass
class RunReport:
    results: list[FileResult]
    interrupted: bool
    seconds: float


@dataclass(eq=False)
class _Active:
    spec: FileSpec
    # Where the file is in the plan, and its result in the results.
    position: int
    worker: WorkerHandle
    began: float
    target: str | None = None
    hasher: PrefixHasher | None = None
    written: int | None = None
    judged: bool = False
    # It came whole: the worker holds it in memory until its batch lands.
    whole: bool = False
    done: int = 0
    # Bytes already on disk when the latest attempt started (an earlier run's).
    resumed: int = 0


def run(
    specs: Sequence[FileSpec],
    options: Options,
    observer: Observer,
    planned: list[PlanItem] | None = None,
    launched: Launch | None = None,
) -> RunReport:
    """Fetch every spec; returns one result per spec, in input order. ``planned`` is the
    plan already made for these specs (e.g. shown to the user), so it is not made twice: the
    run takes its items over and empties it, so as to let each go once its file finishes;
    ``launched``, workers already starting for this run (made with the same options)."""
    began = time.monotonic()
    items = plan(specs, options) if planned is None else planned
    observer.planned(items)
    # Each file's chain is shared by the files of its directory: few to keep to the end.
    chains = {item.new_dirs for item in items if item.new_dirs}
    run_ = _Run(options, observer, items, for_run(launched, options, specs))
    items.clear()
    interrupted = False
    try:
        run_.loop()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        interrupted = run_.close() or interrupted
    # Every worker has stopped: directories made for files that failed are left empty.
    remove_empty(chains)
    return RunReport(run_.results(interrupted), interrupted, time.monotonic() - began)


class _Run:
    def __init__(
        self, options: Options, observer: Observer, items: list[PlanItem], launched: Launch
    ) -> None:
        self._options = options
        self._observer = observer
        # One slot per file of the plan, and the files still to start, by position: what a
        # run keeps per file is its plan item until it finishes, then its result alone.
        self._items: list[PlanItem | None] = list(items)
        self._results: list[FileResult | None] = [None] * len(items)
        self._waiting = (p for p, item in enumerate(self._items) if item and item.action != "skip")
        self._left = sum(item.action != "skip" for item in items)
        self._active: dict[int, _Active] = {}
        self._workers: list[WorkerHandle] = launched.adopt()
        self._budgets = launched.budgets
        self._device_full: Failure | None = None
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_out.setblocking(False)
        self._hashes = HashPool()
        self._claims = NameClaims()
        for position, item in enumerate(items):
            if item.action == "skip":
                self._finish(
                    position,
                    FileResult(
                        spec=item.spec,
                        outcome="present",
                        target=item.spec.target,
                        bytes=item.spec.size or 0,
                        sha256=item.spec.sha256,
                        checksum=item.spec.checksum,
                    ),
                )

    def loop(self) -> None:
        while self._has_work():
            if self._device_full is None:
                self._dispatch()
            waitables: list[Channel | socket.socket | int] = [self._wake_in]
            waitables += [w.conn for w in self._workers]
            waitables += [w.process.sentinel for w in self._workers]
            for ready in wait(waitables, timeout=1.0):
                self._on_ready(ready)
            self._collect_hashes()

    def _has_work(self) -> bool:
        if self._device_full is not None:
            # A full device stops the run: every other file would fail the same way, and the
            # ones downloading keep their progress for a later resume. Files already written
            # in full still finish.
            return any(active.written is not None for active in self._active.values())
        return bool(self._left or self._active)

    def results(self, interrupted: bool) -> list[FileResult]:
        return [
            result or self._unfinished(position, interrupted)
            for position, result in enumerate(self._results)
        ]

    def _unfinished(self, position: int, interrupted: bool) -> FileResult:
        item = self._items[position]
        assert item is not None, "a file without a result still has its plan item"
        spec = item.spec
        failure = self._device_full or (
            INTERRUPTED if interrupted else to_failure(DownloadError("not attempted"))
        )
        active = self._active.get(spec.index)
        outcome: Outcome = "failed" if active is not None else "skipped"
        result = FileResult(spec=spec, outcome=outcome, target=spec.target, failure=failure)
        return _with_kept(result, active) if active is not None else result

    def close(self) -> bool:
        """Stop the workers (they save their progress); True if a second interrupt cut the
        wait short, in which case they are ended at once and their last saved state stands."""
        for active in self._active.values():
            if active.hasher is not None:
                active.hasher.cancel()
        self._hashes.close()
        cut_short = False
        try:
            stop_workers(self._workers)
        except KeyboardInterrupt:
            kill_workers(self._workers)
            cut_short = True
        self._wake_in.close()
        self._wake_out.close()
        return cut_short

    # Scheduling ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        handed: dict[int, tuple[WorkerHandle, list[FileSpec]]] = {}
        # Counted once: every file started here is one more downloading.
        room = self._room()
        while self._left and room > 0:
            position = next(self._waiting)
            self._left -= 1
            item = self._items[position]
            assert item is not None, "a file waiting to start has its plan item"
            spec = item.spec
            worker = self._least_busy_worker()
            worker.files.add(spec.index)
            self._active[spec.index] = _Active(spec, position, worker, time.monotonic())
            handed.setdefault(id(worker), (worker, []))[1].append(spec)
            room -= 1
        # One message per worker, however many files it was given.
        for worker, specs in handed.values():
            worker.send(Job(specs))

    def _room(self) -> int:
        """How many more files may start. A file whose bytes are all written no longer
        downloads (its hash, flush and rename remain), so the next one starts then; files
        finishing are bounded too, so a slow disk cannot pile up open files, and so are
        files that came whole and wait in a worker's memory to land."""
        limit = self._options.concurrency
        downloading = finishing = landing = held = 0
        for active in self._active.values():
            if active.written is None:
                downloading += 1
            elif active.whole:
                landing, held = landing + 1, held + active.written
            else:
                finishing += 1
        if landing >= WHOLE_ROOM * limit or held >= WHOLE_BYTES:
            return 0
        return max(0, min(limit - downloading, FINISHING_ROOM * limit - downloading - finishing))

    def _least_busy_worker(self) -> WorkerHandle:
        self._workers = [w for w in self._workers if w.alive]
        idle = min(self._workers, key=lambda w: len(w.files), default=None)
        wanted = min(self._options.workers, self._options.concurrency)
        if idle is None or (idle.files and len(self._workers) < wanted):
            idle = start_worker(self._options, self._budgets)
            self._workers.append(idle)
        return idle

    def _on_ready(self, ready: object) -> None:
        if ready is self._wake_in:
            self._drain_wake()
            return
        for worker in self._workers:
            if ready is worker.conn:
                for batch in worker.receive():
                    for event in batch.events:
                        self._on_event(event)
            elif ready == worker.process.sentinel:
                self._on_worker_exit(worker)

    def _on_worker_exit(self, worker: WorkerHandle) -> None:
        for batch in worker.receive():
            for event in batch.events:
                self._on_event(event)
        worker.alive = False
        # Out of the wait set at once: a dead worker's pipe and sentinel stay ready forever.
        self._workers = [w for w in self._workers if w is not worker]
        kill_workers([worker])
        code = worker.process.exitcode
        for index in list(worker.files):
            error = DownloadError(f"the worker process downloading it died (exit status {code})")
            self._fail(index, to_failure(error))

    # Events ---------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        active = self._active.get(event.file)
        if active is None:
            return
        if isinstance(event, Named):
            self._on_named(active, event)
        elif isinstance(event, Started):
            self._on_started(active, event)
        elif isinstance(event, Progress):
            if active.written is None and active.hasher is not None:
                active.hasher.advance(event.prefix)
                active.done = event.done
                self._observer.advanced(active.spec, event.done)
        elif isinstance(event, Written):
            self._on_written(active, event)
        elif isinstance(event, Done):
            self._on_done(active, event)
        elif isinstance(event, Warned):
            # A worker's warning is plain text, not an error: its URLs are hidden here.
            self._observer.warned(active.spec, scrub_urls(event.message))
        elif isinstance(event, Retrying):
            spec = active.spec
            self._observer.retrying(spec, event.attempt, event.of, event.reason, event.pause)
        elif isinstance(event, Failed):
            self._fail(event.file, event.failure)

    def _on_named(self, active: _Active, event: Named) -> None:
        assert active.spec.output_dir is not None, "only a file named by its server asks"
        directory = Path(active.spec.output_dir)
        try:
            source = identity(active.spec)
            target, present = self._claims.claim(directory, event.name, event.size, source)
        except EvioError as error:
            active.worker.send(Placed(event.file, str(directory), failure=to_failure(error)))
            return
        active.worker.send(Placed(event.file, str(target), present))

    def _on_started(self, active: _Active, event: Started) -> None:
        if active.hasher is not None:
            active.hasher.cancel()  # the worker started over: hash the new bytes
        active.target = event.target
        active.written, active.judged = None, False
        active.resumed = event.done
        active.whole = event.whole
        if event.whole:
            active.hasher = None  # the worker hashes it from memory
        else:
            algorithms = algorithms_for(active.spec)
            active.hasher = self._hashes.hasher(event.part, self._wake, algorithms, event.part_id)
        self._observer.started(active.spec, event.target, event.size, event.done)

    def _on_written(self, active: _Active, event: Written) -> None:
        active.written = event.size
        active.done = event.size
        self._observer.advanced(active.spec, event.size)
        self._observer.verifying(active.spec)
        if active.hasher is None:
            active.judged = True  # it came whole: the worker has checked it already
            return
        active.hasher.finish(event.size)

    def _on_done(self, active: _Active, event: Done) -> None:
        digests = event.digests
        # A file found present was not fetched: no byte of it was hashed.
        if active.hasher is not None and event.outcome != "present":
            digests = active.hasher.digests
        spec = active.spec
        sha256, checksum = _found(spec, digests)
        self._finish(
            active.position,
            FileResult(
                spec=spec,
                outcome=event.outcome,
                target=_held(event.target, (spec.target,)),
                bytes=_held(event.size, (spec.size,)),
                seconds=time.monotonic() - active.began,
                sha256=sha256,
                checksum=checksum,
                size_verified=event.size_verified,
                resumed=active.resumed if event.outcome == "downloaded" else 0,
                sources_used=tuple(_held(s, _given(spec)) for s in event.sources),
            ),
        )

    def _collect_hashes(self) -> None:
        for active in self._active.values():
            hasher = active.hasher
            if active.written is None or active.judged or hasher is None or not hasher.finished:
                continue
            active.judged = True
            active.worker.send(Verdict(active.spec.index, self._judge(active, hasher)))

    def _judge(self, active: _Active, hasher: PrefixHasher) -> Failure | None:
        if hasher.error is not None:
            return to_failure(DownloadError(hasher.error))
        assert hasher.digests is not None, "a finished hasher has digests or an error"
        error = mismatch(active.spec, hasher.digests)
        return None if error is None else to_failure(error)

    # Outcomes -------------------------------------------------------------------------------

    def _fail(self, index: int, failure: Failure) -> None:
        active = self._active.get(index)
        if active is None:
            return
        if active.hasher is not None:
            active.hasher.cancel()
        if failure.stops_run:  # the device is full, not merely too small for this file
            self._device_full = failure
        self._finish(
            active.position,
            FileResult(
                spec=active.spec,
                outcome="failed",
                target=active.target,
                seconds=time.monotonic() - active.began,
                failure=failure,
            ),
        )

    def _finish(self, position: int, result: FileResult) -> None:
        index = result.spec.index
        active = self._active.pop(index, None)
        if active is not None:
            active.worker.files.discard(index)
        self._results[position] = result
        self._items[position] = None
        self._observer.finished(result)

    def _wake(self) -> None:
        try:
            self._wake_out.send(b"\0")
        except OSError:
            return  # the buffer is full: a wake-up is already pending

    def _drain_wake(self) -> None:
        self._wake_in.setblocking(False)
        try:
            while self._wake_in.recv(4096):
                pass
        except BlockingIOError:
            return


def _with_kept(result: FileResult, active: _Active) -> FileResult:
    """A file the run stopped in flight, with what it keeps for a resume (read once the
    workers have stopped, so their last saves are in)."""
    target = active.target or active.spec.target
    kept = state_file.kept_bytes(Path(target)) if target is not None else 0
    return msgspec.structs.replace(result, kept=kept, resumed=active.resumed)


def _held(value: T, held: Iterable[T | None]) -> T:
    """``value``, as the object the spec already holds when one is equal: a result is kept
    to the end of the run, and a copy decoded from a worker's message (a path, a digest,
    even a size above 256) would cost its bytes again for every file."""
    return next((known for known in held if known == value), value)


def _given(spec: FileSpec) -> tuple[str | None, ...]:
    return (spec.url, spec.drive_id, *spec.mirrors)


def _found(
    spec: FileSpec, digests: dict[Algorithm, str] | None
) -> tuple[str | None, Checksum | None]:
    """The file's SHA256 and its digest in the spec's checksum algorithm, as hashed."""
    if digests is None:
        return None, None
    checksum = spec.checksum
    if checksum is not None:
        found = Checksum(checksum.algorithm, digests[checksum.algorithm])
        checksum = _held(found, (checksum,))
    return _held(digests["sha256"], (spec.sha256,)), checksum
