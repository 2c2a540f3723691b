"""A forward HTTP proxy on 127.0.0.1 for the tests: absolute-form requests (``GET
http://host:port/path``) are forwarded, ``CONNECT host:port`` opens a tunnel. It records every
request it is sent, and with ``credentials`` it answers 407 to any without the matching
``Proxy-Authorization``.

    with ForwardProxy(credentials=("user", "pw")) as proxy:
        ...run the command with HTTP_PROXY=proxy.url_with(...)...
        proxy.seen  # what it was asked, in order

One request per client connection, closed after the answer (``Connection: close``), which
every client handles; the tunnel lasts until either side closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from evio_fetch.engine.loopback.background import START_TIMEOUT, BackgroundServer

CHUNK = 256 * 1024
HEAD_LIMIT = 64 * 1024
# Headers meant for the proxy itself, never passed on.
HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


@dataclass
class Asked:
    """One request the proxy was sent: ``CONNECT host:port`` or ``GET http://…``."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    refused: bool = False

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class ForwardProxy(BackgroundServer):
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__(thread_name="forward-proxy", what="the forward proxy", loop_factory=None)
        self._credentials = credentials
        self._lock = threading.Lock()
        self._seen: list[Asked] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def seen(self) -> list[Asked]:
        with self._lock:
            return list(self._seen)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self._start_thread(timeout)

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            asked = _parse(await reader.readuntil(b"\r\n\r\n"))
            with self._lock:
                self._seen.append(asked)
            if not self._allowed(asked):
                asked.refused = True
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
            elif asked.method == "CONNECT":
                await _tunnel(asked, reader, writer)
            else:
                await _forward(asked, writer)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    def _allowed(self, asked: Asked) -> bool:
        if self._credentials is None:
            return True
        token = base64.b64encode(":".join(self._credentials).encode()).decode()
        return asked.header("Proxy-Authorization") == f"Basic {token}"


def _parse(head: bytes) -> Asked:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    return Asked(method, target, headers)


async def _tunnel(asked: Asked, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, _, port = asked.target.rpartition(":")
    up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        up_writer.close()


async def _forward(asked: Asked, writer: asyncio.StreamWriter) -> None:
    parts = urlsplit(asked.target)
    up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [f"{asked.method} {path} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in asked.headers.items() if k.lower() not in HOP_BY_HOP]
        lines.append("Connection: close")
        up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = await up_reader.readuntil(b"\r\n\r\n")
        writer.write(_closing(head))
        await _pipe(up_reader, writer)
    finally:
        up_writer.close()


def _closing(head: bytes) -> bytes:
    """The upstream answer's head, saying the connection closes after it."""
    lines = head.decode("latin-1").split("\r\n")
    kept = [line for line in lines if line and line.split(":")[0].lower() not in HOP_BY_HOP]
    return ("\r\n".join([*kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1")


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if sink.can_write_eof():
            sink.write_eof()
