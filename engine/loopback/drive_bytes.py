"""How the Drive emulator sends a file's bytes: Drive's headers, one range, a per-connection
rate cap, and bodies cut off when their confirmed URL expires."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal, Protocol
from urllib.parse import quote

from aiohttp import hdrs, web

from evio_fetch.engine.loopback.drive_state import DriveFile, DriveState, FileReader
from evio_fetch.engine.loopback.drive_stats import DriveStats
from evio_fetch.engine.loopback.http_common import (
    RangeAnswer,
    Span,
    content_range,
    requested_range,
)
from evio_fetch.engine.loopback.pacing import ConnectionPacer, piece_size


class ByteSettings(Protocol):
    """The emulator's switches, read as each body is sent."""

    rate_per_connection: int | None
    chunk_size: int
    omit_content_length: bool


def requested_span(request: web.BaseRequest, entry: DriveFile) -> RangeAnswer:
    # Drive sends no ETag: only its Last-Modified can be a matching If-Range validator.
    headers = request.headers
    return requested_range(
        headers.get(hdrs.RANGE), headers.get(hdrs.IF_RANGE), (entry.last_modified,), entry.size
    )


def content_disposition(name: str) -> str:
    """Drive's shape: no spaces, an ASCII ``filename`` and the exact ``filename*``."""
    ascii_name = "".join(c if " " <= c < "\x7f" else "_" for c in name)
    ascii_name = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
    return f"attachment;filename=\"{ascii_name}\";filename*=UTF-8''{quote(name, safe='')}"


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


def _cut(request: web.BaseRequest, response: web.StreamResponse) -> None:
    # The body stops short and the connection ends: what a dropped Drive transfer looks like.
    response.force_close()
    if request.transport is not None:
        request.transport.close()


class ByteSender:
    """Sends file bodies, counting them in ``stats``."""

    def __init__(self, settings: ByteSettings, state: DriveState, stats: DriveStats) -> None:
        self._settings = settings
        self._state = state
        self._stats = stats
        self._pacer = ConnectionPacer()

    async def send(
        self, request: web.BaseRequest, entry: DriveFile, span: Span | Literal["whole"]
    ) -> web.StreamResponse:
        """The whole file (200) or one satisfiable range of it (206). The caller counts the
        response as a stream of the file (``DriveStats._stream_started``) while it runs."""
        response = web.StreamResponse(status=200, headers=_byte_headers(entry))
        if span == "whole":
            start, stop = 0, entry.size
            self._stats._record("bytes", entry.file_id)
            if self._settings.omit_content_length:
                response.enable_chunked_encoding()
            else:
                response.content_length = entry.size
        else:
            start, stop = span[0], span[1] + 1
            self._stats._record("ranged_bytes", entry.file_id)
            response.set_status(206)
            response.headers[hdrs.CONTENT_RANGE] = content_range(span[0], span[1], entry.size)
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
        epoch = self._state.epoch
        await response.prepare(request)
        with entry.reader() as reader:
            complete = await self._pump(
                request, response, reader, epoch=epoch, start=start, stop=stop
            )
        if not complete:
            _cut(request, response)

    async def _pump(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        reader: FileReader,
        *,
        epoch: int,
        start: int,
        stop: int,
    ) -> bool:
        """Send bytes ``start`` to ``stop``; False if the body must be cut off."""
        piece = piece_size(self._settings.rate_per_connection, self._settings.chunk_size)
        offset = start
        while offset < stop:
            if self._state.expired_since(epoch):
                return False
            data = reader.read(offset, min(piece, stop - offset))
            if not data:
                return False  # the file shrank: closing is the only honest end
            rate = self._settings.rate_per_connection
            wait = self._pacer.wait(request.transport, rate, len(data), piece)
            if wait > 0:
                await asyncio.sleep(wait)  # pacing, the point of the rate cap
            await response.write(data)
            self._stats._sent(len(data))
            self._state.spend_expire_budget(len(data))
            offset += len(data)
        return True
