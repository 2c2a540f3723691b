"""A fault-injecting HTTP/1.1 server on loopback, for the resilience tests (issue 5).

Raw asyncio rather than aiohttp.web: the faults are byte-exact misbehaviour (a reset after
exactly K body bytes, a body longer than its Content-Length, a 100 KiB header) that a real
HTTP framework would refuse to produce. It runs on its own thread, so synchronous tests start
and stop it around a subprocess::

    with FaultServer() as server:
        served = server.add("/a.bin", size=4 * MIB, faults=[Reset(after=512 * KIB, times=1)])
        ...download served.url, compare with served.data...
        server.requests("/a.bin")  # what each request asked, when, and what it was sent

Each registered path serves deterministic bytes (they depend only on the path and size) the
way nginx serves a static file: a single ``Range`` (``a-b``, ``a-``, ``-n``), ``If-Range``,
ETag, Last-Modified, Content-Length and keep-alive. A path's faults form a script: for the
request numbered n (counted per path, from 1), the first fault whose window
``skip < n <= skip + times`` holds (``times=None``: every request after ``skip``) decides how
the request is answered; with none, the answer is the normal one. So ``times=2`` misbehaves
twice and then lets a retry succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gzip
import hashlib
import itertools
import random
import socket
import struct
import termios
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from types import TracebackType
from typing import Literal, Self

KIB = 1024
MIB = 1024 * KIB
PIECE = 64 * KIB
HEAD_LIMIT = 64 * KIB
START_TIMEOUT = 10.0
# How long a reset waits for the bytes before it to leave the kernel, so they reach the client.
FLUSH_TIMEOUT = 2.0
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)
GARBAGE = b"<GARBAGE>"

GzipMode = Literal["never", "negotiated", "always"]
"""``negotiated``: a whole-file 200 is gzip-encoded when the request accepts gzip (a Range
request or ``Accept-Encoding: identity`` gets the plain bytes); ``always``: every GET is
answered 200 with the gzip-encoded whole file, whatever was asked (a misbehaving server)."""


# Faults -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Fault:
    """When a misbehaviour applies: to requests ``skip + 1`` .. ``skip + times`` of its path."""

    skip: int = 0
    times: int | None = None

    def applies(self, number: int) -> bool:
        return number > self.skip and (self.times is None or number <= self.skip + self.times)


@dataclass(frozen=True, kw_only=True)
class Reset(Fault):
    """Send the headers and ``after`` body bytes, then reset the connection (RST)."""

    after: int


@dataclass(frozen=True, kw_only=True)
class Close(Fault):
    """Send the headers and ``after`` body bytes, then close cleanly (FIN): a short body."""

    after: int


@dataclass(frozen=True, kw_only=True)
class Stall(Fault):
    """Send ``after`` body bytes, then nothing for ``seconds`` (or until the client leaves)."""

    after: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Trickle(Fault):
    """Send the body in pieces of ``piece`` bytes, one every ``interval`` seconds."""

    piece: int
    interval: float


@dataclass(frozen=True, kw_only=True)
class Status(Fault):
    """Answer ``code`` with a small HTML page; ``retry_after`` seconds, sent as a number or,
    with ``as_date``, as the HTTP date that far ahead."""

    code: int
    retry_after: float | None = None
    as_date: bool = False


@dataclass(frozen=True, kw_only=True)
class IgnoreRange(Fault):
    """Answer a Range request 200 with the whole body, as a server without range support."""


@dataclass(frozen=True, kw_only=True)
class WrongRange(Fault):
    """Answer a Range request 206 with other bytes than asked, ``shift`` bytes away, and a
    Content-Range that truthfully names them."""

    shift: int = 1


@dataclass(frozen=True, kw_only=True)
class LongBody(Fault):
    """Send the whole promised body, then ``extra`` bytes of garbage on the same connection."""

    extra: int = 4 * KIB


@dataclass(frozen=True, kw_only=True)
class Html(Fault):
    """Answer 200 with an HTML page (``Content-Type: text/html``), like a login or error page."""


@dataclass(frozen=True, kw_only=True)
class Redirect(Fault):
    """Answer ``status`` with ``Location: to`` (and a cookie, when ``set_cookie`` is given)."""

    to: str
    status: int = 302
    set_cookie: str | None = None


@dataclass(frozen=True, kw_only=True)
class HugeHeader(Fault):
    """The normal answer with one extra header of ``size`` bytes."""

    size: int = 100 * KIB


# What the server saw ------------------------------------------------------------------------


@dataclass(kw_only=True)
class Seen:
    """One request and what it was answered (``status`` 0 until the answer's head is sent)."""

    number: int
    """Its number among the requests of its path, from 1."""
    path: str
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
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    """Body bytes written for it (garbage included)."""
    done: float = 0.0
    """``time.monotonic()`` when its answer ended (sent, cut or abandoned); 0 until then."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Served:
    """A registered path: where to fetch it, and the bytes it holds."""

    path: str
    url: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class _Entry:
    data: bytes
    etag: str
    faults: tuple[Fault, ...]
    gzip: GzipMode
    count: int = 0
    _encoded: bytes | None = None

    def fault_for(self, number: int) -> Fault | None:
        return next((f for f in self.faults if f.applies(number)), None)

    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = gzip.compress(self.data, compresslevel=1, mtime=0)
        return self._encoded


def payload(path: str, size: int) -> bytes:
    """The bytes a path of ``size`` serves: the same on every run and machine."""
    return random.Random(f"evio-fetch faults {path}").randbytes(size)


# Requests and answers -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def parse_request(head: bytes) -> _Request | None:
    """The request line and headers of one request head (ending in CRLFCRLF), else None."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            return None
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return _Request(parts[0], parts[1], parts[2], headers)


Span = tuple[int, int]


def parse_range(value: str, size: int) -> Span | Literal["whole", "unsatisfiable"]:
    """One ``bytes=a-b``, ``a-`` or ``-n`` range as (first, last); anything else: the whole."""
    unit, equals, spec = value.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return "whole"
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if not dash or not (first or last) or not all(p.isdigit() for p in (first, last) if p):
        return "whole"
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - length), size - 1)
    start = int(first)
    if last and int(last) < start:
        return "whole"
    if start >= size:
        return "unsatisfiable"
    return (start, size - 1 if not last else min(int(last), size - 1))


