"""A fault-injecting HTTP/1.1 server on loopback, for the resilience tests.

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

A path's file can also change under the client: a ``Change`` fault makes it a new version
(other bytes, ETag and Last-Modified) from that request on, and ``representations(path)``
gives the bytes of every version it served. ``validators=Validators(...)`` chooses what it
says about versions (a strong, weak or no ETag; Last-Modified or not) and whether its ranges
heed If-Range; ``headers`` adds headers (a Content-Disposition) to every answer.

A path added with ``mirror_of`` serves the bytes of another (a mirror, with an ETag of its
own). A ``Redirect`` with ``sign`` hands out a fresh signature each time, as a data
repository's link to its storage does, and ``Expires`` makes each signature of a path expire
after some uses. ``Late`` answers a request after a later one, as it was when it arrived.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fault_answers import (
    LAST_MODIFIED,
    Entry,
    GzipMode,
    Request,
    Validators,
    head,
    parse_request,
    payload,
    retry_after,
    version_bytes,
)
from fault_kinds import (
    KIB,
    MIB,
    Change,
    ClaimSize,
    Close,
    Expires,
    Fault,
    Guard,
    Hold,
    Html,
    HugeHeader,
    IgnoreRange,
    Late,
    LongBody,
    Redirect,
    Reset,
    Stall,
    Status,
    Trickle,
    Unframed,
    UnknownTotal,
    WrongRange,
)
from fault_replies import Reply, Seen

from evio_fetch.engine.loopback.background import START_TIMEOUT, BackgroundServer

# The tests import every fault and the server from here.
__all__ = [
    "KIB",
    "LAST_MODIFIED",
    "MIB",
    "Change",
    "ClaimSize",
    "Close",
    "Expires",
    "Fault",
    "FaultServer",
    "Guard",
    "GzipMode",
    "Hold",
    "Html",
    "HugeHeader",
    "IgnoreRange",
    "Late",
    "LongBody",
    "Redirect",
    "Reset",
    "Seen",
    "Served",
    "Stall",
    "Status",
    "Trickle",
    "Unframed",
    "UnknownTotal",
    "Validators",
    "WrongRange",
    "payload",
]

HEAD_LIMIT = 64 * KIB
GATE_POLL = 0.01


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


# The server ---------------------------------------------------------------------------------


class FaultServer(BackgroundServer):
    """Serves registered paths on each of ``hosts`` (one port each), on its own thread;
    ``send_buffer`` sizes each connection's socket send buffer (default: the kernel's)."""

    def __init__(
        self, hosts: Iterable[str] = ("127.0.0.1",), send_buffer: int | None = None
    ) -> None:
        self._hosts = tuple(hosts)
        self._send_buffer = send_buffer
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._seen: list[Seen] = []
        self._connections = 0
        self._connection_ids = itertools.count(1)
        self._ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._released = threading.Event()
        # The standard event loop: its transports expose the socket for SO_LINGER.
        super().__init__(thread_name="fault-server", what="the fault server", loop_factory=None)

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
        validators: Validators | None = None,
        headers: Sequence[tuple[str, str]] = (),
        gate: threading.Event | None = None,
        mirror_of: str | None = None,
    ) -> Served:
        """Serve ``size`` deterministic bytes at ``path`` (on every address), misbehaving as
        ``faults`` say, with ``headers`` added to every answer that carries the file; the URL
        returned is on ``host`` (default: the first address). With ``gzip="stored"`` the bytes
        served are gzip data of ``size`` bytes. With a ``gate``, no request is answered before
        the test sets it. With ``mirror_of``, the bytes are those that path serves (of
        ``size``: give it the same), under an ETag of this path's own. Adding a path again
        replaces it (its request count starts over)."""
        if not path.startswith("/"):
            raise ValueError(f"a path starts with '/', not {path!r}")
        entry = Entry(
            path,
            size,
            tuple(faults),
            gzip,
            validators or Validators(),
            tuple(headers),
            gate,
            mirror_of=mirror_of,
        )
        with self._lock:
            self._entries[path] = entry
        return Served(path, self.url(path, host), entry.data, entry.sha256)

    # What happened ---------------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Seen]:
        """Copies of the requests seen (of ``path``, or all), in arrival order."""
        with self._lock:
            return [dataclasses.replace(s) for s in self._seen if path is None or s.path == path]

    def representations(self, path: str) -> list[bytes]:
        """The bytes of every version ``path`` has served (more than one after a Change)."""
        with self._lock:
            entry = self._entries[path]
            versions = sorted(entry.sizes.items())
        return [version_bytes(path, v, size, entry.gzip) for v, size in versions]

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

    def held(self) -> int:
        """Answers a ``Hold`` keeps waiting now."""
        with self._lock:
            return sum(1 for s in self._seen if s.held)

    def most_at_once(self, path: str | None = None) -> int:
        """The most requests (of ``path``, or all) whose answers were under way at once,
        counted from when each request arrived to when its answer ended."""
        events = []
        for seen in self.requests(path):
            events += [(seen.at, 1), (seen.done or float("inf"), -1)]
        # At a tie, an answer that ended leaves before one that began joins.
        events.sort(key=lambda event: (event[0], event[1]))
        most = now = 0
        for _, change in events:
            now += change
            most = max(most, now)
        return most

    def release(self) -> None:
        """Let every answer a ``Hold`` keeps waiting go on, and those to come pass."""
        self._released.set()

    # Life ------------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> None:
        try:
            self._start_thread(timeout)
        except OSError as error:
            raise RuntimeError("the fault server could not listen") from error

    async def _open(self) -> None:
        try:
            for host in self._hosts:
                server = await asyncio.start_server(self._connection, host, 0, limit=HEAD_LIMIT)
                self._servers.append(server)
                self._ports[host] = server.sockets[0].getsockname()[1]
        except BaseException:
            await self._close()
            raise

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    # One connection --------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        # Writes wait until every byte has left for the kernel: counts and cut-offs are exact.
        writer.transport.set_write_buffer_limits(high=0)
        if self._send_buffer is not None:
            # And the kernel holds little of them: a byte counted has nearly reached the client.
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._send_buffer)
        with self._lock:
            self._connections += 1
        connection = next(self._connection_ids)
        host = str(writer.get_extra_info("sockname")[0])
        try:
            keep = True
            while keep:
                try:
                    request_head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break
                request = parse_request(request_head)
                if request is None:
                    writer.write(head(400, [("Content-Length", "0"), ("Connection", "close")]))
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
        request: Request,
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

    def _record(self, request: Request, host: str, connection: int) -> Seen:
        with self._lock:
            entry = self._entries.get(request.path)
            number = 1
            if entry is not None:
                entry.count += 1
                number = entry.count
                entry.queries[request.query] = entry.queries.get(request.query, 0) + 1
            seen = Seen(
                number=number,
                path=request.path,
                target=request.target,
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
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seen: Seen,
    ) -> bool:
        reply = Reply(self._lock, request, reader, writer, seen, self._released)
        with self._lock:
            entry = self._entries.get(request.path)
        if entry is None:
            return await reply.simple(404)
        while entry.gate is not None and not entry.gate.is_set():
            await asyncio.sleep(GATE_POLL)
        fault = entry.fault_for(seen.number)
        with self._lock:
            seen.fault = fault
            if isinstance(fault, Change):
                entry.change(fault)
            seen.version = entry.version
            as_it_was = copy.copy(entry)
        if isinstance(fault, Late):
            await self._answered(request.path, fault.behind, fault.seconds)
            entry, fault = as_it_was, None
        if isinstance(fault, Status):
            extra = []
            if fault.retry_after is not None:
                extra.append(("Retry-After", retry_after(fault)))
            return await reply.simple(fault.code, extra)
        if isinstance(fault, Guard):
            if seen.header(fault.header) != fault.value:
                return await reply.simple(401, [("WWW-Authenticate", 'Basic realm="test"')])
            fault = None
        if isinstance(fault, Html):
            return await reply.simple(200)
        if isinstance(fault, Expires):
            with self._lock:
                expired = entry.queries[request.query] > fault.uses
            if expired:
                return await reply.simple(fault.status)
            fault = None
        if isinstance(fault, Redirect):
            location = f"{fault.to}?sig={seen.number}" if fault.sign else fault.to
            headers = [("Location", location)]
            if fault.set_cookie:
                headers.append(("Set-Cookie", fault.set_cookie))
            return await reply.simple(fault.status, headers, body=False)
        return await reply.file(entry, fault)

    async def _answered(self, path: str, number: int, seconds: float) -> None:
        """Wait until request ``number`` of ``path`` has been answered, at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if any(s.path == path and s.number == number and s.done for s in self._seen):
                    return
            await asyncio.sleep(GATE_POLL)
