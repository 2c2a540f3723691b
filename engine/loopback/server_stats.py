"""What clients did to the loopback server, so tests can check how a download behaved."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from evio_fetch.engine.loopback.transports import ByTransport


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
    refused: int = 0
    streaming: int = 0


class ServerStats:
    """What clients did since the server started or since ``reset()``.

    Written on the server's event loop, readable from any thread: every access holds a lock.
    ``requests_by_path`` and the streaming counts are keyed by the decoded path relative to
    the root, without a leading slash.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streaming = 0
        self._streaming_by_path: dict[str, int] = {}
        self._clear()

    def _clear(self) -> None:
        self._requests = 0
        self._by_path: dict[str, int] = {}
        self._range_gets = 0
        self._range_starts: list[int] = []
        self._bytes_sent = 0
        self._connections = 0
        self._refused = 0
        # Transports are remembered so each connection is counted once.
        self._transports: ByTransport[None] = ByTransport()
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
                refused=self._refused,
                streaming=self._streaming,
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
    def range_starts(self) -> list[int]:
        """The first byte of every 206 body, in the order the responses began."""
        with self._lock:
            return list(self._range_starts)

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
            if transport is not None and transport not in self._transports:
                self._connections += 1
                self._transports.put(transport, None)

    @property
    def refused(self) -> int:
        """GETs answered 503 because too many bodies were streaming (``max_streams``)."""
        with self._lock:
            return self._refused

    def _record_refusal(self) -> None:
        with self._lock:
            self._refused += 1

    def _record_range(self, start: int) -> None:
        with self._lock:
            self._range_starts.append(start)

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
