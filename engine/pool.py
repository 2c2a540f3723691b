"""The worker processes, as the parent sees them: started with ``spawn`` (never a fork of a
process that may have threads), each joined to the parent by one duplex pipe."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

import msgspec

from evio_fetch.engine.drive_gate import DriveGate
from evio_fetch.engine.early_worker import EarlyWorker, ignored_by_workers_from_birth
from evio_fetch.engine.model import Batch, Command, Options, Stop
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
    drive: DriveGate


def shared_budgets(options: Options) -> SharedBudgets:
    context = multiprocessing.get_context("spawn")
    pace = None if options.max_speed is None else SharedPace(options.max_speed, context)
    return SharedBudgets(pace, DriveGate(context))


def start_worker(options: Options, budgets: SharedBudgets) -> WorkerHandle:
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=True)
    process = context.Process(
        target=start,
        args=(child_end, msgspec.msgpack.encode(options), budgets),
        name="evio-fetch worker",
        daemon=True,
    )
    with ignored_by_workers_from_birth():
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
    return Launch(SharedBudgets(None, early.drive), [worker])


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
