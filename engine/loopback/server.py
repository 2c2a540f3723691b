"""The loopback HTTP server that the demo, the tests and the benchmark all download from.

It serves the files under one root directory the way nginx serves static files (ETag,
Last-Modified, single byte ranges, If-Range, 416), and can imitate less helpful servers:
a per-connection speed cap like Google Drive's, a cap on all bodies together like a full
link, a limit on bodies at once answered 503 like a busy server, no range support, no
Content-Length, a Content-Disposition name. It counts what clients did (``ServerStats``) so
tests can check how a download behaved, not only what it produced.

Run it on the caller's event loop (``LoopbackServer``), on its own thread for synchronous
code (``ServerThread``), or as a process::

    python -m evio_fetch.engine.loopback.server --root DIR [--port 0] [--rate 20M]
        [--ignore-ranges] [--no-content-length] [--content-disposition]

which prints ``READY http://127.0.0.1:PORT`` once listening and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from aiohttp import hdrs, web

from evio_fetch.engine.loopback.background import ServingThread, new_event_loop
from evio_fetch.engine.loopback.http_common import RangeAnswer, Span, parse_range
from evio_fetch.engine.loopback.listener import ListeningServer
from evio_fetch.engine.loopback.pacing import new_bucket, piece_size
from evio_fetch.engine.loopback.process import rate_argument, run_until_signalled
from evio_fetch.engine.loopback.server_stats import ServerStats, StatsSnapshot
from evio_fetch.engine.loopback.static_files import (
    Exchange,
    ServerConfig,
    error_response,
    open_in_root,
    relative_path,
)
from evio_fetch.engine.ratelimit import TokenBucket

# Where these names were defined before the server was split into modules.
__all__ = [
    "LoopbackServer",
    "RangeAnswer",
    "ServerConfig",
    "ServerStats",
    "ServerThread",
    "Span",
    "StatsSnapshot",
    "main",
    "new_event_loop",
    "parse_range",
]


class LoopbackServer(ListeningServer):
    """Serves ``root`` over HTTP on the running event loop."""

    def __init__(self, root: Path, config: ServerConfig | None = None) -> None:
        self._root = os.path.realpath(root)
        if not os.path.isdir(self._root):
            raise NotADirectoryError(f"loopback server root {str(root)!r} is not a directory")
        super().__init__("the loopback server")
        self._config = config or ServerConfig()
        self.stats = ServerStats()
        self._links: dict[int, TokenBucket] = {}

    @property
    def config(self) -> ServerConfig:
        return self._config

    def set_config(self, config: ServerConfig) -> None:
        """Applies to requests that arrive from now on; responses under way keep theirs."""
        self._config = config

    @property
    def url(self) -> str:
        if self._listener.origin is None:
            raise RuntimeError("the loopback server is not listening; call start() first")
        return self._listener.origin

    def url_for(self, relpath: str) -> str:
        return f"{self.url}/{quote(relpath.lstrip('/'), safe='/')}"

    def _link(self, rate: int | None) -> TokenBucket | None:
        """The one bucket every body shares under ``rate_total``."""
        if rate is None:
            return None
        if rate not in self._links:
            self._links[rate] = new_bucket(rate, piece_size(rate, self._config.chunk_size))
        return self._links[rate]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        config = self._config
        path = relative_path(request.raw_path)
        range_get = request.method == hdrs.METH_GET and hdrs.RANGE in request.headers
        self.stats._record_request(path, request.transport, range_get)
        if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD):
            response = error_response(405)
            response.headers[hdrs.ALLOW] = "GET, HEAD"
            return response
        if _busy(config, self.stats, request):
            self.stats._record_refusal()
            busy = error_response(503)
            busy.headers[hdrs.RETRY_AFTER] = "0"
            return busy
        fd = open_in_root(self._root, path, request.raw_path)
        if fd is None:
            return error_response(404)
        try:
            link = self._link(config.rate_total)
            return await Exchange(self.stats, config, request, path, fd, link=link).answer()
        finally:
            os.close(fd)


def _busy(config: ServerConfig, stats: ServerStats, request: web.BaseRequest) -> bool:
    limit = config.max_streams
    return limit is not None and request.method == hdrs.METH_GET and stats.streaming >= limit


class ServerThread(ServingThread[LoopbackServer]):
    """A ``LoopbackServer`` on its own event loop in a daemon thread, for synchronous code."""

    def __init__(
        self,
        root: Path,
        config: ServerConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        server = LoopbackServer(root, config)
        super().__init__(
            server, host, port, thread_name="loopback-server", what="the loopback server"
        )

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


# As a process --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evio_fetch.engine.loopback.server",
        description="Serve a directory over HTTP on loopback like a static file server.",
    )
    parser.add_argument("--root", required=True, type=Path, help="directory to serve")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument(
        "--rate", type=rate_argument, default=None, help="bytes/s cap per response, e.g. 20M"
    )
    parser.add_argument("--ignore-ranges", action="store_true", help="answer every GET 200")
    parser.add_argument("--no-content-length", action="store_true", help="send whole files chunked")
    parser.add_argument(
        "--content-disposition", action="store_true", help="name files in Content-Disposition"
    )
    return parser


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
    run_until_signalled(LoopbackServer(args.root, config), args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
