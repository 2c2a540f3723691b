"""The loopback HTTP server that the demo, the tests and the benchmark all download from.

It serves the files under one root directory the way nginx serves static files (ETag,
Last-Modified, single byte ranges, If-Range, 416), and can imitate less helpful servers:
a per-connection speed cap like Google Drive's, no range support, no Content-Length, a
Content-Disposition name. It counts what clients did (``ServerStats``) so tests can check
how a download behaved, not only what it produced.

Run it on the caller's event loop (``LoopbackServer``), on its own thread for synchronous
code (``ServerThread``), or as a process::

    python -m evio_fetch.engine.loopback.server --root DIR [--port 0] [--rate 20M]
        [--ignore-ranges] [--no-content-length] [--content-disposition]

which prints ``READY http://127.0.0.1:PORT`` once listening and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import mimetypes
import os
import re
import signal
import stat
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import Literal, Self
from urllib.parse import quote, unquote

from aiohttp import hdrs, web

from evio_fetch.engine.ratelimit import TokenBucket, parse_rate

if sys.platform == "win32":
    new_event_loop = asyncio.new_event_loop
else:
    import uvloop

    new_event_loop = uvloop.new_event_loop

KIB = 1024
DEFAULT_CHUNK = 256 * KIB
# A throttled response is sent in pieces of about 1/16 s of its rate, so pacing stays
# smooth at low rates instead of one large chunk followed by a long pause.
MIN_THROTTLED_PIECE = 16 * KIB
PACING_SLICES_PER_SECOND = 16
# aiohttp's grace period at stop() for anything the server did not cancel itself.
SHUTDOWN_TIMEOUT = 0.5
START_TIMEOUT = 10.0
# Built-in types only, not the machine's /etc/mime.types: the same file gets the same
# Content-Type everywhere (.dat and .raw stay application/octet-stream, as in nginx).
_MIME_TYPES = mimetypes.MimeTypes()


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerConfig:
    """How the server behaves; every default is what nginx would do."""

    rate_per_connection: int | None = None
    """Bytes per second cap on each response body; ``None`` means unthrottled."""
    ignore_ranges: bool = False
    """Answer every GET 200 with the whole file, and never advertise Accept-Ranges."""
    omit_content_length: bool = False
    """Send whole-file 200 bodies chunked, without Content-Length."""
    content_disposition: bool = False
    """Name the file with ``Content-Disposition: attachment; filename="NAME"``."""
    chunk_size: int = DEFAULT_CHUNK

    def __post_init__(self) -> None:
        if self.rate_per_connection is not None and self.rate_per_connection <= 0:
            raise ValueError(f"rate_per_connection must be positive or None, not {self}")
        if self.chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {self.chunk_size}")


# Statistics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Every counter of ``ServerStats`` read at one instant."""

    requests: int
    requests_by_path: Mapping[str, int]
    range_gets: int
    bytes_sent: int
    connections: int
    max_streaming: int
    max_streaming_by_path: Mapping[str, int] = field(default_factory=dict)


class ServerStats:
    """What clients did since the server started or since ``reset()``.

    Written on the server's event loop, readable from any thread: every access holds a lock.
    ``requests_by_path`` and the streaming counts are keyed by the decoded path relative to
    the root, without a leading slash.
    """

    # Transports are remembered so each connection is counted once; closed ones are
    # forgotten once this many are remembered.
    _PRUNE_AT = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streaming = 0
        self._streaming_by_path: dict[str, int] = {}
        self._clear()

    def _clear(self) -> None:
        self._requests = 0
        self._by_path: dict[str, int] = {}
        self._range_gets = 0
        self._bytes_sent = 0
        self._connections = 0
        # Keyed by id(): uvloop transports cannot be weakly referenced. Holding the
        # transport keeps its id from being reused while it is in the table.
        self._transports: dict[int, asyncio.BaseTransport] = {}
        # Responses still streaming at a reset count towards the new maxima.
        self._max_streaming = self._streaming
        self._max_by_path = {path: n for path, n in self._streaming_by_path.items() if n}

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                requests=self._requests,
                requests_by_path=dict(self._by_path),
                range_gets=self._range_gets,
                bytes_sent=self._bytes_sent,
                connections=self._connections,
                max_streaming=self._max_streaming,
                max_streaming_by_path=dict(self._max_by_path),
            )

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def requests_by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_path)

    @property
    def range_gets(self) -> int:
        """GET requests that carried a Range header, whether or not it was honoured."""
        with self._lock:
            return self._range_gets

    @property
    def bytes_sent(self) -> int:
        """Bytes of response bodies written to clients."""
        with self._lock:
            return self._bytes_sent

    @property
    def connections(self) -> int:
        """Distinct connections that carried at least one request."""
        with self._lock:
            return self._connections

    @property
    def streaming(self) -> int:
        """Response bodies being sent right now."""
        with self._lock:
            return self._streaming

    @property
    def max_streaming(self) -> int:
        """The most response bodies that were being sent at once."""
        with self._lock:
            return self._max_streaming

    @property
    def max_streaming_by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._max_by_path)

    def _record_request(
        self, path: str, transport: asyncio.BaseTransport | None, range_get: bool
    ) -> None:
        with self._lock:
            self._requests += 1
            self._by_path[path] = self._by_path.get(path, 0) + 1
            self._range_gets += range_get
            if transport is not None and id(transport) not in self._transports:
                self._connections += 1
                self._remember(transport)

    def _remember(self, transport: asyncio.BaseTransport) -> None:
        if len(self._transports) >= self._PRUNE_AT:
            self._transports = {
                key: known for key, known in self._transports.items() if not known.is_closing()
            }
        self._transports[id(transport)] = transport

    def _record_bytes(self, n: int) -> None:
        with self._lock:
            self._bytes_sent += n

    def _stream_started(self, path: str) -> None:
        with self._lock:
            self._streaming += 1
            self._max_streaming = max(self._max_streaming, self._streaming)
            now = self._streaming_by_path.get(path, 0) + 1
            self._streaming_by_path[path] = now
            self._max_by_path[path] = max(self._max_by_path.get(path, 0), now)

    def _stream_finished(self, path: str) -> None:
        with self._lock:
            self._streaming -= 1
            left = self._streaming_by_path[path] - 1
            if left:
                self._streaming_by_path[path] = left
            else:
                del self._streaming_by_path[path]


