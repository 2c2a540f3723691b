"""The loopback server against real clients on 127.0.0.1, and the data it serves."""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict
from yarl import URL

import evio_fetch.engine
from evio_fetch.engine.loopback import server as server_module
from evio_fetch.engine.loopback.dataset import DataFile, demo_files, generate
from evio_fetch.engine.loopback.server import (
    LoopbackServer,
    ServerConfig,
    ServerThread,
    parse_range,
)

KIB = 1024
MIB = 1024 * KIB
BIG = "fan/fan_const_rpm.dat"
BIG_SIZE = 3 * MIB + 123
FILES = [
    (BIG, BIG_SIZE),
    ("fan/other.raw", 200 * KIB),
    ("notes/README.txt", 1000),
    ("empty.dat", 0),
    ("dir with space/ünï.bin", 5000),
]


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "served"
    generate(served, FILES, seed=7)
    # Outside the root: no request may ever reach it.
    (tmp_path / "secret.txt").write_text("do not serve me\n")
    return served


def content(root: Path, path: str) -> bytes:
    return (root / path).read_bytes()


@pytest.fixture
async def server(root: Path) -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(root, ServerConfig()) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession, url: str | URL, method: str = "GET", **headers: str
) -> tuple[int, CIMultiDict[str], bytes]:
    async with session.request(method, url, headers=headers) as response:
        body = await response.read()
        return response.status, CIMultiDict(response.headers), body


