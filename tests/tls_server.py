"""An HTTPS server on 127.0.0.1 whose certificate comes from a private CA (trustme's), for the
tests of what evio-fetch trusts."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme
from aiohttp import web


@contextmanager
def https_server(folder: Path, payload: bytes) -> Iterator[tuple[str, Path]]:
    """Serve ``payload`` as ``/data.bin`` over HTTPS (ranges included); yields its URL and the
    PEM file of the CA that signed the server's certificate."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = folder / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    (folder / "data.bin").write_bytes(payload)

    async def serve(_: web.Request) -> web.FileResponse:
        return web.FileResponse(folder / "data.bin")

    app = web.Application()
    app.router.add_get("/data.bin", serve)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}/data.bin", ca_file
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()
