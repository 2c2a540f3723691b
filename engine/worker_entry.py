"""The functions a worker process starts in. They live apart from the worker itself so that the
parent, which only names them, never imports the HTTP client the worker needs."""

from __future__ import annotations

import os
import sys

# Not typing's: the parent imports this module before its first worker starts (see
# engine.early_worker), and typing would delay that start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from multiprocessing.connection import _ConnectionBase as Channel
    from typing import NoReturn

    from evio_fetch.engine.pool import SharedBudgets


def start(conn: Channel, options: bytes, budgets: SharedBudgets) -> None:
    from evio_fetch.engine.worker import worker_main  # noqa: PLC0415  (only in the worker)

    worker_main(conn, options, budgets)
    _leave()


def start_unconfigured(conn: Channel, parents_end: Channel | None = None) -> None:
    """A worker started before its options were known (engine.early_worker): it imports what
    it needs, then waits for them; a closed pipe means it is not needed. It has no shared
    budget: the parent uses it only for runs that need none. ``parents_end``, the other end
    of the pipe, is given to a forked worker to close."""
    if parents_end is not None:
        parents_end.close()
    from evio_fetch.engine.pool import SharedBudgets  # noqa: PLC0415  (only in the worker)
    from evio_fetch.engine.worker import worker_main  # noqa: PLC0415

    try:
        options = conn.recv_bytes()
    except (EOFError, OSError):
        _leave()
    worker_main(conn, options, SharedBudgets(None, None))
    _leave()


def _leave() -> NoReturn:
    # Every file is closed and every thread joined by now. The interpreter's own teardown
    # (freeing thousands of objects and modules) would only delay the parent's exit.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)
