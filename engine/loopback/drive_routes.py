"""The Drive emulator's answers to requests, route by route (see drive_emulator's summary)."""

from __future__ import annotations

import time
import uuid
from typing import Final, Protocol
from urllib.parse import urlencode

from aiohttp import hdrs, web

from evio_fetch.engine.loopback.drive_bytes import ByteSender, ByteSettings, requested_span
from evio_fetch.engine.loopback.drive_html import (
    QUOTA_PAGE,
    SIGN_IN_PAGE,
    THROTTLED_PAGE,
    error_html,
    folder_html,
    listed_html,
    warning_html,
)
from evio_fetch.engine.loopback.drive_page_writer import PageSettings, is_page, send_page
from evio_fetch.engine.loopback.drive_state import (
    Confirmation,
    DriveFile,
    DriveState,
    FailurePoint,
)
from evio_fetch.engine.loopback.drive_stats import DriveStats, Kind
from evio_fetch.engine.loopback.http_common import unsatisfied_range

RESOURCE_KEYS_HEADER: Final = "X-Goog-Drive-Resource-Keys"
THROTTLE_RETRY_AFTER: Final = 1
"""Seconds a throttled client is asked to wait."""


class DriveSettings(ByteSettings, PageSettings, Protocol):
    """The emulator's switches and address, read as each request is answered."""

    prefix: str
    browser_inputs: bool
    max_connections: int | None

    @property
    def base_url(self) -> str: ...


