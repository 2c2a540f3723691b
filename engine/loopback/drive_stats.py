"""What clients did to the Drive emulator, by kind of answer and by file ID."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
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
    "throttled",  # 429 with Google's "automated queries" page
]

StreamChange = Literal["opened", "closed", "refused"]
# Enough for hours of segmented downloads; the oldest changes go first.
MAX_STREAM_LOG = 100_000


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """A byte response of one file starting, ending, or refused for the file's cap."""

    at: float
    """Seconds since the stats began (or were reset)."""
    file_id: str
    change: StreamChange
    open: int
    """Byte responses of this file being sent just after the change."""


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
    stream_log: tuple[StreamEvent, ...] = ()
    """Every start, end and refusal of a byte response, in order."""

    def count(self, kind: Kind, file_id: str | None = None) -> int:
        source = self.requests if file_id is None else self.requests_by_id.get(file_id, {})
        return source.get(kind, 0)

    def streams_over_time(self, file_id: str) -> list[tuple[float, int]]:
        """(seconds, byte responses of the file being sent) after each change for it."""
        return [(event.at, event.open) for event in self.stream_log if event.file_id == file_id]


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
        self._began = time.monotonic()
        self._log: deque[StreamEvent] = deque(maxlen=MAX_STREAM_LOG)

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
                stream_log=tuple(self._log),
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

    def _stream_started(
        self, file_id: str, cap: int | None = None, total_cap: int | None = None
    ) -> bool:
        """Count a byte response of ``file_id`` as being sent, unless ``cap`` of them (or
        ``total_cap`` of all files') already are: then it is refused (False). Checked and
        counted at once, so no two requests racing for the last place both get it."""
        with self._lock:
            before = self._streams.get(file_id, 0)
            everyone = sum(self._streams.values())
            if (cap is not None and before >= cap) or (
                total_cap is not None and everyone >= total_cap
            ):
                self._note(file_id, "refused", before)
                return False
            self._streams[file_id] = before + 1
            self._max_by_id[file_id] = max(self._max_by_id.get(file_id, 0), before + 1)
            self._max_streams = max(self._max_streams, sum(self._streams.values()))
            self._note(file_id, "opened", before + 1)
            return True

    def _stream_finished(self, file_id: str) -> None:
        with self._lock:
            self._streams[file_id] -= 1
            self._note(file_id, "closed", self._streams[file_id])

    def _note(self, file_id: str, change: StreamChange, now_open: int) -> None:
        at = time.monotonic() - self._began
        self._log.append(StreamEvent(at, file_id, change, now_open))
