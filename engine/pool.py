"""The worker processes, as the parent sees them: started with ``spawn`` (never a fork of a
process that may have threads), each joined to the parent by one duplex pipe."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

import msgspec

from evio_fetch.engine.drive_gate import DriveGate
from evio_fetch.engine.early_worker import NAME, EarlyWorker, ignored_by_workers_from_birth
from evio_fetch.engine.hidden_main import main_hidden
from evio_fetch.engine.model import Batch, Command, FileSpec, Options, Stop
from evio_fetch.engine.pacing import SharedPace
from evio_fetch.engine.worker_entry import start

if TYPE_CHECKING:
    # A pipe's end: a Connection, or on Windows a PipeConnection; typeshed names their
    # common base for code that runs on both.
    from multiprocessing.connection import _ConnectionBase as Channel

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Batch)
STOP_GRACE = 3.0


@dataclass(eq=False)
class WorkerHandle:
    process: BaseProcess
    conn: Channel
    files: set[int] = field(default_factory=set)
    alive: bool = True

    def send(self, command: Command) -> None:
        try:
            self.conn.send_bytes(_ENCODER.encode(command))
        except OSError:
            self.alive = False

    def receive(self) -> list[Batch]:
        """Every batch waiting on the pipe; marks the worker dead when the pipe has closed."""
        batches: list[Batch] = []
        try:
            while self.conn.poll():
                batches.append(_DECODER.decode(self.conn.recv_bytes()))
        except (EOFError, OSError):
            self.alive = False
        return batches


@dataclass(frozen=True)
class SharedBudgets:
    """What every worker of a run draws from together: the ``--max-speed`` budget, and what
    Google Drive allows this machine (engine.drive_gate)."""

    pace: SharedPace | None
    drive: DriveGate | None  # None when no file of the run comes from Drive


def shared_budgets(options: Options, drive: bool = True) -> SharedBudgets:
    """Each budget is shared memory behind a lock, which on Linux and macOS is a named
    semaphore: making one starts multiprocessing's resource tracker, one more interpreter
    to start and to wait for at the end. So only the budgets a run needs are made."""
    context = multiprocessing.get_context("spawn")
    pace = None if options.max_speed is None else SharedPace(options.max_speed, context)
    return SharedBudgets(pace, DriveGate(context) if drive else None)


def start_worker(options: Options, budgets: SharedBudgets) -> WorkerHandle:
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=True)
    process = context.Process(
        target=start,
        args=(child_end, msgspec.msgpack.encode(options), budgets),
        name=NAME,
        daemon=True,
    )
    with ignored_by_workers_from_birth(), main_hidden():
        process.start()
    child_end.close()
    return WorkerHandle(process, parent_end)


@dataclass(eq=False)
class Launch:
    """Workers started before the plan is made, so that their start-up (the HTTP client's
    imports) overlaps the parent's own. The run adopts them; ``release`` stops any that
    no run took."""

    budgets: SharedBudgets
    workers: list[WorkerHandle]

    def adopt(self) -> list[WorkerHandle]:
        taken, self.workers = self.workers, []
        return taken

    def release(self) -> None:
        stop_workers(self.adopt())


def launch(options: Options, count: int = 1) -> Launch:
    budgets = shared_budgets(options)
    return Launch(budgets, [start_worker(options, budgets) for _ in range(count)])


def launch_with(early: EarlyWorker | None, options: Options) -> Launch:
    """The run's first worker: the one started before the options were known, told them now,
    when its budgets fit them (it was given none for ``--max-speed``); else a new one."""
    if early is None or options.max_speed is not None:
        if early is not None:
            early.discard()
        return launch(options)
    worker = WorkerHandle(early.process, early.conn)
    worker.alive = early.configure(msgspec.msgpack.encode(options))
    return Launch(SharedBudgets(None, None), [worker])


def for_run(launched: Launch | None, options: Options, specs: Sequence[FileSpec]) -> Launch:
    """The workers and budgets a run of ``specs`` uses: those launched for it, unless they
    lack the Drive gate its files need (a worker started before the files were known has
    none). Such workers have had no file yet: they are ended at once."""
    drive = any(source.drive for spec in specs for source in spec.sources())
    if launched is not None and (launched.budgets.drive is not None or not drive):
        return launched
    if launched is not None:
        kill_workers(launched.adopt())
    return Launch(shared_budgets(options, drive), [])


def stop_workers(workers: list[WorkerHandle]) -> None:
    """Ask every worker to stop (each saves its progress first), wait briefly, then end any
    that did not."""
    for worker in workers:
        if worker.alive:
            worker.send(Stop())
    deadline = time.monotonic() + STOP_GRACE
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
    kill_workers(workers)


def kill_workers(workers: list[WorkerHandle]) -> None:
    """End every worker still running now. Safe at any moment: what they saved is consistent."""
    for worker in workers:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
