"""How the loopback server answers a request for a file under its root, as nginx would."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import socket
import stat
from dataclasses import dataclass
from urllib.parse import quote, unquote

from aiohttp import hdrs, web

from evio_fetch.engine.loopback.http_common import (
    RangeAnswer,
    content_range,
    http_date,
    nginx_error_page,
    requested_range,
    unsatisfied_range,
)
from evio_fetch.engine.loopback.pacing import DEFAULT_CHUNK, new_bucket, piece_size
from evio_fetch.engine.loopback.server_stats import ServerStats
from evio_fetch.engine.platform_io import PLATFORM
from evio_fetch.engine.ratelimit import TokenBucket

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
    send_buffer: int | None = None
    rate_total: int | None = None
    """Bytes per second for all bodies together, like a full link: more connections bring
    nothing; ``None`` means no such cap."""
    max_streams: int | None = None
    """A GET that would make more bodies stream at once is refused 503 (``Retry-After: 0``),
    as a busy server or a CDN limiting each client does; ``None`` refuses none."""
    """SO_SNDBUF of each connection; ``None`` leaves it to the kernel. A small one makes the
    bytes counted as sent track the bytes the client has read (for rate measurements)."""

    def __post_init__(self) -> None:
        for rate in (self.rate_per_connection, self.rate_total):
            if rate is not None and rate <= 0:
                raise ValueError(f"rates must be positive or None, not {self}")
        if self.chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {self.chunk_size}")


def relative_path(target: str) -> str:
    """The decoded path of a request target, without its leading slash or query."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        return unquote(path.removeprefix("/"), errors="strict")
    except UnicodeDecodeError:
        return path


def open_in_root(root: str, path: str, target: str) -> int | None:
    """A descriptor for the regular file ``path`` names inside ``root``, else None."""
    if not _is_plain_relative(path, target):
        return None
    real = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, real]) != root:
        return None  # a symlink that leads out of the root
    try:
        fd = os.open(real, os.O_RDONLY | PLATFORM.open_flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


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


def error_response(status: int) -> web.Response:
    return web.Response(status=status, text=nginx_error_page(status), content_type="text/html")


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
            last_modified=http_date(info.st_mtime),
        )


def _content_disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        # Like Google Drive: the exact name for clients that read RFC 6266's filename*.
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


class Exchange:
    """One GET or HEAD of an existing file, from choosing the answer to the last byte."""

    def __init__(
        self,
        stats: ServerStats,
        config: ServerConfig,
        request: web.BaseRequest,
        path: str,
        fd: int,
        *,
        link: TokenBucket | None = None,
    ) -> None:
        # Shared by every body the server sends (``rate_total``).
        self.link = link
        self.stats = stats
        self.config = config
        self.request = request
        self.path = path
        self.fd = fd
        self.meta = _Meta.of(os.fstat(fd))

    async def answer(self) -> web.StreamResponse:
        choice = self._choose()
        if choice == "unsatisfiable":
            refusal = error_response(416)
            refusal.headers[hdrs.CONTENT_RANGE] = unsatisfied_range(self.meta.size)
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
        response.headers[hdrs.CONTENT_RANGE] = content_range(start, end, self.meta.size)
        response.content_length = end + 1 - start
        self.stats._record_range(start)
        return await self._send(response, start, end + 1)

    def _choose(self) -> RangeAnswer:
        # Range is defined for GET only (RFC 9110 section 14.2); HEAD describes the whole file.
        if self.config.ignore_ranges or self.request.method != hdrs.METH_GET:
            return "whole"
        headers = self.request.headers
        validators = (self.meta.etag, self.meta.last_modified)
        return requested_range(
            headers.get(hdrs.RANGE), headers.get(hdrs.IF_RANGE), validators, self.meta.size
        )

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
            self._size_send_buffer()
            await response.prepare(self.request)
            if not await self._pump(response, start, stop):
                # The file shrank under us: closing is the only honest end of the body.
                response.force_close()
        finally:
            self.stats._stream_finished(self.path)

    def _size_send_buffer(self) -> None:
        transport = self.request.transport
        sock = None if transport is None else transport.get_extra_info("socket")
        if self.config.send_buffer is not None and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.config.send_buffer)

    async def _pump(self, response: web.StreamResponse, start: int, stop: int) -> bool:
        """Send bytes ``start`` to ``stop`` of the file; False if the file ended early."""
        rate = self.config.rate_per_connection
        slowest = min((r for r in (rate, self.config.rate_total) if r is not None), default=None)
        piece = piece_size(slowest, self.config.chunk_size)
        own = None if rate is None else new_bucket(rate, piece)
        buckets = [bucket for bucket in (self.link, own) if bucket is not None]
        offset = start
        while offset < stop:
            data = PLATFORM.read_at(self.fd, min(piece, stop - offset), offset)
            if not data:
                return False
            wait = max((bucket.take(len(data)) for bucket in buckets), default=0.0)
            if wait > 0:
                await asyncio.sleep(wait)
            await response.write(data)
            self.stats._record_bytes(len(data))
            offset += len(data)
        return True
