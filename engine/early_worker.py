"""A worker process started before the command line is read. Its start-up, most of it importing
the HTTP client, is the longest step before a first request; started first thing, it overlaps
the parent's own imports, parsing, manifest and plan. It is told its options once they are
known, or ended unused.

This module is imported before anything else of the command, so it imports little: no
msgspec, no model, no HTTP client."""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
from contextlib import contextmanager

from evio_fetch.engine.worker_entry import start_unconfigured

# Not typing's: importing typing (or dataclasses) here would delay the start it exists for.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from multiprocessing.connection import _ConnectionBase as Channel
    from multiprocessing.process import BaseProcess

# Words after which no download follows, or one that needs a budget made from the options
# (--max-speed): no worker is started before they are parsed. Prefixes, as argparse takes
# any unambiguous abbreviation. A word missed here costs time, never correctness: the
# parsed options decide whether the worker is used.
_NOT_NOW = ("--dry", "--dem", "--help", "--vers", "--max", "-h")
NAME = "evio-fetch worker"


class EarlyWorker:
    def __init__(self, process: BaseProcess, conn: Channel) -> None:
        self.process = process
        self.conn = conn

    def configure(self, options: bytes) -> bool:
        """Hand over the run's options (msgpack): from now on it is an ordinary worker.
        False if it has died meanwhile (the run then starts another)."""
        try:
            self.conn.send_bytes(options)
        except OSError:
            return False
        return True

    def discard(self) -> None:
        """End it unused. It has opened no file and holds no state, so it is killed at once
        rather than waited for while it finishes its imports."""
        self.conn.close()
        self.process.kill()
        self.process.join()


def wanted(words: list[str], interactive: bool) -> bool:
    """Whether these command-line words likely ask for a download that starts unasked."""
    if any(word.startswith(_NOT_NOW) for word in words):
        return False
    # A person asked to confirm first answers slower than any worker starts.
    return not interactive or "--yes" in words or "-y" in words


def start_early() -> EarlyWorker:
    """On Linux, a fork of this process while it is still one thread with little imported:
    no new interpreter to start, and, as no process is spawned, no resource tracker
    either (multiprocessing starts one with the first process it spawns, and the command
    waits for it to exit). Elsewhere, or once a thread runs, a spawned process."""
    parent_end, child_end = multiprocessing.Pipe(duplex=True)
    process: BaseProcess
    if sys.platform == "linux" and threading.active_count() == 1:
        # A fork holds the parent's end too, which the child closes: the worker learns the
        # parent is gone from its own end, once no other process holds the parent's.
        process = multiprocessing.get_context("fork").Process(
            target=start_unconfigured, args=(child_end, parent_end), name=NAME, daemon=True
        )
    else:
        process = multiprocessing.get_context("spawn").Process(
            target=start_unconfigured, args=(child_end,), name=NAME, daemon=True
        )
    with ignored_by_workers_from_birth():
        process.start()
    child_end.close()
    return EarlyWorker(process, parent_end)


@contextmanager
def ignored_by_workers_from_birth() -> Iterator[None]:
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