async def poll(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


# Whole files and HEAD ------------------------------------------------------------------------


async def test_full_get_returns_the_file(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    status, headers, body = await fetch(session, server.url_for(BIG))
    assert status == 200
    assert body == content(root, BIG)
    assert headers["Content-Length"] == str(BIG_SIZE)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"')
    assert headers["Last-Modified"].endswith(" GMT")
    assert "Content-Disposition" not in headers


async def test_head_describes_the_file_without_a_body(
    server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    _, get_headers, _ = await fetch(session, server.url_for(BIG))
    status, headers, body = await fetch(session, server.url_for(BIG), "HEAD", Range="bytes=0-9")
    assert (status, body) == (200, b"")  # Range means nothing to HEAD
    assert headers["Content-Length"] == str(BIG_SIZE)
    for name in ("ETag", "Last-Modified", "Accept-Ranges", "Content-Type"):
        assert headers[name] == get_headers[name]
    assert server.stats.range_gets == 0


async def test_url_for_percent_encodes(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    url = server.url_for("dir with space/ünï.bin")
    assert url == f"{server.url}/dir%20with%20space/%C3%BCn%C3%AF.bin"
    status, _, body = await fetch(session, URL(url, encoded=True))
    assert (status, body) == (200, content(root, "dir with space/ünï.bin"))
    assert server.stats.requests_by_path == {"dir with space/ünï.bin": 1}


async def test_text_files_get_a_text_type(
    server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    _, headers, _ = await fetch(session, server.url_for("notes/README.txt"))
    assert headers["Content-Type"].startswith("text/plain")


async def test_empty_file(server: LoopbackServer, session: aiohttp.ClientSession) -> None:
    url = server.url_for("empty.dat")
    assert (await fetch(session, url))[0::2] == (200, b"")
    assert (await fetch(session, url))[1]["Content-Length"] == "0"
    assert (await fetch(session, url, "HEAD"))[1]["Content-Length"] == "0"
    status, headers, _ = await fetch(session, url, Range="bytes=0-")
    assert (status, headers["Content-Range"]) == (416, "bytes */0")
    assert (await fetch(session, url, Range="bytes=-5"))[0] == 416


async def test_other_methods_are_refused(
    server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    status, headers, _ = await fetch(session, server.url_for(BIG), "POST")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")


# Ranges --------------------------------------------------------------------------------------

N = BIG_SIZE


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=100-", 100, N - 1),
        ("bytes=-100", N - 100, N - 1),
        (f"bytes={N - 1}-{N - 1}", N - 1, N - 1),
        ("bytes=5-999999999999", 5, N - 1),  # an end past the file is clamped
        ("bytes=-999999999999", 0, N - 1),  # a suffix longer than the file is all of it
        ("bytes = 10 - 20", 10, 20),
    ],
)
async def test_single_range_is_partial_content(
    root: Path,
    server: LoopbackServer,
    session: aiohttp.ClientSession,
    header: str,
    first: int,
    last: int,
) -> None:
    status, headers, body = await fetch(session, server.url_for(BIG), Range=header)
    assert status == 206
    assert headers["Content-Range"] == f"bytes {first}-{last}/{N}"
    assert headers["Content-Length"] == str(last - first + 1)
    assert "Accept-Ranges" not in headers  # as nginx: only on 200
    assert body == content(root, BIG)[first : last + 1]


@pytest.mark.parametrize("header", [f"bytes={N}-", f"bytes={N + 5}-{N + 10}", "bytes=-0"])
async def test_range_past_the_end_is_unsatisfiable(
    server: LoopbackServer, session: aiohttp.ClientSession, header: str
) -> None:
    status, headers, _ = await fetch(session, server.url_for(BIG), Range=header)
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{N}"


@pytest.mark.parametrize(
    "header",
    ["bytes=0-1,5-6", "bytes=0-1, 100-", "bytes=abc", "items=0-5", "bytes=9-3", "bytes=-", ""],
)
async def test_several_or_malformed_ranges_get_the_whole_file(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession, header: str
) -> None:
    status, headers, body = await fetch(session, server.url_for(BIG), Range=header)
    assert status == 200
    assert headers["Accept-Ranges"] == "bytes"
    assert body == content(root, BIG)


def test_parse_range_table() -> None:
    assert parse_range("bytes=2-", 10) == (2, 9)
    assert parse_range("BYTES=-3", 10) == (7, 9)
    assert parse_range("bytes=10-", 10) == "unsatisfiable"
    assert parse_range("bytes=" + "9" * 40 + "-", 10) == "whole"
    assert parse_range("bytes=1-2,3-4", 10) == "whole"


async def test_if_range_with_current_validators_honours_the_range(
    server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    url = server.url_for(BIG)
    _, headers, _ = await fetch(session, url, "HEAD")
    for validator in (headers["ETag"], headers["Last-Modified"]):
        status, got, _ = await fetch(session, url, Range="bytes=10-19", **{"If-Range": validator})
        assert (status, got["Content-Range"]) == (206, f"bytes 10-19/{N}")


async def test_if_range_with_stale_validators_sends_the_whole_file(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    url = server.url_for(BIG)
    _, headers, _ = await fetch(session, url, "HEAD")
    stale = ['"0-0"', f"W/{headers['ETag']}", "Thu, 01 Jan 1970 00:00:00 GMT", "garbage"]
    for validator in stale:
        status, _, body = await fetch(session, url, Range="bytes=10-19", **{"If-Range": validator})
        assert (status, len(body)) == (200, N), validator


async def test_etag_is_stable_and_follows_changes(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    url = server.url_for("notes/README.txt")
    first = (await fetch(session, url, "HEAD"))[1]["ETag"]
    assert (await fetch(session, url))[1]["ETag"] == first
    info = (root / "notes/README.txt").stat()
    os.utime(root / "notes/README.txt", ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    assert (await fetch(session, url, "HEAD"))[1]["ETag"] != first


# What may not be served ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/missing.bin",
        "/fan",
        "/fan/",
        "/",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/fan/../../secret.txt",
        "/fan/%2e%2e/%2e%2e/secret.txt",
        "/fan/..%2f..%2fsecret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/fan/./other.raw",
        "/fan//other.raw",
        "/notes/README.txt%00",
        "/%ff%fe",
    ],
)
async def test_missing_and_escaping_paths_are_not_found(
    server: LoopbackServer, session: aiohttp.ClientSession, target: str
) -> None:
    for method in ("GET", "HEAD"):
        status, _, body = await fetch(session, URL(server.url + target, encoded=True), method)
        assert status == 404
        assert b"secret" not in body and b"root:" not in body
    # The server saw the target as sent, so the test did try to escape.
    assert server.stats.requests == 2


async def test_symlinks_are_followed_only_inside_the_root(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    (root / "inside.lnk").symlink_to(root / "notes" / "README.txt")
    (root / "outside.lnk").symlink_to(root.parent / "secret.txt")
    (root / "outside-dir").symlink_to(root.parent, target_is_directory=True)
    status, _, body = await fetch(session, server.url_for("inside.lnk"))
    assert (status, body) == (200, content(root, "notes/README.txt"))
    assert (await fetch(session, server.url_for("outside.lnk")))[0] == 404
    assert (await fetch(session, server.url_for("outside-dir/secret.txt")))[0] == 404


# Imitating other servers -----------------------------------------------------------------------


async def test_ignore_ranges_answers_200_without_accept_ranges(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    server.set_config(ServerConfig(ignore_ranges=True))
    status, headers, body = await fetch(session, server.url_for(BIG), Range="bytes=0-9")
    assert (status, body) == (200, content(root, BIG))
    assert "Accept-Ranges" not in headers
    assert (await fetch(session, server.url_for(BIG), Range=f"bytes={N}-"))[0] == 200


async def test_omit_content_length_streams_chunked(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    server.set_config(ServerConfig(omit_content_length=True))
    status, headers, body = await fetch(session, server.url_for(BIG))
    assert (status, body) == (200, content(root, BIG))
    assert "Content-Length" not in headers
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in (await fetch(session, server.url_for(BIG), "HEAD"))[1]
    # A range still has an exact length, as it must.
    status, headers, _ = await fetch(session, server.url_for(BIG), Range="bytes=0-9")
    assert (status, headers["Content-Length"]) == (206, "10")


async def test_content_disposition_names_the_file(
    server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    server.set_config(ServerConfig(content_disposition=True))
    _, headers, _ = await fetch(session, server.url_for(BIG))
    assert headers["Content-Disposition"] == 'attachment; filename="fan_const_rpm.dat"'
    _, headers, _ = await fetch(session, server.url_for("dir with space/ünï.bin"), "HEAD")
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"_n_.bin\"; filename*=UTF-8''%C3%BCn%C3%AF.bin"
    )


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        ServerConfig(rate_per_connection=0)
    with pytest.raises(ValueError):
        ServerConfig(chunk_size=0)


# Rate cap --------------------------------------------------------------------------------------


async def test_rate_is_capped_per_response(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    # 2 MiB at 4 MiB/s with a 64 KiB burst cannot take less than (2 MiB - 64 KiB) / 4 MiB/s.
    server.set_config(ServerConfig(rate_per_connection=4 * MIB, chunk_size=64 * KIB))
    url = server.url_for(BIG)

    async def timed(first: int) -> float:
        started = time.monotonic()
        status, _, body = await fetch(session, url, Range=f"bytes={first}-{first + 2 * MIB - 1}")
        assert (status, len(body)) == (206, 2 * MIB)
        return time.monotonic() - started

    durations = await asyncio.gather(timed(0), timed(MIB // 2), timed(MIB))
    assert min(durations) >= 0.45
    assert server.stats.max_streaming == 3


async def test_each_response_has_a_cap_of_its_own(
    root: Path, server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    # At 512 bytes/s a 16 KiB piece takes 32 s to earn, and each cap lets its first piece
    # go at once: three responses each get one now only if none shares another's cap.
    server.set_config(ServerConfig(rate_per_connection=512))
    piece = 16 * KIB
    async with AsyncExitStack() as stack:
        for first in (0, MIB, 2 * MIB):
            url = server.url_for(BIG)
            header = {"Range": f"bytes={first}-{first + 2 * piece - 1}"}
            response = await stack.enter_async_context(session.get(url, headers=header))
            assert response.status == 206
            async with asyncio.timeout(20):
                start = await response.content.readexactly(piece)
            assert start == content(root, BIG)[first : first + piece]
        assert server.stats.bytes_sent == 3 * piece  # and not a byte more: each is capped


# Counters --------------------------------------------------------------------------------------


async def test_counters(server: LoopbackServer, session: aiohttp.ClientSession) -> None:
    await fetch(session, server.url_for(BIG))
    await fetch(session, server.url_for(BIG), Range="bytes=0-99")
    await fetch(session, server.url_for(BIG), Range=f"bytes={N}-")  # 416, still a range GET
    await fetch(session, server.url_for("notes/README.txt"), "HEAD", Range="bytes=0-1")
    await fetch(session, server.url_for("nope"))
    stats = server.stats.snapshot()
    assert stats.requests == 5
    assert stats.requests_by_path == {BIG: 3, "notes/README.txt": 1, "nope": 1}
    assert stats.range_gets == 2
    assert stats.bytes_sent == N + 100
    assert stats.connections == 1  # the session kept its one connection alive
    assert stats.max_streaming == 1
    assert stats.max_streaming_by_path == {BIG: 1}

    async with aiohttp.ClientSession() as other:
        await fetch(other, server.url_for("notes/README.txt"))
    assert server.stats.connections == 2

    server.stats.reset()
    assert server.stats.snapshot() == server_module.StatsSnapshot(0, {}, 0, 0, 0, 0, {})
    await fetch(session, server.url_for("notes/README.txt"))
    assert server.stats.connections == 1  # counted again after the reset


async def test_max_concurrency_counts_responses_streaming_at_once(
    server: LoopbackServer, session: aiohttp.ClientSession
) -> None:
    # Slow enough that no body can finish while the test holds all four open (seconds
    # each), and quick to notice an abort (a piece every quarter of a second).
    server.set_config(ServerConfig(rate_per_connection=64 * KIB))
    ranges = [(BIG, 0), (BIG, MIB), (BIG, 2 * MIB), ("fan/other.raw", 0)]
    async with AsyncExitStack() as stack:
        for path, first in ranges:
            url = server.url_for(path)
            header = {"Range": f"bytes={first}-{first + MIB - 1}"}
            response = await stack.enter_async_context(session.get(url, headers=header))
            assert response.status == 206
        assert server.stats.streaming == 4
        stats = server.stats.snapshot()
        assert (stats.max_streaming, stats.connections, stats.range_gets) == (4, 4, 4)
        assert stats.max_streaming_by_path == {BIG: 3, "fan/other.raw": 1}
    # Closing the responses early aborts them; the server notices within one pacing step.
    await poll(lambda: server.stats.streaming == 0, "the aborted responses to end")
    assert server.stats.max_streaming == 4


async def test_stop_does_not_wait_for_slow_transfers(
    root: Path, session: aiohttp.ClientSession
) -> None:
    server = LoopbackServer(root, ServerConfig(rate_per_connection=64 * KIB))
    await server.start()
    async with session.get(server.url_for(BIG)) as response:
        assert response.status == 200
        sent = server.stats.bytes_sent
        await server.stop()
        # Cut at once: aiohttp's own graceful stop would let the transfer send on (a piece
        # every quarter of a second here) for the half second it waits.
        assert server.stats.bytes_sent == sent
        with pytest.raises(aiohttp.ClientError):
            await response.read()
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, f"http://127.0.0.1:{URL(response.url).port}/{BIG}")


# On a thread, for synchronous callers -----------------------------------------------------------


def sync_get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_server_thread_from_sync_code(root: Path) -> None:
    with ServerThread(root) as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert sync_get(running.url_for(BIG)) == (200, content(root, BIG))
        assert sync_get(running.url_for(BIG), Range="bytes=1-2")[0] == 206
        running.set_config(ServerConfig(ignore_ranges=True))
        assert running.config.ignore_ranges
        assert sync_get(running.url_for(BIG), Range="bytes=1-2")[0] == 200
        assert running.stats.requests == 3
        url = running.url_for(BIG)
    running.stop()  # a second stop is harmless
    with pytest.raises(urllib.error.URLError):
        sync_get(url)


def test_server_thread_reports_a_taken_port(root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        thread = ServerThread(root, port=taken.getsockname()[1])
        with pytest.raises(OSError):
            thread.start()
        thread.stop()


def test_server_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        LoopbackServer(tmp_path / "absent")


# As a process ---------------------------------------------------------------------------------


def package_parent() -> str:
    # The folder holding evio_fetch/, so the child imports the same code as this test.
    return str(Path(evio_fetch.engine.__file__).parents[2])


@pytest.fixture
def spawn(root: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    children: list[subprocess.Popen[str]] = []

    def start(*flags: str) -> tuple[subprocess.Popen[str], str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent(), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "evio_fetch.engine.loopback.server", "--root", str(root)]
        child = subprocess.Popen(
            [*command, *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        children.append(child)
        return child, read_ready_line(child)

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()  # by its own pid, only if a test failed before stopping it
        with child:  # closes the pipes and reaps the process
            child.wait(10)


def read_ready_line(child: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    assert ready, "the server printed nothing"
    return child.stdout.readline()


@pytest.mark.posix  # select() on a pipe, and a signal the child handles
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_module_prints_ready_serves_and_stops_on_signal(
    root: Path, spawn: Callable[..., tuple[subprocess.Popen[str], str]], signum: int
) -> None:
    child, line = spawn("--rate", "20M", "--content-disposition")
    word, url = line.split()
    assert word == "READY" and url.startswith("http://127.0.0.1:")
    assert line == f"READY {url}\n"
    request = urllib.request.Request(f"{url}/notes/README.txt")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == content(root, "notes/README.txt")
        assert response.headers["Content-Disposition"] == 'attachment; filename="README.txt"'
    child.send_signal(signum)
    assert child.wait(10) == 0
    assert child.stdout is not None and child.stdout.read() == ""  # exactly one line


def test_module_rejects_a_bad_rate(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        server_module.main(["--root", str(root), "--rate", "banana"])
    assert exit_info.value.code == 2
    assert "invalid rate 'banana'" in capsys.readouterr().err


# Test data ------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generate_is_deterministic_and_describes_its_files(tmp_path: Path) -> None:
    spec = [("a/b/c.dat", MIB + 7), ("top.raw", 3 * MIB), ("zero", 0), ("tiny", 1)]
    first = generate(tmp_path / "one", spec, seed=3)
    again = generate(tmp_path / "two", spec, seed=3)
    assert first == again
    assert [(f.path, f.size) for f in first] == spec
    for described in first:
        made = tmp_path / "one" / described.path
        assert made.stat().st_size == described.size
        assert sha256_of(made) == described.sha256
        assert made.read_bytes() == (tmp_path / "two" / described.path).read_bytes()
    assert isinstance(first[0], DataFile)


def test_generated_bytes_depend_on_seed_and_path(tmp_path: Path) -> None:
    base = generate(tmp_path / "x", [("f", 2 * MIB)], seed=0)[0]
    other_seed = generate(tmp_path / "y", [("f", 2 * MIB)], seed=1)[0]
    other_path = generate(tmp_path / "z", [("g", 2 * MIB)], seed=0)[0]
    longer = generate(tmp_path / "w", [("f", 3 * MIB)], seed=0)[0]
    assert len({base.sha256, other_seed.sha256, other_path.sha256}) == 3
    data = (tmp_path / "x" / "f").read_bytes()
    assert data[:MIB] != data[MIB:]  # no repeated blocks, so misplaced bytes show
    assert (tmp_path / "w" / "f").read_bytes()[: 2 * MIB] == data
    assert longer.sha256 != base.sha256


@pytest.mark.parametrize("bad", ["../x", "/abs", "a//b", "a/./b", "", "a\\b"])
def test_generate_rejects_paths_leaving_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, [(bad, 1)])
    assert list(tmp_path.iterdir()) == []


def test_demo_dataset_shape() -> None:
    files = demo_files()
    assert 150 * MIB <= sum(size for _, size in files) <= 200 * MIB
    assert {path.split("/")[0] for path, _ in files} >= {"fan", "drone"}
    assert all(not path.startswith("/") and ".." not in path for path, _ in files)