class DriveRoutes:
    """The request handlers of a Drive that serves ``state`` as ``settings`` say."""

    def __init__(self, settings: DriveSettings, state: DriveState, stats: DriveStats) -> None:
        self._settings = settings
        self._state = state
        self._stats = stats
        self._bytes = ByteSender(settings, state, stats)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self._stats._connection(request.transport)
        response = await self._answer(request)
        if is_page(response):
            return await send_page(request, response, self._settings)
        return response

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if not path.startswith(self._settings.prefix + "/"):
            return self._error(404, "not_found", None)
        route = path[len(self._settings.prefix) :]
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
            self._stats._record("signin_page", None)
            return _page(200, SIGN_IN_PAGE)
        if route == "/embeddedfolderview":
            return self._folder_view(request)
        return self._error(404, "not_found", None)

    def _uc(self, request: web.BaseRequest) -> web.StreamResponse:
        file_id = request.query.get("id", "")
        injected = self._injected("uc", file_id)
        if injected is not None:
            return injected
        entry = self._state.file(file_id)
        if entry is None:
            return self._error(404, "not_found", file_id)
        if entry.throttle:
            return self._throttled(file_id)
        self._stats._record("uc", file_id)
        query = {"id": file_id, "export": "download"}
        key = request.query.get("resourcekey")
        if key is not None:
            query["resourcekey"] = key
        location = f"{self._settings.base_url}/usercontent/download?{urlencode(query)}"
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
        entry = self._state.file(file_id)
        if entry is None:
            return self._error(404, "not_found", file_id)
        if entry.throttle:
            return self._throttled(file_id)
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
        if not _may_access(request, entry):
            return self._sign_in_redirect(request, entry.file_id)
        if entry.quota:
            return self._quota(entry.file_id)
        if entry.large:
            return self._warning_page(entry)
        return await self._send_bytes(request, entry)

    def _confirmed(self, request: web.BaseRequest, entry: DriveFile) -> Confirmation:
        """``valid``, ``expired``, or ``none`` (no uuid, or one this Drive never issued)."""
        token = request.query.get("uuid")
        if token is None or request.query.get("confirm") is None:
            return "none"
        return self._state.confirmation(token, entry.file_id, request.query.get("at"))

    def _warning_page(self, entry: DriveFile) -> web.Response:
        token = str(uuid.uuid4())
        at = _at_token() if self._settings.browser_inputs else None
        self._state.issue(token, entry.file_id, at)
        fields = [("id", entry.file_id), ("export", "download")]
        if self._settings.browser_inputs:
            fields.append(("authuser", "0"))
        fields += [("confirm", "t"), ("uuid", token)]
        if at is not None:
            fields.append(("at", at))
        self._stats._record("confirm_page", entry.file_id)
        return _page(
            200, warning_html(entry, f"{self._settings.base_url}/usercontent/download", fields)
        )

    def _throttled(self, file_id: str) -> web.Response:
        """Google's answer to a client that pulls too hard."""
        self._stats._record("throttled", file_id)
        response = _page(429, THROTTLED_PAGE)
        response.headers[hdrs.RETRY_AFTER] = str(THROTTLE_RETRY_AFTER)
        return response

    def _quota(self, file_id: str) -> web.Response:
        self._stats._record("quota", file_id)
        return _page(200, QUOTA_PAGE)

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
        self._stats._record("signin_redirect", file_id)
        return web.Response(
            status=302,
            headers={
                hdrs.LOCATION: f"{self._settings.base_url}/accounts/ServiceLogin?{query}",
                hdrs.CONTENT_TYPE: "text/html; charset=UTF-8",
            },
        )

    def _folder_view(self, request: web.BaseRequest) -> web.StreamResponse:
        folder_id = request.query.get("id", "")
        injected = self._injected("folder", folder_id)
        if injected is not None:
            return injected
        folder, children = self._state.listing(folder_id)
        if folder is None:
            return self._error(404, "not_found", folder_id)
        if folder.private:
            return self._sign_in_redirect(request, folder_id)
        self._stats._record("folder", folder_id)
        return _page(200, folder_html(folder.name, [listed_html(child) for child in children]))

    def _error(self, status: int, kind: Kind, file_id: str | None) -> web.Response:
        self._stats._record(kind, file_id)
        return _page(status, error_html(status))

    def _injected(self, point: FailurePoint, file_id: str | None) -> web.Response | None:
        failure = self._state.take_failure(point)
        if failure is None:
            return None
        response = self._error(failure.status, "injected", file_id)
        if failure.retry_after is not None:
            response.headers[hdrs.RETRY_AFTER] = str(failure.retry_after)
        return response

    async def _send_bytes(self, request: web.BaseRequest, entry: DriveFile) -> web.StreamResponse:
        injected = self._injected("bytes", entry.file_id)
        if injected is not None:
            return injected
        span = requested_span(request, entry)
        if span == "unsatisfiable":
            refusal = self._error(416, "unsatisfiable", entry.file_id)
            refusal.headers[hdrs.CONTENT_RANGE] = unsatisfied_range(entry.size)
            return refusal
        caps = (entry.max_connections, self._settings.max_connections)
        if not self._stats._stream_started(entry.file_id, *caps):
            return self._throttled(entry.file_id)
        try:
            return await self._bytes.send(request, entry, span)
        finally:
            self._stats._stream_finished(entry.file_id)


def _page(status: int, body: str) -> web.Response:
    return web.Response(
        status=status, body=body.encode("utf-8"), content_type="text/html", charset="utf-8"
    )


def _at_token() -> str:
    # Like Drive's: an opaque token, a colon and a millisecond timestamp (NOTES §3.2).
    return f"AEz{uuid.uuid4().hex[:20]}:{int(time.time() * 1000)}"


def _may_access(request: web.BaseRequest, entry: DriveFile) -> bool:
    if entry.private:
        return False
    if entry.resource_key is None:
        return True
    return entry.resource_key in _presented_keys(request, entry.file_id)


def _presented_keys(request: web.BaseRequest, file_id: str) -> set[str]:
    """Resource keys the request carries for ``file_id``: the query's, and the header's
    ``ID/KEY`` pairs (NOTES §2)."""
    keys = set(request.query.getall("resourcekey", []))
    for pair in request.headers.get(RESOURCE_KEYS_HEADER, "").split(","):
        pair_id, _, key = pair.strip().partition("/")
        if pair_id == file_id and key:
            keys.add(key)
    return keys
