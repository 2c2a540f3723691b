"""What the loopback servers share as programs of their own (``python -m ...``)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable

from evio_fetch.engine.loopback.background import Startable, new_event_loop
from evio_fetch.engine.ratelimit import parse_rate


def rate_argument(text: str) -> int:
    """``--rate 20M`` for argparse."""
    try:
        return parse_rate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_until_signalled(server: Startable, host: str, port: int) -> None:
    """Serve, print ``READY URL`` once listening, and stop at SIGTERM or SIGINT."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_serve_until_signalled(server, host, port))


async def _serve_until_signalled(server: Startable, host: str, port: int) -> None:
    url = await server.start(host, port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Installed before READY is printed, so a signal sent right after it is caught.
        _on_signal(loop, signum, stopping.set)
    sys.stdout.write(f"READY {url}\n")
    sys.stdout.flush()
    try:
        await stopping.wait()
    finally:
        await server.stop()


def _on_signal(loop: asyncio.AbstractEventLoop, signum: int, handler: Callable[[], None]) -> None:
    """Call ``handler`` on the loop at ``signum``. Windows' loops take no signal handlers:
    there Python's own handler passes it to the loop."""
    try:
        loop.add_signal_handler(signum, handler)
    except NotImplementedError:
        signal.signal(signum, lambda _signum, _frame: loop.call_soon_threadsafe(handler))