def _accepts_gzip(request: _Request) -> bool:
    for item in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            quality = params.strip().lower().removeprefix("q=")
            return not params.strip() or quality.strip() not in ("0", "0.0", "0.00", "0.000")
    return False


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_reason(status)}", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _page(status: int) -> bytes:
    title = f"{status} {_reason(status)}"
    return (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n".encode()
    )


@dataclass
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: memoryview


# The server ---------------------------------------------------------------------------------


class FaultServer:
    """Serves registered paths on each of ``hosts`` (one port each), on its own thread."""

    def __init__(self, hosts: Iterable[str] = ("127.0.0.1",)) -> None:
        self._hosts = tuple(hosts)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._seen: list[Seen] = []
        self._connections = 0
        self._connection_ids = itertools.count(1)
        self._ports: dict[str, int] = {}
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # Set-up, from the test's thread ----------------------------------------------------------

    def url(self, path: str, host: str | None = None, userinfo: str | None = None) -> str:
        """``http://[userinfo@]host:port/path`` (host: the first address by default)."""
        host = host or self._hosts[0]
        credentials = f"{userinfo}@" if userinfo else ""
        return f"http://{credentials}{host}:{self._ports[host]}{path}"

    def add(
        self,
        path: str,
        *,
        size: int = 0,
        faults: Sequence[Fault] = (),
        gzip: GzipMode = "never",
        host: str | None = None,
    ) -> Served:
        """Serve ``size`` deterministic bytes at ``path`` (on every address), misbehaving as
        ``faults`` say; the URL returned is on ``host`` (default: the first address)."""
        if not path.startswith("/"):
            raise ValueError(f"a path starts with '/', not {path!r}")
        data = payload(path, size)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._entries[path] = _Entry(data, f'"{digest[:20]}"', tuple(faults), gzip)
        return Served(path, self.url(path, host), data, digest)

    # What happened ---------------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Seen]:
        """Copies of the requests seen (of ``path``, or all), in arrival order."""
        with self._lock:
            return [dataclasses.replace(s) for s in self._seen if path is None or s.path == path]

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for s in self._seen if s.path == path)

    def body_bytes(self, path: str | None = None) -> int:
        with self._lock:
            return sum(s.sent for s in self._seen if path is None or s.path == path)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    # Life ------------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> None:
        if self._thread is not None:
            raise RuntimeError("a FaultServer can be started only once")
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the fault server did not start within {timeout} s")
        if self._failure is not None:
            raise RuntimeError("the fault server could not listen") from self._failure

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the fault server did not stop within {timeout} s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        # The standard event loop: its transports expose the socket for SO_LINGER.
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        servers: list[asyncio.Server] = []
        try:
            for host in self._hosts:
                server = await asyncio.start_server(self._connection, host, 0, limit=HEAD_LIMIT)
                servers.append(server)
                self._ports[host] = server.sockets[0].getsockname()[1]
        except OSError as error:
            self._failure = error
        finally:
            self._ready.set()
        try:
            if self._failure is None:
                await self._stopping.wait()
        finally:
            for server in servers:
                server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for server in servers:
                await server.wait_closed()

    # One connection --------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        # Writes wait until every byte has left for the kernel: counts and cut-offs are exact.
        writer.transport.set_write_buffer_limits(high=0)
        with self._lock:
            self._connections += 1
        connection = next(self._connection_ids)
        host = str(writer.get_extra_info("sockname")[0])
        try:
            keep = True
            while keep:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break
                request = parse_request(head)
                if request is None:
                    writer.write(_head(400, [("Content-Length", "0"), ("Connection", "close")]))
                    break
                keep = await self._exchange(request, reader, writer, host, connection)
        except ConnectionError:
            pass  # the client went away
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _exchange(
        self,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        connection: int,
    ) -> bool:
        """Answer one request; False when the connection must not carry another."""
        seen = self._record(request, host, connection)
        try:
            return await self._answer(request, reader, writer, seen)
        finally:
            with self._lock:
                seen.done = time.monotonic()

    def _record(self, request: _Request, host: str, connection: int) -> Seen:
        with self._lock:
            entry = self._entries.get(request.path)
            number = 1
            if entry is not None:
                entry.count += 1
                number = entry.count
            seen = Seen(
                number=number,
                path=request.path,
                method=request.method,
                headers=dict(request.headers),
                host=host,
                connection=connection,
                at=time.monotonic(),
                wall=time.time(),
            )
            self._seen.append(seen)
            return seen

    async def _answer(
        self,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seen: Seen,
    ) -> bool:
        with self._lock:
            entry = self._entries.get(request.path)
        if entry is None:
            return await self._simple(writer, seen, request, 404)
        fault = entry.fault_for(seen.number)
        with self._lock:
            seen.fault = fault
        if isinstance(fault, Status):
            extra = []
            if fault.retry_after is not None:
                extra.append(("Retry-After", _retry_after(fault)))
            return await self._simple(writer, seen, request, fault.code, extra)
        if isinstance(fault, Html):
            return await self._simple(writer, seen, request, 200)
        if isinstance(fault, Redirect):
            headers = [("Location", fault.to)]
            if fault.set_cookie:
                headers.append(("Set-Cookie", fault.set_cookie))
            return await self._simple(writer, seen, request, fault.status, headers, body=False)
        answer = _answer(entry, request, fault)
        keep = request.keep_alive and not isinstance(fault, Reset | Close | Stall)
        answer.headers.append(("Connection", "keep-alive" if keep else "close"))
        self._send_head(writer, seen, answer.status, answer.headers)
        body = answer.body if request.method == "GET" else memoryview(b"")
        if isinstance(fault, Reset | Close | Stall):
            await self._write(writer, seen, body[: fault.after])
            if isinstance(fault, Reset):
                await _reset(writer)
            elif isinstance(fault, Stall):
                await _until_gone(reader, fault.seconds)
            return False
        if isinstance(fault, Trickle):
            for offset in range(0, len(body), fault.piece):
                await self._write(writer, seen, body[offset : offset + fault.piece])
                if offset + fault.piece < len(body):
                    await asyncio.sleep(fault.interval)
            return keep
        await self._write(writer, seen, body)
        if isinstance(fault, LongBody):
            garbage = (GARBAGE * (fault.extra // len(GARBAGE) + 1))[: fault.extra]
            await self._write(writer, seen, memoryview(garbage))
        return keep

    async def _simple(
        self,
        writer: asyncio.StreamWriter,
        seen: Seen,
        request: _Request,
        status: int,
        extra: Sequence[tuple[str, str]] = (),
        *,
        body: bool = True,
    ) -> bool:
        page = _page(status) if body else b""
        headers = [
            ("Date", formatdate(usegmt=True)),
            *extra,
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(page))),
            ("Connection", "keep-alive" if request.keep_alive else "close"),
        ]
        self._send_head(writer, seen, status, headers)
        if request.method == "GET":
            await self._write(writer, seen, memoryview(page))
        else:
            await writer.drain()
        return request.keep_alive

    def _send_head(
        self, writer: asyncio.StreamWriter, seen: Seen, status: int, headers: list[tuple[str, str]]
    ) -> None:
        with self._lock:
            seen.status = status
            seen.response_headers = {name: value for name, value in headers}
        writer.write(_head(status, headers))

    async def _write(self, writer: asyncio.StreamWriter, seen: Seen, data: memoryview) -> None:
        for offset in range(0, len(data), PIECE):
            piece = data[offset : offset + PIECE]
            writer.write(piece)
            await writer.drain()
            with self._lock:
                seen.sent += len(piece)
        if not data:
            await writer.drain()


