"""The function a worker process starts in. It lives apart from the worker itself so that the
parent, which only names it, never imports the HTTP client the worker needs."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import _ConnectionBase as Channel

    from evio_fetch.engine.pool import SharedBudgets


def start(conn: Channel, options: bytes, budgets: SharedBudgets) -> None:
    from evio_fetch.engine.worker import worker_main  # noqa: PLC0415  (only in the worker)

    worker_main(conn, options, budgets)
    # Every file is closed and every thread joined by now. The interpreter's own teardown
    # (freeing thousands of objects and modules) would only delay the parent's exit.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)
