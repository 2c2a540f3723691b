"""A loopback Google Drive, written from drive/NOTES.md, for tests and benchmarks.

It answers the anonymous web download flow of 2024 onwards for the files and folders
registered with it, under ``base_url`` (what ``EVIO_FETCH_DRIVE_URL`` is set to)::

    GET {base}/uc?export=download&id=ID[&resourcekey=K]
        303 -> {base}/usercontent/download?id=ID&export=download[&resourcekey=K]
    GET {base}/usercontent/download?id=ID&export=download
        small file:   200, the bytes, Content-Disposition (Range honoured: 206 + Content-Range)
        large file:   200 HTML "Virus scan warning" with the GET form (a fresh uuid per page)
        quota:        200 HTML "Google Drive - Quota exceeded"
        private, or resource key missing: 302 -> {base}/accounts/ServiceLogin?... (a sign-in page)
        unknown ID:   404
    GET {base}/usercontent/download?id=ID&export=download&confirm=t&uuid=U
        U issued for ID: the bytes (Range honoured); U expired: 403; U unknown: the warning again
    GET {base}/embeddedfolderview?id=FOLDER
        the folder's listing in Drive's markup (links point at drive.google.com, as Drive's do)

Switches imitate what goes wrong with Drive: a per-connection rate cap, full responses
without Content-Length, the browser-only hidden inputs (``authuser``, ``at``), injected
error statuses (``fail_next``), and confirmed URLs that stop working while bodies are being
sent (``expire_confirmed``, ``expire_after``), as Drive drops transfers after about an hour.
Counters (``DriveStats``) record what clients did, by kind of answer and by file ID.

Run it on the caller's event loop (``DriveEmulator``), on its own thread for synchronous code
(``DriveEmulatorThread``), or as a process serving a manifest's files::

    python -m evio_fetch.engine.loopback.drive_emulator --manifest M --root DIR
        [--port 0] [--prefix /drive] [--rate 20M] [--large-above BYTES]

which prints ``READY BASE_URL`` once listening and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import mimetypes
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self
from urllib.parse import quote, urlencode

import msgspec
from aiohttp import hdrs, web

from evio_fetch.engine.loopback.server import RangeAnswer, new_event_loop, parse_range
from evio_fetch.engine.ratelimit import TokenBucket, parse_rate

KIB = 1024
DEFAULT_CHUNK = 256 * KIB
MIN_THROTTLED_PIECE = 16 * KIB
PACING_SLICES_PER_SECOND = 16
SHUTDOWN_TIMEOUT = 0.5
START_TIMEOUT = 10.0
RESOURCE_KEYS_HEADER: Final = "X-Goog-Drive-Resource-Keys"
_MIME_TYPES = mimetypes.MimeTypes()  # built-in table only: the same answer on every machine
_FOLDER_MIME = "application/vnd.google-apps.folder"
_DOCUMENT_MIMES: Final = {
    "document": "application/vnd.google-apps.document",
    "spreadsheets": "application/vnd.google-apps.spreadsheet",
    "presentation": "application/vnd.google-apps.presentation",
}

FailurePoint = Literal["any", "uc", "download", "bytes", "folder"]
"""Where ``fail_next`` strikes: every request, the /uc hop, the usercontent endpoint (pages
and bytes), only answers that would have carried bytes, or folder listings."""

Kind = Literal[
    "uc",  # the /uc hop: 303 to usercontent
    "confirm_page",  # the virus-scan warning page
    "bytes",  # 200 with the whole file
    "ranged_bytes",  # 206 with one range
    "unsatisfiable",  # 416
    "quota",  # the quota page
    "signin_redirect",  # 302 to ServiceLogin
    "signin_page",  # the ServiceLogin page itself
    "expired",  # 403 for a confirmed URL issued before expire_confirmed()
    "injected",  # an error status from fail_next()
    "not_found",  # 404 for an unknown ID or path
    "folder",  # an embedded folder view
    "refused",  # 405 for a method other than GET
]


# What is served -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriveFile:
    file_id: str
    name: str
    size: int
    data: bytes | None
    path: Path | None
    last_modified: str
    content_type: str
    large: bool
    quota: bool
    private: bool
    resource_key: str | None

    @contextlib.contextmanager
    def reader(self) -> Iterator[_Reader]:
        if self.data is not None:
            yield _Reader(self.data, None)
            return
        assert self.path is not None
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            yield _Reader(None, fd)
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class DriveFolder:
    folder_id: str
    name: str
    children: tuple[str, ...]
    private: bool


@dataclass(frozen=True, slots=True)
class DriveDocument:
    doc_id: str
    name: str
    native: str


@dataclass(frozen=True, slots=True)
class _Reader:
    data: bytes | None
    fd: int | None

    def read(self, offset: int, size: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + size]
        assert self.fd is not None
        return os.pread(self.fd, size, offset)


@dataclass(frozen=True, slots=True)
class _Issued:
    """A confirmed URL handed out on a warning page."""

    file_id: str
    epoch: int
    at: str | None


@dataclass(slots=True)
class _Failure:
    remaining: int
    status: int
    retry_after: int | None


# Counters -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriveStatsSnapshot:
    requests: Mapping[str, int]
    """Requests by kind of answer (see ``Kind``); each request counts once."""
    requests_by_id: Mapping[str, Mapping[str, int]]
    """The same, per file or folder ID."""
    connections: int
    bytes_sent: int
    max_streams: int
    max_streams_by_id: Mapping[str, int]
    """The most byte responses of one file that were being sent at once."""

    def count(self, kind: Kind, file_id: str | None = None) -> int:
        source = self.requests if file_id is None else self.requests_by_id.get(file_id, {})
        return source.get(kind, 0)


class DriveStats:
    """What clients did; written on the emulator's loop, readable from any thread."""

    _PRUNE_AT = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, int] = {}
        self._clear()

    def _clear(self) -> None:
        self._requests: dict[str, int] = {}
        self._by_id: dict[str, dict[str, int]] = {}
        self._connections = 0
        self._transports: dict[int, asyncio.BaseTransport] = {}
        self._bytes_sent = 0
        # Streams still running at a reset count towards the new maxima.
        self._max_streams = sum(self._streams.values())
        self._max_by_id = {key: n for key, n in self._streams.items() if n}

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def snapshot(self) -> DriveStatsSnapshot:
        with self._lock:
            return DriveStatsSnapshot(
                requests=dict(self._requests),
                requests_by_id={key: dict(kinds) for key, kinds in self._by_id.items()},
                connections=self._connections,
                bytes_sent=self._bytes_sent,
                max_streams=self._max_streams,
                max_streams_by_id=dict(self._max_by_id),
            )

    def count(self, kind: Kind, file_id: str | None = None) -> int:
        return self.snapshot().count(kind, file_id)

    @property
    def streaming(self) -> int:
        """Byte responses being sent right now."""
        with self._lock:
            return sum(self._streams.values())

    def _record(self, kind: Kind, file_id: str | None) -> None:
        with self._lock:
            self._requests[kind] = self._requests.get(kind, 0) + 1
            if file_id is not None:
                kinds = self._by_id.setdefault(file_id, {})
                kinds[kind] = kinds.get(kind, 0) + 1

    def _connection(self, transport: asyncio.BaseTransport | None) -> None:
        if transport is None:
            return
        with self._lock:
            if id(transport) in self._transports:
                return
            self._connections += 1
            if len(self._transports) >= self._PRUNE_AT:
                self._transports = {
                    key: t for key, t in self._transports.items() if not t.is_closing()
                }
            self._transports[id(transport)] = transport

    def _sent(self, n: int) -> None:
        with self._lock:
            self._bytes_sent += n

    def _stream_started(self, file_id: str) -> None:
        with self._lock:
            now = self._streams.get(file_id, 0) + 1
            self._streams[file_id] = now
            self._max_by_id[file_id] = max(self._max_by_id.get(file_id, 0), now)
            self._max_streams = max(self._max_streams, sum(self._streams.values()))

    def _stream_finished(self, file_id: str) -> None:
        with self._lock:
            self._streams[file_id] -= 1