def _retry_after(fault: Status) -> str:
    assert fault.retry_after is not None
    if fault.as_date:
        return formatdate(time.time() + fault.retry_after, usegmt=True)
    return f"{fault.retry_after:g}"


def _answer(entry: _Entry, request: _Request, fault: Fault | None) -> _Answer:
    """The normal answer (as nginx would give it), bent by the range and header faults."""
    data = entry.data
    size = len(data)
    headers = [
        ("Date", formatdate(usegmt=True)),
        ("Content-Type", "application/octet-stream"),
        ("Last-Modified", LAST_MODIFIED),
    ]
    if isinstance(fault, HugeHeader):
        headers.append(("X-Padding", "p" * fault.size))
    negotiated = "range" not in request.headers and _accepts_gzip(request)
    if (entry.gzip == "always" and request.method == "GET") or (
        entry.gzip == "negotiated" and negotiated
    ):
        encoded = entry.encoded()
        headers += [
            ("ETag", entry.etag[:-1] + '-gz"'),
            ("Content-Encoding", "gzip"),
            ("Vary", "Accept-Encoding"),
            ("Content-Length", str(len(encoded))),
        ]
        return _Answer(200, headers, memoryview(encoded))
    headers.append(("ETag", entry.etag))
    if entry.gzip != "never":
        headers.append(("Vary", "Accept-Encoding"))
    choice: Span | Literal["whole", "unsatisfiable"] = "whole"
    asked = request.headers.get("range")
    if_range = request.headers.get("if-range")
    ignored = isinstance(fault, IgnoreRange)
    honoured = if_range is None or if_range.strip() in (entry.etag, LAST_MODIFIED)
    if request.method == "GET" and asked is not None and honoured and not ignored:
        choice = parse_range(asked, size)
    if choice == "unsatisfiable":
        page = _page(416)
        headers += [
            ("Content-Range", f"bytes */{size}"),
            ("Content-Length", str(len(page))),
        ]
        return _Answer(416, headers, memoryview(page))
    if choice == "whole":
        headers += [("Accept-Ranges", "bytes"), ("Content-Length", str(size))]
        return _Answer(200, headers, memoryview(data))
    first, last = choice
    if isinstance(fault, WrongRange):
        length = last - first
        moved = first + fault.shift if last + fault.shift < size else first - fault.shift
        first = max(0, moved)
        last = min(size - 1, first + length)
    headers += [
        ("Content-Range", f"bytes {first}-{last}/{size}"),
        ("Content-Length", str(last + 1 - first)),
    ]
    return _Answer(206, headers, memoryview(data)[first : last + 1])


def _unsent(sock: socket.socket) -> int:
    """Bytes the kernel still holds for the peer (not yet sent or not yet acknowledged)."""
    answer = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return int(struct.unpack("i", answer)[0])


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