# Requests ---------------------------------------------------------------------------------

Span = tuple[int, int]
"""First and last byte of a range, both inclusive."""
RangeAnswer = Span | Literal["whole", "unsatisfiable"]

# Longer numbers are treated as malformed rather than risking int()'s digit limit.
_RANGE = re.compile(r"bytes\s*=\s*([0-9]{0,30})\s*-\s*([0-9]{0,30})\s*", re.IGNORECASE)


def parse_range(header: str, size: int) -> RangeAnswer:
    """What nginx does with a Range header for a file of ``size`` bytes.

    One range is served as 206; several ranges or anything malformed get the whole file;
    a range that starts at or past the end (or a suffix of zero bytes) is unsatisfiable.
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return "whole"
    first, last = match.groups()
    if not first:
        return _suffix_range(last, size)
    start = int(first)
    if last and int(last) < start:
        return "whole"
    if start >= size:
        return "unsatisfiable"
    end = size - 1 if not last else min(int(last), size - 1)
    return (start, end)


def _suffix_range(last: str, size: int) -> RangeAnswer:
    if not last:
        return "whole"
    length = int(last)
    if length == 0 or size == 0:
        return "unsatisfiable"
    return (max(0, size - length), size - 1)


def _relative_path(target: str) -> str:
    """The decoded path of a request target, without its leading slash or query."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        return unquote(path.removeprefix("/"), errors="strict")
    except UnicodeDecodeError:
        return path


def _is_plain_relative(path: str, target: str) -> bool:
    # Reject before touching the filesystem: anything that could name a place outside the
    # root, even one a later resolve would have brought back inside.
    parts = path.split("/")
    return (
        target.startswith("/")
        and bool(path)
        and "\x00" not in path
        and all(part not in ("", ".", "..") for part in parts)
    )


@dataclass(frozen=True, slots=True)
class _Meta:
    size: int
    etag: str
    last_modified: str

    @classmethod
    def of(cls, info: os.stat_result) -> _Meta:
        return cls(
            size=info.st_size,
            etag=f'"{info.st_size:x}-{info.st_mtime_ns:x}"',
            last_modified=formatdate(info.st_mtime, usegmt=True),
        )


def _if_range_holds(value: str | None, meta: _Meta) -> bool:
    # A validator that differs in any way (including a weak ETag) means the client's
    # partial copy may be stale, so it must get the whole file.
    return value is None or value.strip() in (meta.etag, meta.last_modified)


def _content_disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        # Like Google Drive: the exact name for clients that read RFC 6266's filename*.
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _html(status: int, reason: str) -> web.Response:
    # An HTML page like nginx's, so clients meet the same kind of error body as in the wild.
    title = f"{status} {reason}"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return web.Response(status=status, text=body, content_type="text/html")


# The server --------------------------------------------------------------------------------