# The emulator ---------------------------------------------------------------------------------


class DriveEmulator:
    """A Drive on the running event loop. Registration and switches may be used from any
    thread; they apply to requests that arrive afterwards."""

    def __init__(
        self,
        *,
        prefix: str = "",
        rate_per_connection: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"prefix must be empty or like '/drive', not {prefix!r}")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        self.prefix = prefix
        self.rate_per_connection = rate_per_connection
        """Bytes per second on each connection, across the requests it carries."""
        self.chunk_size = chunk_size
        self.omit_content_length = False
        """Send whole-file answers chunked, as Drive did in 2019-2020 (NOTES §5)."""
        self.browser_inputs = False
        """Put ``authuser`` and ``at`` in the form, and require ``at`` back (NOTES §3.2)."""
        self.stats = DriveStats()
        self._lock = threading.Lock()
        self._files: dict[str, DriveFile] = {}
        self._folders: dict[str, DriveFolder] = {}
        self._documents: dict[str, DriveDocument] = {}
        self._issued: dict[str, _Issued] = {}
        self._epoch = 0
        self._expire_budget: int | None = None
        self._failures: dict[FailurePoint, _Failure] = {}
        self._buckets: dict[int, tuple[asyncio.BaseTransport, int, TokenBucket]] = {}
        self._runner: web.ServerRunner | None = None
        self._base_url: str | None = None
        self._handlers: set[asyncio.Task[object]] = set()

    # Registration ------------------------------------------------------------------------

    def add(
        self,
        file_id: str,
        data: Path | bytes,
        name: str,
        *,
        large: bool = False,
        quota: bool = False,
        private: bool = False,
        resource_key: str | None = None,
    ) -> DriveFile:
        """Serve ``data`` (bytes, or a file read at each request) as ``file_id``. ``large``
        puts the virus-scan warning in front of it; ``quota`` answers the quota page;
        ``private`` sends everyone to sign-in; ``resource_key`` must then be presented.
        Adding an ID again replaces it."""
        if isinstance(data, bytes):
            size, path, stamp = len(data), None, time.time()
        else:
            info = os.stat(data)
            size, path, stamp = info.st_size, Path(data), info.st_mtime
        entry = DriveFile(
            file_id=file_id,
            name=name,
            size=size,
            data=data if isinstance(data, bytes) else None,
            path=path,
            last_modified=formatdate(stamp, usegmt=True),
            content_type=_MIME_TYPES.guess_type(name)[0] or "application/octet-stream",
            large=large,
            quota=quota,
            private=private,
            resource_key=resource_key,
        )
        with self._lock:
            self._files[file_id] = entry
        return entry

    def add_folder(
        self, folder_id: str, name: str, children: Sequence[str], *, private: bool = False
    ) -> None:
        """A folder listing the IDs in ``children`` (files, folders or documents, in that
        order; IDs not registered when the listing is asked for are left out)."""
        with self._lock:
            self._folders[folder_id] = DriveFolder(folder_id, name, tuple(children), private)

    def add_document(self, doc_id: str, name: str, native: str = "document") -> None:
        """A Google-native document (``document``, ``spreadsheets``, ``presentation``): it
        appears in folder listings, and /uc has no bytes for it."""
        with self._lock:
            self._documents[doc_id] = DriveDocument(doc_id, name, native)

    # Switches ----------------------------------------------------------------------------

    def expire_confirmed(self) -> None:
        """Every confirmed URL issued so far answers 403 from now on, and every byte
        response being sent is cut off, as when Drive drops a long transfer."""
        with self._lock:
            self._epoch += 1
            self._expire_budget = None

    def expire_after(self, n_bytes: int) -> None:
        """``expire_confirmed()`` once ``n_bytes`` more body bytes have been sent: an
        expiry in the middle of a download without racing the client."""
        with self._lock:
            self._expire_budget = n_bytes

    def fail_next(
        self,
        n: int,
        status: int = 503,
        *,
        at: FailurePoint = "any",
        retry_after: int | None = None,
    ) -> None:
        """The next ``n`` requests reaching ``at`` answer ``status`` (an HTML error page,
        with ``Retry-After`` if given)."""
        with self._lock:
            self._failures[at] = _Failure(n, status, retry_after)

    # Life cycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What ``EVIO_FETCH_DRIVE_URL`` is set to: ``http://127.0.0.1:PORT[prefix]``."""
        if self._base_url is None:
            raise RuntimeError("the Drive emulator is not listening; call start() first")
        return self._base_url

    @property
    def listening(self) -> bool:
        return self._base_url is not None

    def uc_url(self, file_id: str, resource_key: str | None = None) -> str:
        query = {"export": "download", "id": file_id}
        if resource_key is not None:
            query["resourcekey"] = resource_key
        return f"{self.base_url}/uc?{urlencode(query)}"

    def folder_url(self, folder_id: str) -> str:
        return f"{self.base_url}/embeddedfolderview?{urlencode({'id': folder_id})}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the Drive emulator is already started")
        runner = web.ServerRunner(
            web.Server(self._handle, access_log=None), shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base_url = f"http://{shown}:{bound_port}{self.prefix}"
        return self._base_url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self._base_url = None
        if runner is None:
            return
        # Throttled bodies would outlive aiohttp's grace period; a stopped server vanishes.
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

    # Requests ----------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            return await self._route(request)
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def _route(self, request: web.BaseRequest) -> web.StreamResponse:
        self.stats._connection(request.transport)
        path = request.path
        if not path.startswith(self.prefix + "/"):
            return self._error(404, "not_found", None)
        route = path[len(self.prefix) :]
        if request.method != hdrs.METH_GET:
            response = self._error(405, "refused", None)
            response.headers[hdrs.ALLOW] = "GET"
            return response
        injected = self._injected("any", None)
        if injected is not None:
            return injected
        if route == "/uc":
            return self._uc(request)
        if route == "/usercontent/download":
            return await self._download(request)
        if route == "/accounts/ServiceLogin":
            self.stats._record("signin_page", None)
            return _page(200, _SIGN_IN_PAGE)
        if route == "/embeddedfolderview":
            return self._folder_view(request)
        return self._error(404, "not_found", None)

    def _uc(self, request: web.BaseRequest) -> web.StreamResponse:
        file_id = request.query.get("id", "")
        injected = self._injected("uc", file_id)
        if injected is not None:
            return injected
        if self._file(file_id) is None:
            return self._error(404, "not_found", file_id)
        self.stats._record("uc", file_id)
        query = {"id": file_id, "export": "download"}
        key = request.query.get("resourcekey")
        if key is not None:
            query["resourcekey"] = key
        location = f"{self.base_url}/usercontent/download?{urlencode(query)}"
        # Drive's hop is a 303 whose own Content-Type is not HTML (NOTES §3.1).
        return web.Response(
            status=303,
            headers={hdrs.LOCATION: location, hdrs.CONTENT_TYPE: "application/binary"},
        )

    async def _download(self, request: web.BaseRequest) -> web.StreamResponse:
        file_id = request.query.get("id", "")
        injected = self._injected("download", file_id)
        if injected is not None:
            return injected
        entry = self._file(file_id)
        if entry is None:
            return self._error(404, "not_found", file_id)
        confirmed = self._confirmed(request, entry)
        if confirmed == "expired":
            return self._error(403, "expired", file_id)
        if confirmed == "valid":
            # The quota page can come after the form too (NOTES §4.1).
            if entry.quota:
                return self._quota(file_id)
            return await self._send_bytes(request, entry)
        return await self._unconfirmed(request, entry)

    async def _unconfirmed(self, request: web.BaseRequest, entry: DriveFile) -> web.StreamResponse:
        if not self._may_access(request, entry):
            return self._sign_in_redirect(request, entry.file_id)
        if entry.quota:
            return self._quota(entry.file_id)
        if entry.large:
            return self._warning_page(entry)
        return await self._send_bytes(request, entry)

    def _confirmed(
        self, request: web.BaseRequest, entry: DriveFile
    ) -> Literal["valid", "expired", "none"]:
        """``valid``, ``expired``, or ``none`` (no uuid, or one this Drive never issued)."""
        token = request.query.get("uuid")
        if token is None or request.query.get("confirm") is None:
            return "none"
        with self._lock:
            issued = self._issued.get(token)
            epoch = self._epoch
        if issued is None or issued.file_id != entry.file_id:
            return "none"
        if issued.epoch != epoch:
            return "expired"
        if issued.at is not None and request.query.get("at") != issued.at:
            return "none"  # a client that dropped a hidden input gets the warning again
        return "valid"

    def _may_access(self, request: web.BaseRequest, entry: DriveFile) -> bool:
        if entry.private:
            return False
        if entry.resource_key is None:
            return True
        return entry.resource_key in _presented_keys(request, entry.file_id)

    def _file(self, file_id: str) -> DriveFile | None:
        with self._lock:
            return self._files.get(file_id)

    # Pages -------------------------------------------------------------------------------

    def _warning_page(self, entry: DriveFile) -> web.Response:
        token = str(uuid.uuid4())
        at = _at_token() if self.browser_inputs else None
        with self._lock:
            self._issued[token] = _Issued(entry.file_id, self._epoch, at)
        fields = [("id", entry.file_id), ("export", "download")]
        if self.browser_inputs:
            fields.append(("authuser", "0"))
        fields += [("confirm", "t"), ("uuid", token)]
        if at is not None:
            fields.append(("at", at))
        self.stats._record("confirm_page", entry.file_id)
        return _page(200, _warning_html(entry, f"{self.base_url}/usercontent/download", fields))

    def _quota(self, file_id: str) -> web.Response:
        self.stats._record("quota", file_id)
        return _page(200, _QUOTA_PAGE)

    def _sign_in_redirect(self, request: web.BaseRequest, file_id: str) -> web.Response:
        here = str(request.url)
        query = urlencode(
            {
                "service": "wise",
                "passive": "1209600",
                "osid": "1",
                "continue": here,
                "followup": here,
            }
        )
        self.stats._record("signin_redirect", file_id)
        return web.Response(
            status=302,
            headers={
                hdrs.LOCATION: f"{self.base_url}/accounts/ServiceLogin?{query}",
                hdrs.CONTENT_TYPE: "text/html; charset=UTF-8",
            },
        )

    def _folder_view(self, request: web.BaseRequest) -> web.StreamResponse:
        folder_id = request.query.get("id", "")
        injected = self._injected("folder", folder_id)
        if injected is not None:
            return injected
        with self._lock:
            folder = self._folders.get(folder_id)
            rows = [] if folder is None else [self._folder_row(c) for c in folder.children]
        if folder is None:
            return self._error(404, "not_found", folder_id)
        if folder.private:
            return self._sign_in_redirect(request, folder_id)
        self.stats._record("folder", folder_id)
        return _page(200, _folder_html(folder.name, [row for row in rows if row]))

    def _folder_row(self, child: str) -> str:
        # Called with the lock held.
        if child in self._folders:
            return _folder_entry_html(child, self._folders[child].name)
        if child in self._documents:
            document = self._documents[child]
            return _document_entry_html(document)
        if child in self._files:
            return _file_entry_html(self._files[child])
        return ""

    def _error(self, status: int, kind: Kind, file_id: str | None) -> web.Response:
        self.stats._record(kind, file_id)
        return _page(status, _error_html(status))

    def _injected(self, point: FailurePoint, file_id: str | None) -> web.Response | None:
        with self._lock:
            failure = self._failures.get(point)
            if failure is None or failure.remaining <= 0:
                return None
            failure.remaining -= 1
        response = self._error(failure.status, "injected", file_id)
        if failure.retry_after is not None:
            response.headers[hdrs.RETRY_AFTER] = str(failure.retry_after)
        return response

    # Bytes -------------------------------------------------------------------------------

    async def _send_bytes(self, request: web.BaseRequest, entry: DriveFile) -> web.StreamResponse:
        injected = self._injected("bytes", entry.file_id)
        if injected is not None:
            return injected
        span = _requested_span(request, entry)
        if span == "unsatisfiable":
            refusal = self._error(416, "unsatisfiable", entry.file_id)
            refusal.headers[hdrs.CONTENT_RANGE] = f"bytes */{entry.size}"
            return refusal
        response = web.StreamResponse(status=200, headers=_byte_headers(entry))
        if span == "whole":
            start, stop = 0, entry.size
            self.stats._record("bytes", entry.file_id)
            if self.omit_content_length:
                response.enable_chunked_encoding()
            else:
                response.content_length = entry.size
        else:
            start, stop = span[0], span[1] + 1
            self.stats._record("ranged_bytes", entry.file_id)
            response.set_status(206)
            response.headers[hdrs.CONTENT_RANGE] = f"bytes {span[0]}-{span[1]}/{entry.size}"
            response.content_length = stop - start
        with contextlib.suppress(ConnectionError):  # the client went away
            await self._stream(request, response, entry, start, stop)
        return response

    async def _stream(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        entry: DriveFile,
        start: int,
        stop: int,
    ) -> None:
        with self._lock:
            epoch = self._epoch
        self.stats._stream_started(entry.file_id)
        try:
            await response.prepare(request)
            with entry.reader() as reader:
                complete = await self._pump(
                    request, response, reader, epoch=epoch, start=start, stop=stop
                )
            if not complete:
                _cut(request, response)
        finally:
            self.stats._stream_finished(entry.file_id)

    async def _pump(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        reader: _Reader,
        *,
        epoch: int,
        start: int,
        stop: int,
    ) -> bool:
        """Send bytes ``start`` to ``stop``; False if the body must be cut off."""
        piece = self._piece_size()
        offset = start
        while offset < stop:
            if self._expired_since(epoch):
                return False
            data = reader.read(offset, min(piece, stop - offset))
            if not data:
                return False  # the file shrank: closing is the only honest end
            wait = self._take_tokens(request.transport, len(data), piece)
            if wait > 0:
                await asyncio.sleep(wait)  # pacing, the point of the rate cap
            await response.write(data)
            self.stats._sent(len(data))
            self._spend_expire_budget(len(data))
            offset += len(data)
        return True

    def _expired_since(self, epoch: int) -> bool:
        with self._lock:
            return self._epoch != epoch

    def _spend_expire_budget(self, n: int) -> None:
        with self._lock:
            if self._expire_budget is None:
                return
            self._expire_budget -= n
            if self._expire_budget <= 0:
                self._epoch += 1
                self._expire_budget = None

    def _piece_size(self) -> int:
        rate = self.rate_per_connection
        if rate is None:
            return self.chunk_size
        return min(self.chunk_size, max(MIN_THROTTLED_PIECE, rate // PACING_SLICES_PER_SECOND))

    def _take_tokens(self, transport: asyncio.BaseTransport | None, n: int, piece: int) -> float:
        """Seconds to wait before sending ``n`` bytes on this connection."""
        rate = self.rate_per_connection
        if rate is None or transport is None:
            return 0.0
        known = self._buckets.get(id(transport))
        if known is None or known[0] is not transport or known[1] != rate:
            self._prune_buckets()
            # A burst of one piece lets the first piece go at once; the rest is paced.
            bucket = TokenBucket(rate, piece, asyncio.get_running_loop().time)
            known = (transport, rate, bucket)
            self._buckets[id(transport)] = known
        return known[2].take(n)

    def _prune_buckets(self) -> None:
        if len(self._buckets) >= DriveStats._PRUNE_AT:
            self._buckets = {
                key: known for key, known in self._buckets.items() if not known[0].is_closing()
            }


def _at_token() -> str:
    # Like Drive's: an opaque token, a colon and a millisecond timestamp (NOTES §3.2).
    return f"AEz{uuid.uuid4().hex[:20]}:{int(time.time() * 1000)}"


def _requested_span(request: web.BaseRequest, entry: DriveFile) -> RangeAnswer:
    header = request.headers.get(hdrs.RANGE)
    if header is None:
        return "whole"
    # Drive sends no ETag: only its Last-Modified can be a matching If-Range validator.
    if_range = request.headers.get(hdrs.IF_RANGE)
    if if_range is not None and if_range.strip() != entry.last_modified:
        return "whole"
    return parse_range(header, entry.size)


def _cut(request: web.BaseRequest, response: web.StreamResponse) -> None:
    # The body stops short and the connection ends: what a dropped Drive transfer looks like.
    response.force_close()
    if request.transport is not None:
        request.transport.close()


def _presented_keys(request: web.BaseRequest, file_id: str) -> set[str]:
    """Resource keys the request carries for ``file_id``: the query's, and the header's
    ``ID/KEY`` pairs (NOTES §2)."""
    keys = set(request.query.getall("resourcekey", []))
    for pair in request.headers.get(RESOURCE_KEYS_HEADER, "").split(","):
        pair_id, _, key = pair.strip().partition("/")
        if pair_id == file_id and key:
            keys.add(key)
    return keys


def _byte_headers(entry: DriveFile) -> dict[str, str]:
    # What file_download.response_headers.txt shows; no ETag and no Accept-Ranges.
    return {
        hdrs.CONTENT_TYPE: entry.content_type,
        hdrs.CONTENT_DISPOSITION: content_disposition(entry.name),
        hdrs.LAST_MODIFIED: entry.last_modified,
        hdrs.CACHE_CONTROL: "no-cache, no-store, max-age=0, must-revalidate",
        "Access-Control-Allow-Origin": "*",
        "X-GUploader-UploadID": f"ADPyc{entry.file_id[:12]}",
        hdrs.SERVER: "UploadServer",
    }


def content_disposition(name: str) -> str:
    """Drive's shape: no spaces, an ASCII ``filename`` and the exact ``filename*``."""
    ascii_name = "".join(c if " " <= c < "\x7f" else "_" for c in name)
    ascii_name = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    return f"attachment;filename=\"{ascii_name}\";filename*=UTF-8''{quote(name, safe='')}"


def short_size(size: int) -> str:
    """Drive's size in the warning caption: ``4.9K``, ``37M``, ``126M``, ``1.3G``."""
    value = float(size)
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if not unit:
                return str(size)
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return str(size)  # never: the loop returns at "T"


# Markup -------------------------------------------------------------------------------------

_STYLE = (
    '<meta http-equiv="content-type" content="text/html; charset=utf-8"/>'
    '<style nonce="loopback">body{color:#222;font:normal 13px/1.4 arial,sans-serif;margin:0}'
    ".uc-main{padding-top:50px;text-align:center}</style>"
    '<link rel="icon" href="//ssl.gstatic.com/docs/doclist/images/drive_2022q3_32dp.png"/>'
)

_QUOTA_PAGE = (
    "<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title>"
    f'{_STYLE}</head><body><div class="uc-main"><div id="uc-text">'
    '<p class="uc-error-caption">Sorry, you can&#39;t view or download this file at this '
    'time.</p><p class="uc-error-subcaption">Too many users have viewed or downloaded this '
    "file recently. Please try accessing the file again later. If the file you are trying to "
    "access is particularly large or is shared with many people, it may take up to 24 hours "
    "to be able to view or download the file. If you still can&#39;t access a file after 24 "
    'hours, contact your domain administrator.</p></div></div><div class="uc-footer">'
    '<hr class="uc-footer-divider"></div></body></html>'
)

_SIGN_IN_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Sign in - Google Accounts</title>'
    '<meta charset="utf-8"></head><body><div id="initialView"><h1>Sign in</h1>'
    '<div>to continue to Google Drive</div><form id="gaia_loginform" method="post" '
    'action="/v3/signin/_/AccountsSignInUi/data"><input type="email" name="identifier" '
    'autocomplete="username"><input type="hidden" name="service" value="wise">'
    "<button>Next</button></form></div></body></html>"
)


def _page(status: int, body: str) -> web.Response:
    return web.Response(
        status=status, body=body.encode("utf-8"), content_type="text/html", charset="utf-8"
    )


def _error_html(status: int) -> str:
    reasons = {403: "Forbidden", 404: "Not Found", 416: "Requested Range Not Satisfiable"}
    reason = reasons.get(status, "Error")
    return (
        f"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error {status} ({reason})!!1"
        f"</title><p><b>{status}.</b> <ins>That's an error.</ins></p></html>"
    )


def _warning_html(entry: DriveFile, action: str, fields: list[tuple[str, str]]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields
    )
    name = html.escape(entry.name)
    file_id = html.escape(entry.file_id)
    return (
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>"
        f'{_STYLE}</head><body><div class="uc-main"><div id="uc-dl-icon" '
        'class="image-container"><div class="drive-sprite-aux-download-file"></div></div>'
        '<div id="uc-text"><p class="uc-warning-caption">Google Drive can&#39;t scan this file '
        'for viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size">'
        f'<a href="/open?id={file_id}">{name}</a> ({short_size(entry.size)})</span> is too '
        "large for Google to scan for viruses. Would you still like to download this file?</p>"
        f'<form id="download-form" action="{html.escape(action)}" method="get">'
        '<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button '
        f'jfk-button-action" value="Download anyway"/>{inputs}</form></div></div>'
        '<div class="uc-footer"><hr class="uc-footer-divider"></div></body></html>'
    )


def _folder_html(name: str, rows: list[str]) -> str:
    return (
        '<!DOCTYPE html><html><head><meta http-equiv="X-UA-Compatible" content="IE=edge">'
        f'<title>{html.escape(name)}</title></head><body class="flip-embedded">'
        '<div id="flip-contents" class="flip-contents flip-list-view"><div class="flip-entries">'
        f"{''.join(rows)}</div></div></body></html>"
    )


def _entry_html(entry_id: str, href: str, icon: str, name: str) -> str:
    return (
        f'<div class="flip-entry" id="entry-{html.escape(entry_id)}" tabindex="0" role="link">'
        f'<div class="flip-entry-info"><a href="{html.escape(href)}" target="_blank">'
        f'<div class="flip-entry-visual"></div>{icon}'
        f'<div class="flip-entry-title">{html.escape(name)}</div></a></div>'
        '<div class="flip-entry-last-modified"><div>Jan 5</div></div></div>'
    )


def _folder_entry_html(folder_id: str, name: str) -> str:
    icon = (
        '<div class="flip-entry-list-icon"><div aria-label="Folder" '
        'class="icon-color-1 drive-sprite-folder-list-shared-icon"></div></div>'
    )
    href = f"https://drive.google.com/drive/folders/{quote(folder_id, safe='')}"
    return _entry_html(folder_id, href, icon, name)


def _file_entry_html(entry: DriveFile) -> str:
    href = f"https://drive.google.com/file/d/{quote(entry.file_id, safe='')}/view?usp=drive_web"
    if entry.resource_key is not None:
        href += "&" + urlencode({"resourcekey": entry.resource_key})
    return _entry_html(entry.file_id, href, _icon_html(entry.content_type), entry.name)


def _document_entry_html(document: DriveDocument) -> str:
    doc_id = quote(document.doc_id, safe="")
    href = f"https://docs.google.com/{document.native}/d/{doc_id}/edit?usp=drive_web"
    mime = _DOCUMENT_MIMES.get(document.native, "application/vnd.google-apps.unknown")
    return _entry_html(document.doc_id, href, _icon_html(mime), document.name)


def _icon_html(mime: str) -> str:
    src = f"https://drive-thirdparty.googleusercontent.com/16/type/{mime}"
    return f'<div class="flip-entry-list-icon"><img src="{html.escape(src)}" alt=""/></div>'


# On its own thread ----------------------------------------------------------------------------


class DriveEmulatorThread:
    """A ``DriveEmulator`` on its own event loop in a daemon thread, for synchronous code."""

    def __init__(
        self,
        *,
        prefix: str = "",
        rate_per_connection: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.emulator = DriveEmulator(
            prefix=prefix, rate_per_connection=rate_per_connection, chunk_size=chunk_size
        )
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: OSError | None = None

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    @property
    def stats(self) -> DriveStats:
        return self.emulator.stats

    def add(
        self,
        file_id: str,
        data: Path | bytes,
        name: str,
        *,
        large: bool = False,
        quota: bool = False,
        private: bool = False,
        resource_key: str | None = None,
    ) -> DriveFile:
        return self.emulator.add(
            file_id,
            data,
            name,
            large=large,
            quota=quota,
            private=private,
            resource_key=resource_key,
        )

    def add_folder(
        self, folder_id: str, name: str, children: Sequence[str], *, private: bool = False
    ) -> None:
        self.emulator.add_folder(folder_id, name, children, private=private)

    def add_document(self, doc_id: str, name: str, native: str = "document") -> None:
        self.emulator.add_document(doc_id, name, native)

    def expire_confirmed(self) -> None:
        self.emulator.expire_confirmed()

    def expire_after(self, n_bytes: int) -> None:
        self.emulator.expire_after(n_bytes)

    def fail_next(
        self,
        n: int,
        status: int = 503,
        *,
        at: FailurePoint = "any",
        retry_after: int | None = None,
    ) -> None:
        self.emulator.fail_next(n, status, at=at, retry_after=retry_after)

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start serving; return the base URL once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("a DriveEmulatorThread can be started only once")
        self._thread = threading.Thread(target=self._run, name="drive-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the Drive emulator did not start within {timeout} s")
        if self._failure is not None:
            raise self._failure
        if not self.emulator.listening:
            raise RuntimeError("the Drive emulator thread failed; see its traceback")
        return self.base_url

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        """Stop serving and wait for the thread to end. Safe to call more than once."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the Drive emulator did not stop within {timeout} s")

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
            await self.emulator.start(self._host, self._port)
        except OSError as error:  # e.g. the port is taken: start() re-raises it
            self._failure = error
            return
        finally:
            self._ready.set()
        try:
            await stopping.wait()
        finally:
            await self.emulator.stop()


# As a process ---------------------------------------------------------------------------------


class _ManifestEntry(msgspec.Struct):
    id: str | None = None
    path: str | None = None
    name: str | None = None


class _ManifestFile(msgspec.Struct):
    datasets: list[_ManifestEntry] = msgspec.field(default_factory=list)


def serve_manifest(
    emulator: DriveEmulator, manifest: Path, root: Path, large_above: int
) -> list[str]:
    """Register each manifest entry with an ``id`` as the file at ``root/path``; entries
    larger than ``large_above`` bytes get the virus-scan warning. Returns the IDs."""
    document = msgspec.json.decode(manifest.read_bytes(), type=_ManifestFile)
    served: list[str] = []
    for entry in document.datasets:
        if not entry.id or not entry.path:
            continue
        data = root / entry.path
        name = entry.name or Path(entry.path).name
        emulator.add(entry.id, data, name, large=data.stat().st_size > large_above)
        served.append(entry.id)
    return served


def _rate_argument(text: str) -> int:
    try:
        return parse_rate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evio_fetch.engine.loopback.drive_emulator",
        description="Serve a manifest's Drive IDs from local files like Google Drive does.",
    )
    parser.add_argument("--manifest", required=True, type=Path, help="evio manifest (JSON)")
    parser.add_argument("--root", required=True, type=Path, help="where the entries' paths are")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument("--prefix", default="", help="path prefix of the base URL, e.g. /drive")
    parser.add_argument("--rate", type=_rate_argument, default=None, help="per connection, 20M")
    parser.add_argument(
        "--large-above",
        type=int,
        default=1024 * 1024,
        help="files above this many bytes get the virus-scan warning first",
    )
    return parser


async def _serve_until_signalled(args: argparse.Namespace) -> None:
    emulator = DriveEmulator(prefix=args.prefix, rate_per_connection=args.rate)
    serve_manifest(emulator, args.manifest, args.root, args.large_above)
    url = await emulator.start(args.host, args.port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    sys.stdout.write(f"READY {url}\n")
    sys.stdout.flush()
    try:
        await stopping.wait()
    finally:
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_serve_until_signalled(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
