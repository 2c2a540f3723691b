"""The worker processes, as the parent sees them: started with ``spawn`` (never a fork of a
process that may have threads), each joined to the parent by one duplex pipe."""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

import msgspec

from evio_fetch.engine.drive_gate import DriveGate
from evio_fetch.engine.hidden_main import main_hidden
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
    with _ignored_by_workers_from_birth(), main_hidden():
        process.start()
    child_end.close()
    return WorkerHandle(process, parent_end)


@contextmanager
def _ignored_by_workers_from_birth() -> Iterator[None]:
    """Ctrl-C at a terminal reaches every process of the group, and only the parent decides
    what it means (it asks the workers to stop). A worker started while SIGINT is ignored
    ignores it from its first instruction (an ignored signal stays ignored across exec), so
    one still importing its HTTP client never dies of it with a traceback.

    In the parent the signal is blocked meanwhile: Linux keeps a blocked signal pending even
    while it is ignored, so a Ctrl-C pressed during the start is raised once it is over."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may change a handler; it also receives the signal
        return
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        # Ignoring a pending signal would discard it: then start the worker as it is.
        if signal.SIGINT in signal.sigpending():
            yield
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


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