class LoopbackServer:
    """Serves ``root`` over HTTP on the running event loop."""

    def __init__(self, root: Path, config: ServerConfig | None = None) -> None:
        self._root = os.path.realpath(root)
        if not os.path.isdir(self._root):
            raise NotADirectoryError(f"loopback server root {str(root)!r} is not a directory")
        self._config = config or ServerConfig()
        self._runner: web.ServerRunner | None = None
        self._url: str | None = None
        self._handlers: set[asyncio.Task[object]] = set()
        self.stats = ServerStats()

    @property
    def config(self) -> ServerConfig:
        return self._config

    def set_config(self, config: ServerConfig) -> None:
        """Applies to requests that arrive from now on; responses under way keep theirs."""
        self._config = config

    @property
    def listening(self) -> bool:
        return self._url is not None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the loopback server is not listening; call start() first")
        return self._url

    def url_for(self, relpath: str) -> str:
        return f"{self.url}/{quote(relpath.lstrip('/'), safe='/')}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the loopback server is already started")
        runner = web.ServerRunner(
            web.Server(self._handle, access_log=None), shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._url = f"http://{shown}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._url = None
        if runner is None:
            return
        # aiohttp would give each transfer in flight a grace period; a throttled one never
        # finishes within it, and a stopping test server should vanish at once, as a
        # crashed one does.
        for task in self._handlers:
            task.cancel()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # One request --------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is None:  # never: aiohttp runs handlers in tasks
            return await self._handle_in_task(request)
        self._handlers.add(task)
        try:
            return await self._handle_in_task(request)
        finally:
            self._handlers.discard(task)

    async def _handle_in_task(self, request: web.BaseRequest) -> web.StreamResponse:
        config = self._config
        path = _relative_path(request.raw_path)
        range_get = request.method == hdrs.METH_GET and hdrs.RANGE in request.headers
        self.stats._record_request(path, request.transport, range_get)
        if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD):
            response = _html(405, "Method Not Allowed")
            response.headers[hdrs.ALLOW] = "GET, HEAD"
            return response
        fd = self._open(path, request.raw_path)
        if fd is None:
            return _html(404, "Not Found")
        try:
            return await _Exchange(self.stats, config, request, path, fd).answer()
        finally:
            os.close(fd)

    def _open(self, path: str, target: str) -> int | None:
        """A descriptor for the regular file ``path`` names inside the root, else None."""
        if not _is_plain_relative(path, target):
            return None
        real = os.path.realpath(os.path.join(self._root, path))
        if os.path.commonpath([self._root, real]) != self._root:
            return None  # a symlink that leads out of the root
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd


class _Exchange:
    """One GET or HEAD of an existing file, from choosing the answer to the last byte."""

    def __init__(
        self,
        stats: ServerStats,
        config: ServerConfig,
        request: web.BaseRequest,
        path: str,
        fd: int,
    ) -> None:
        self.stats = stats
        self.config = config
        self.request = request
        self.path = path
        self.fd = fd
        self.meta = _Meta.of(os.fstat(fd))

    async def answer(self) -> web.StreamResponse:
        choice = self._choose()
        if choice == "unsatisfiable":
            refusal = _html(416, "Requested Range Not Satisfiable")
            refusal.headers[hdrs.CONTENT_RANGE] = f"bytes */{self.meta.size}"
            return refusal
        if choice == "whole":
            return await self._send_whole()
        return await self._send_range(*choice)

    async def _send_whole(self) -> web.StreamResponse:
        size = self.meta.size
        response = web.StreamResponse(status=200, headers=self._headers())
        if not self.config.ignore_ranges:
            response.headers[hdrs.ACCEPT_RANGES] = "bytes"
        if self.config.omit_content_length:
            self._without_length(response)
        else:
            response.content_length = size
        return await self._send(response, 0, size)

    async def _send_range(self, start: int, end: int) -> web.StreamResponse:
        # No Accept-Ranges here: nginx sends it on 200 responses only.
        response = web.StreamResponse(status=206, headers=self._headers())
        response.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end}/{self.meta.size}"
        response.content_length = end + 1 - start
        return await self._send(response, start, end + 1)

    def _choose(self) -> RangeAnswer:
        # Range is defined for GET only (RFC 9110 section 14.2); HEAD describes the whole file.
        headers = self.request.headers
        header = headers.get(hdrs.RANGE)
        if header is None or self.config.ignore_ranges or self.request.method != hdrs.METH_GET:
            return "whole"
        if not _if_range_holds(headers.get(hdrs.IF_RANGE), self.meta):
            return "whole"
        return parse_range(header, self.meta.size)

    def _headers(self) -> dict[str, str]:
        content_type = _MIME_TYPES.guess_type(self.path)[0] or "application/octet-stream"
        headers: dict[str, str] = {
            hdrs.CONTENT_TYPE: content_type,
            "ETag": self.meta.etag,
            hdrs.LAST_MODIFIED: self.meta.last_modified,
        }
        if self.config.content_disposition:
            name = self.path.rsplit("/", 1)[-1]
            headers[hdrs.CONTENT_DISPOSITION] = _content_disposition(name)
        return headers

    def _without_length(self, response: web.StreamResponse) -> None:
        if self.request.method != hdrs.METH_GET:
            return
        if self.request.version >= (1, 1):
            response.enable_chunked_encoding()
        else:
            response.force_close()  # HTTP/1.0 has no chunks: the body ends with the socket

    async def _send(
        self, response: web.StreamResponse, start: int, stop: int
    ) -> web.StreamResponse:
        try:
            if self.request.method == hdrs.METH_HEAD:
                await response.prepare(self.request)
            else:
                await self._stream(response, start, stop)
        except ConnectionError:
            pass  # the client went away; aiohttp finishes the response quietly
        return response

    async def _stream(self, response: web.StreamResponse, start: int, stop: int) -> None:
        self.stats._stream_started(self.path)
        try:
            await response.prepare(self.request)
            if not await self._pump(response, start, stop):
                # The file shrank under us: closing is the only honest end of the body.
                response.force_close()
        finally:
            self.stats._stream_finished(self.path)

    async def _pump(self, response: web.StreamResponse, start: int, stop: int) -> bool:
        """Send bytes ``start`` to ``stop`` of the file; False if the file ended early."""
        piece = _piece_size(self.config)
        bucket = _bucket(self.config, piece)
        offset = start
        while offset < stop:
            data = os.pread(self.fd, min(piece, stop - offset), offset)
            if not data:
                return False
            if bucket is not None:
                wait = bucket.take(len(data))
                if wait > 0:
                    await asyncio.sleep(wait)
            await response.write(data)
            self.stats._record_bytes(len(data))
            offset += len(data)
        return True


