"""Worker processes as Ctrl-C finds them: a terminal sends SIGINT to the whole process group,
workers that are still starting included; only the parent may act on it."""

from __future__ import annotations

import os
import signal

from evio_fetch.engine.model import Options, Stop
from evio_fetch.engine.pool import shared_budgets, start_worker


def test_a_worker_still_starting_ignores_ctrl_c() -> None:
    options = Options(workers=1)
    budgets = shared_budgets(options)  # kept: the worker opens its shared memory by name
    worker = start_worker(options, budgets)
    try:
        # At once, while the new interpreter starts and imports its HTTP client: a worker
        # that took these as KeyboardInterrupt would die with a traceback (exit status 1).
        for _ in range(20):
            os.kill(worker.process.pid, signal.SIGINT)
        worker.send(Stop())
        worker.process.join(60)
    finally:
        worker.process.kill()
        worker.process.join()
    assert worker.process.exitcode == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored here
