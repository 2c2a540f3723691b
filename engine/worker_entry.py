"""The function a worker process starts in. It lives apart from the worker itself so that the
parent, which only names it, never imports the HTTP client the worker needs."""

from __future__ import annotations

from multiprocessing.connection import Connection

from evio_fetch.engine.pacing import SharedPace


def start(conn: Connection, options: bytes, pace: SharedPace | None) -> None:
    from evio_fetch.engine.worker import worker_main  # noqa: PLC0415  (only in the worker)

    worker_main(conn, options, pace)