def _piece_size(config: ServerConfig) -> int:
    rate = config.rate_per_connection
    if rate is None:
        return config.chunk_size
    return min(config.chunk_size, max(MIN_THROTTLED_PIECE, rate // PACING_SLICES_PER_SECOND))


def _bucket(config: ServerConfig, piece: int) -> TokenBucket | None:
    rate = config.rate_per_connection
    if rate is None:
        return None
    # A burst of one piece lets the first piece leave at once; after that, each waits.
    return TokenBucket(rate, piece, asyncio.get_running_loop().time)


# On its own thread ---------------------------------------------------------------------------


class ServerThread:
    """A ``LoopbackServer`` on its own event loop in a daemon thread, for synchronous code."""

    def __init__(
        self,
        root: Path,
        config: ServerConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._server = LoopbackServer(root, config)
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: OSError | None = None

    @property
    def stats(self) -> ServerStats:
        return self._server.stats

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def config(self) -> ServerConfig:
        return self._server.config

    def url_for(self, relpath: str) -> str:
        return self._server.url_for(relpath)

    def set_config(self, config: ServerConfig) -> None:
        """Applies to requests that arrive from now on (one reference swap, thread-safe)."""
        self._server.set_config(config)

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start serving; return the base URL once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("a ServerThread can be started only once")
        self._thread = threading.Thread(target=self._run, name="loopback-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the loopback server did not start within {timeout} s")
        if self._failure is not None:
            raise self._failure
        if not self._server.listening:
            raise RuntimeError("the loopback server thread failed; see its traceback")
        return self.url

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        """Stop serving and wait for the thread to end. Safe to call more than once."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the loopback server did not stop within {timeout} s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        try:
            await self._server.start(self._host, self._port)
        except OSError as error:  # e.g. the port is taken: start() re-raises it
            self._failure = error
            return
        finally:
            self._ready.set()
        try:
            await stopping.wait()
        finally:
            await self._server.stop()


# As a process --------------------------------------------------------------------------------


def _rate_argument(text: str) -> int:
    try:
        return parse_rate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evio_fetch.engine.loopback.server",
        description="Serve a directory over HTTP on loopback like a static file server.",
    )
    parser.add_argument("--root", required=True, type=Path, help="directory to serve")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument(
        "--rate", type=_rate_argument, default=None, help="bytes/s cap per response, e.g. 20M"
    )
    parser.add_argument("--ignore-ranges", action="store_true", help="answer every GET 200")
    parser.add_argument("--no-content-length", action="store_true", help="send whole files chunked")
    parser.add_argument(
        "--content-disposition", action="store_true", help="name files in Content-Disposition"
    )
    return parser


async def _serve_until_signalled(root: Path, config: ServerConfig, host: str, port: int) -> None:
    server = LoopbackServer(root, config)
    url = await server.start(host, port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Installed before READY is printed, so a signal sent right after it is caught.
        loop.add_signal_handler(signum, stopping.set)
    sys.stdout.write(f"READY {url}\n")
    sys.stdout.flush()
    try:
        await stopping.wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"--root {str(args.root)!r} is not a directory")
    config = ServerConfig(
        rate_per_connection=args.rate,
        ignore_ranges=args.ignore_ranges,
        omit_content_length=args.no_content_length,
        content_disposition=args.content_disposition,
    )
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_serve_until_signalled(args.root, config, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
