"""A worker hears its parent over a pipe: on the event loop where the loop can watch a pipe,
and on a thread where it cannot (Windows). Both ways, on a real pipe and a real loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

import pytest

from evio_fetch.engine.worker import listen, listen_on_thread

WAIT = 10.0


def listen_by_thread(
    conn: Connection, on_command: Callable[[bytes], None], on_gone: Callable[[], None]
) -> Callable[[], None]:
    return listen_on_thread(conn, asyncio.get_running_loop(), on_command, on_gone)


@pytest.mark.parametrize("how", [listen, listen_by_thread], ids=["on-the-loop", "thread"])
async def test_commands_arrive_in_order_on_the_loop_and_a_closed_pipe_is_noticed(
    how: Callable[..., Callable[[], None]],
) -> None:
    ours, theirs = multiprocessing.Pipe(duplex=True)
    loop_thread = threading.get_ident()
    received: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    gone = asyncio.Event()
    stop = how(ours, lambda data: received.put_nowait((data, threading.get_ident())), gone.set)
    try:
        for data in (b"first", b"second", b"x" * 100_000):
            theirs.send_bytes(data)
        for data in (b"first", b"second", b"x" * 100_000):
            # Handed over on the loop's own thread, whichever way it was read.
            assert await asyncio.wait_for(received.get(), WAIT) == (data, loop_thread)
        theirs.close()  # the parent is gone
        await asyncio.wait_for(gone.wait(), WAIT)
    finally:
        stop()
        ours.close()
