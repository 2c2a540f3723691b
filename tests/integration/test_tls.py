"""TLS certificates are verified: a server whose CA is unknown is refused, and trusted once its
CA is supplied through SSL_CERT_FILE."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from support import MIB, run_cli


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path, bytes]]:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    payload = bytes(range(256)) * (3 * MIB // 256)
    (tmp_path / "data.bin").write_bytes(payload)

    async def serve(_: web.Request) -> web.FileResponse:
        return web.FileResponse(tmp_path / "data.bin")

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
        yield f"https://127.0.0.1:{port}/data.bin", ca_file, payload
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_unknown_certificate_authority_is_refused(
    tmp_path: Path, https_server: tuple[str, Path, bytes]
) -> None:
    url, _, _ = https_server
    result = run_cli("-o", "out", "--json", "--retries", "0", url, cwd=tmp_path)
    assert result.returncode == 2  # its only file failed
    error = json.loads(result.stdout)["files"][0]["error"]
    assert "certificate" in error["message"] and "SSL_CERT_FILE" in error["hint"]
    assert not (tmp_path / "out" / "data.bin").exists()


def test_supplied_certificate_authority_is_trusted(
    tmp_path: Path, https_server: tuple[str, Path, bytes]
) -> None:
    url, ca_file, payload = https_server
    result = run_cli("-o", "out", url, cwd=tmp_path, env={"SSL_CERT_FILE": str(ca_file)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "data.bin").read_bytes() == payload
