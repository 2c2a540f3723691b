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
    any request for a file added with throttle=True, and a byte response beyond the file's
    max_connections at once:
        429 HTML "We're sorry... automated queries", Retry-After: 1

Switches imitate what goes wrong with Drive: a per-connection rate cap, full responses
without Content-Length, the browser-only hidden inputs (``authuser``, ``at``), injected
error statuses (``fail_next``), confirmed URLs that stop working while bodies are being
sent (``expire_confirmed``, ``expire_after``), as Drive drops transfers after about an hour,
pages that arrive in pieces or larger than any of Drive's (``page_pieces``,
``page_padding``), and per file, throttling (``add(..., max_connections=N)``,
``add(..., throttle=True)``). ``add_files`` fills a large folder.
Counters (``DriveStats``) record what clients did, by kind of answer and by file ID, and
when each file's byte responses started, ended or were refused (``stream_log``).

Run it on the caller's event loop (``DriveEmulator``), on its own thread for synchronous code
(``DriveEmulatorThread``), or as a process serving a manifest's files::

    python -m evio_fetch.engine.loopback.drive_emulator --manifest M --root DIR
        [--port 0] [--prefix /drive] [--rate 20M] [--large-above BYTES]

which prints ``READY BASE_URL`` once listening and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

import msgspec
from aiohttp import web

from evio_fetch.engine.loopback.background import ServingThread
from evio_fetch.engine.loopback.drive_bytes import content_disposition
from evio_fetch.engine.loopback.drive_html import short_size
from evio_fetch.engine.loopback.drive_routes import RESOURCE_KEYS_HEADER, DriveRoutes
from evio_fetch.engine.loopback.drive_state import (
    DriveControls,
    DriveDocument,
    DriveFile,
    DriveFolder,
    DriveState,
    FailurePoint,
)
from evio_fetch.engine.loopback.drive_stats import DriveStats, DriveStatsSnapshot, Kind
from evio_fetch.engine.loopback.listener import ListeningServer
from evio_fetch.engine.loopback.pacing import DEFAULT_CHUNK
from evio_fetch.engine.loopback.process import rate_argument, run_until_signalled

# Where these names were defined before the emulator was split into modules.
__all__ = [
    "RESOURCE_KEYS_HEADER",
    "DriveDocument",
    "DriveEmulator",
    "DriveEmulatorThread",
    "DriveFile",
    "DriveFolder",
    "DriveStats",
    "DriveStatsSnapshot",
    "FailurePoint",
    "Kind",
    "content_disposition",
    "main",
    "serve_manifest",
    "short_size",
]


class DriveEmulator(DriveControls, ListeningServer):
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
        DriveControls.__init__(self, DriveState())
        ListeningServer.__init__(self, "the Drive emulator")
        self.prefix = prefix
        self.rate_per_connection = rate_per_connection
        """Bytes per second on each connection, across the requests it carries."""
        self.chunk_size = chunk_size
        self.omit_content_length = False
        """Send whole-file answers chunked, as Drive did in 2019-2020 (NOTES §5)."""
        self.browser_inputs = False
        """Put ``authuser`` and ``at`` in the form, and require ``at`` back (NOTES §3.2)."""
        self.page_pieces = 1
        """Write every HTML page (warning, folder view, errors) in this many chunks, with
        ``page_pause`` seconds between them: a client's first read gets only part of it."""
        self.page_pause = 0.02
        self.page_padding = 0
        """Make every HTML page about this many bytes larger (a comment before ``</body>``)."""
        self.max_connections: int | None = None
        """Byte responses sent at once to this client, all files together; one more is
        answered 429 with the "automated queries" page, as a file's own cap is."""
        self.stats = DriveStats()
        self._routes = DriveRoutes(self, self._state, self.stats)

    @property
    def base_url(self) -> str:
        """What ``EVIO_FETCH_DRIVE_URL`` is set to: ``http://127.0.0.1:PORT[prefix]``."""
        if self._listener.origin is None:
            raise RuntimeError("the Drive emulator is not listening; call start() first")
        return self._listener.origin + self.prefix

    def uc_url(self, file_id: str, resource_key: str | None = None) -> str:
        query = {"export": "download", "id": file_id}
        if resource_key is not None:
            query["resourcekey"] = resource_key
        return f"{self.base_url}/uc?{urlencode(query)}"

    def folder_url(self, folder_id: str) -> str:
        return f"{self.base_url}/embeddedfolderview?{urlencode({'id': folder_id})}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        await super().start(host, port)
        return self.base_url

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        return await self._routes.handle(request)


class DriveEmulatorThread(DriveControls, ServingThread[DriveEmulator]):
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
        # Registration and switches are thread-safe: this object's act on the emulator's.
        DriveControls.__init__(self, self.emulator._state)
        ServingThread.__init__(
            self, self.emulator, host, port, thread_name="drive-emulator", what="the Drive emulator"
        )

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    @property
    def stats(self) -> DriveStats:
        return self.emulator.stats


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
    parser.add_argument("--rate", type=rate_argument, default=None, help="per connection, 20M")
    parser.add_argument(
        "--large-above",
        type=int,
        default=1024 * 1024,
        help="files above this many bytes get the virus-scan warning first",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    emulator = DriveEmulator(prefix=args.prefix, rate_per_connection=args.rate)
    serve_manifest(emulator, args.manifest, args.root, args.large_above)
    run_until_signalled(emulator, args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
