"""Writing the fault server's answer to one request onto its connection, misbehaving as the
request's fault says, and recording in its ``Seen`` what was sent."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from fault_answers import Entry, Request, answer, head, page
from fault_kinds import KIB, Close, Fault, Hold, LongBody, Reset, Stall, Trickle, Unframed

from evio_fetch.engine.loopback.http_common import http_date

if sys.platform.startswith("linux"):
    import fcntl
    import termios
# macOS's socket option for the bytes its send buffer still holds (<sys/socket.h>).
SO_NWRITE = 0x1024

PIECE = 64 * KIB
# How long a reset waits for the bytes before it to leave the kernel, so they reach the client.
FLUSH_TIMEOUT = 2.0
GARBAGE = b"<GARBAGE>"
# How often a held answer looks whether the test has released it.
HOLD_CHECK = 0.01


@dataclass(kw_only=True)
class Seen:
    """One request and what it was answered (``status`` 0 until the answer's head is sent)."""

    number: int
    """Its number among the requests of its path, from 1."""
    path: str
    target: str
    """The request target as sent: the path, and its query if any."""
    method: str
    headers: dict[str, str]
    """Request headers, names in lower case; repeated headers joined by ", "."""
    host: str
    """The local address it arrived at (which of the server's addresses)."""
    connection: int
    at: float
    """``time.monotonic()`` when its head had arrived."""
    wall: float
    """``time.time()`` at the same moment."""
    fault: Fault | None = None
    version: int = 0
    """The version its path held when it was answered (see ``Change``); 0 for a path that
    was never registered."""
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    """Body bytes written for it (garbage included)."""
    done: float = 0.0
    """``time.monotonic()`` when its answer ended (sent, cut or abandoned); 0 until then."""
    held: bool = False
    """Whether a ``Hold`` keeps its answer waiting now."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Reply:
    """The answer to ``request``; ``lock`` guards ``seen``, which the test's thread reads.
    Each method returns False when the connection must not carry another request."""

    def __init__(
        self,
        lock: threading.Lock,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seen: Seen,
        released: threading.Event,
    ) -> None:
        self._lock = lock
        self._request = request
        self._reader = reader
        self._writer = writer
        self._seen = seen
        self._released = released

    async def simple(
        self, status: int, extra: Sequence[tuple[str, str]] = (), *, body: bool = True
    ) -> bool:
        """A small HTML page (or, with ``body=False``, an empty body)."""
        request = self._request
        content = page(status) if body else b""
        headers = [
            ("Date", http_date()),
            *extra,
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(content))),
            ("Connection", "keep-alive" if request.keep_alive else "close"),
        ]
        self._send_head(status, headers)
        if request.method == "GET":
            await self._write(memoryview(content))
        else:
            await self._writer.drain()
        return request.keep_alive

    async def file(self, entry: Entry, fault: Fault | None) -> bool:
        """The file's answer, its body cut, slowed or lengthened as ``fault`` says."""
        request = self._request
        normal = answer(entry, request, fault)
        keep = request.keep_alive and not isinstance(fault, Reset | Close | Stall | Unframed)
        normal.headers.append(("Connection", "keep-alive" if keep else "close"))
        self._send_head(normal.status, normal.headers)
        body = normal.body if request.method == "GET" else memoryview(b"")
        if isinstance(fault, Unframed):
            # Without Content-Length, the close is what ends the body.
            await self._write(body if fault.after is None else body[: fault.after])
            return False
        if isinstance(fault, Reset | Close | Stall):
            await self._write(body[: fault.after])
            if isinstance(fault, Reset):
                await _reset(self._writer)
            elif isinstance(fault, Stall):
                await _until_gone(self._reader, fault.seconds)
            return False
        if isinstance(fault, Hold):
            await self._write(body[: fault.after])
            with self._lock:
                self._seen.held = True
            try:
                if not await _until_released(self._reader, self._released):
                    return False
            finally:
                with self._lock:
                    self._seen.held = False
            await self._write(body[fault.after :])
            return keep
        if isinstance(fault, Trickle):
            for offset in range(0, len(body), fault.piece):
                await self._write(body[offset : offset + fault.piece])
                if offset + fault.piece < len(body):
                    await asyncio.sleep(fault.interval)
            return keep
        await self._write(body)
        if isinstance(fault, LongBody):
            garbage = (GARBAGE * (fault.extra // len(GARBAGE) + 1))[: fault.extra]
            await self._write(memoryview(garbage))
        return keep

    def _send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        with self._lock:
            self._seen.status = status
            self._seen.response_headers = {name: value for name, value in headers}
        self._writer.write(head(status, headers))

    async def _write(self, data: memoryview) -> None:
        for offset in range(0, len(data), PIECE):
            piece = data[offset : offset + PIECE]
            self._writer.write(piece)
            await self._writer.drain()
            with self._lock:
                self._seen.sent += len(piece)
        if not data:
            await self._writer.drain()


def _unsent(sock: socket.socket) -> int:
    """Bytes the kernel still holds for the peer (not yet sent or not yet acknowledged); 0
    where the system does not tell (Windows), on loopback soon true anyway."""
    if sys.platform.startswith("linux"):
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        return int(struct.unpack("i", raw)[0])
    if sys.platform == "darwin":
        return sock.getsockopt(socket.SOL_SOCKET, SO_NWRITE)
    return 0


async def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort with RST, once the bytes written before it have reached the client."""
    sock = writer.get_extra_info("socket")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FLUSH_TIMEOUT
    with contextlib.suppress(OSError):
        while _unsent(sock) > 0 and loop.time() < deadline:
            await asyncio.sleep(0.002)
        # Linger on, with a timeout of 0: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _until_gone(reader: asyncio.StreamReader, seconds: float) -> None:
    """Stay silent for ``seconds``, or until the client closes its side."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(seconds):
            while await reader.read(PIECE):
                pass


async def _until_released(reader: asyncio.StreamReader, released: threading.Event) -> bool:
    """Wait for the test to release held answers: True once it has, False if the client
    closed its side first."""
    while not released.is_set():
        try:
            async with asyncio.timeout(HOLD_CHECK):
                if not await reader.read(PIECE):
                    return False
        except TimeoutError:
            continue
        except ConnectionError:
            return False
    return True
