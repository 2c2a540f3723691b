"""A loopback TCP proxy that adds a fixed delay to every new connection and to every request,
so clients on 127.0.0.1 pay for round trips the way they would across a network.

    python bench/latency_proxy.py --upstream 127.0.0.1:8080 [--delay-ms 20]

prints ``READY http://127.0.0.1:PORT`` once listening and runs until SIGTERM or SIGINT.
The proxy knows nothing of HTTP: a request is client-to-server data that starts after the
server has answered (or on a fresh connection), which is how keep-alive HTTP/1.1 behaves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

CHUNK = 256 * 1024


class _Turn:
    """Who spoke last on one connection: a request starts when the client speaks after the
    server did."""

    def __init__(self) -> None:
        self.server_spoke = True


async def _requests(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, turn: _Turn, delay: float
) -> None:
    while data := await source.read(CHUNK):
        if turn.server_spoke:
            turn.server_spoke = False
            await asyncio.sleep(delay)  # the simulated round trip, not a synchronisation
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        sink.write_eof()


async def _responses(source: asyncio.StreamReader, sink: asyncio.StreamWriter, turn: _Turn) -> None:
    while data := await source.read(CHUNK):
        turn.server_spoke = True
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        sink.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _relay(
    client_in: asyncio.StreamReader,
    client_out: asyncio.StreamWriter,
    upstream: tuple[str, int],
    delay: float,
) -> None:
    server_out: asyncio.StreamWriter | None = None
    try:
        await asyncio.sleep(delay)  # the connection's handshake round trip
        server_in, server_out = await asyncio.open_connection(*upstream)
        turn = _Turn()
        pumps = [
            asyncio.ensure_future(_requests(client_in, server_out, turn, delay)),
            asyncio.ensure_future(_responses(server_in, client_out, turn)),
        ]
        # One side failing (a reset) ends the connection; a clean EOF waits for the other.
        done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        for pump in pending:
            pump.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for pump in done:
            with contextlib.suppress(OSError):
                pump.result()
    except OSError:
        pass  # a client that hangs up mid-transfer is ordinary, not a proxy failure
    finally:
        await _close(client_out)
        if server_out is not None:
            await _close(server_out)


async def serve(upstream: tuple[str, int], delay: float, port: int) -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _relay(reader, writer, upstream, delay)

    server = await asyncio.start_server(accept, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY http://127.0.0.1:{bound}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopped.set)
    async with server:
        await stopped.wait()


@contextmanager
def latency_proxy(upstream_url: str, delay: float) -> Iterator[str]:
    """Run the proxy in its own process in front of ``upstream_url``; yield its base URL.
    Its own process keeps its CPU time off the benchmark's sampler thread and clients."""
    parts = urlsplit(upstream_url)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--upstream",
        f"{parts.hostname}:{parts.port}",
        "--delay-ms",
        str(delay * 1000),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"the latency proxy did not start: {line!r}")
        yield line[1]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(serve((host, int(port)), args.delay_ms / 1000, args.port))


if __name__ == "__main__":
    main()
