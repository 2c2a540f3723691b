"""What clients did to the Drive emulator, by kind of answer and by file ID."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from evio_fetch.engine.loopback.transports import ByTransport

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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, int] = {}
        self._clear()

    def _clear(self) -> None:
        self._requests: dict[str, int] = {}
        self._by_id: dict[str, dict[str, int]] = {}
        self._connections = 0
        self._transports: ByTransport[None] = ByTransport()
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
            if transport in self._transports:
                return
            self._connections += 1
            self._transports.put(transport, None)

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
