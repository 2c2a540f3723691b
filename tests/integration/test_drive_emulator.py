"""The loopback Drive emulator against a real aiohttp client on 127.0.0.1, driven through
``classify`` by a client loop as small as Drive's download flow allows: follow redirects,
classify the answer, submit a confirmation page, keep the cookies."""

from __future__ import annotations

import asyncio
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from multidict import CIMultiDict

import evio_fetch.engine
from evio_fetch.engine.drive import download_url
from evio_fetch.engine.drive_folder import FolderEntry, parse_folder_view
from evio_fetch.engine.drive_pages import (
    Confirm,
    DriveAnswer,
    ErrorStatus,
    FileBytes,
    NotFound,
    Quota,
    SignIn,
    Throttled,
    classify,
)
from evio_fetch.engine.loopback.drive_emulator import (
    DriveEmulator,
    DriveEmulatorThread,
    content_disposition,
    serve_manifest,
    short_size,
)

KIB = 1024
MIB = 1024 * KIB
FILE = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
SMALL = "18gpWinwgyteY3kQ-UVjd8JlIFa0Gi9m8"
KEY = "0-Ye4stR8bq1ZXhTnM3Wc2ug"


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
async def drive() -> AsyncIterator[DriveEmulator]:
    async with DriveEmulator() as emulator:
        yield emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: aiohttp keeps no cookies for IP hosts otherwise.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client


# The client loop -------------------------------------------------------------------------------


@dataclass
class Fetched:
    answer: DriveAnswer
    status: int
    url: str
    headers: CIMultiDict[str]
    body: bytes
    redirects: list[int] = field(default_factory=list)
    pages: int = 0
    """Confirmation pages passed on the way."""


async def get(session: aiohttp.ClientSession, url: str, **headers: str) -> Fetched:
    async with session.get(url, headers=headers) as response:
        body = await response.read()
        answer = classify(response.status, response.headers, str(response.url), body)
        return Fetched(
            answer,
            response.status,
            str(response.url),
            CIMultiDict(response.headers),
            body,
            [hop.status for hop in response.history],
        )


async def resolve(session: aiohttp.ClientSession, url: str, **headers: str) -> Fetched:
    """GET, classify, follow confirmations: what a Drive client does."""
    pages = 0
    for _ in range(4):
        fetched = await get(session, url, **headers)
        if not isinstance(fetched.answer, Confirm):
            fetched.pages = pages
            return fetched
        url = fetched.answer.next_url
        pages += 1
    raise AssertionError(f"still confirming after {pages} pages")


async def confirmed_url(session: aiohttp.ClientSession, drive: DriveEmulator, file_id: str) -> str:
    """The confirmed URL of a large file, learnt with a one-byte ranged probe."""
    probe = await resolve(session, drive.uc_url(file_id), Range="bytes=0-0")
    assert isinstance(probe.answer, FileBytes) and probe.status == 206, probe.answer
    assert probe.pages == 1
    return probe.url


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# Small and large files --------------------------------------------------------------------------


async def test_small_file_is_one_redirect_away(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(100 * KIB)
    drive.add(SMALL, data, "drone idle ü.dat")
    # The URL the engine builds from EVIO_FETCH_DRIVE_URL.
    fetched = await resolve(session, download_url(drive.base_url, SMALL))
    assert fetched.answer == FileBytes() and fetched.body == data
    assert fetched.redirects == [303]
    assert fetched.url == f"{drive.base_url}/usercontent/download?id={SMALL}&export=download"
    assert fetched.headers["Content-Disposition"] == (
        "attachment;filename=\"drone idle _.dat\";filename*=UTF-8''drone%20idle%20%C3%BC.dat"
    )
    assert fetched.headers["Content-Length"] == str(len(data))
    assert fetched.headers["Last-Modified"].endswith(" GMT")
    assert "ETag" not in fetched.headers and "Accept-Ranges" not in fetched.headers
    stats = drive.stats.snapshot()
    assert stats.requests == {"uc": 1, "bytes": 1}
    assert stats.requests_by_id == {SMALL: {"uc": 1, "bytes": 1}}


async def test_large_file_goes_through_the_warning_form(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(3 * MIB + 17)
    drive.add(FILE, data, "fan_const_rpm.dat", large=True)
    fetched = await resolve(session, drive.uc_url(FILE))
    assert fetched.answer == FileBytes() and fetched.body == data
    assert fetched.pages == 1
    query = query_of(fetched.url)
    assert list(query) == ["id", "export", "confirm", "uuid"]
    assert (query["id"], query["export"], query["confirm"]) == (FILE, "download", "t")
    assert drive.stats.snapshot().requests == {"uc": 1, "confirm_page": 1, "bytes": 1}


async def test_warning_page_looks_like_drives(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, payload(126 * MIB // 1000), 'a <b> & "c".tar', large=True)
    first = await get(session, drive.uc_url(FILE))
    second = await get(session, drive.uc_url(FILE))
    assert first.status == 200
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Disposition" not in first.headers
    text = first.body.decode()
    assert "<title>Google Drive - Virus scan warning</title>" in text
    assert f'action="{drive.base_url}/usercontent/download" method="get"' in text
    assert "a &lt;b&gt; &amp; &quot;c&quot;.tar</a> (129K)" in text
    # A fresh uuid on every page.
    assert isinstance(first.answer, Confirm) and isinstance(second.answer, Confirm)
    assert query_of(first.answer.next_url)["uuid"] != query_of(second.answer.next_url)["uuid"]


def test_short_sizes_and_names() -> None:
    assert [short_size(n) for n in (900, 5000, 37 * MIB, 126 * MIB, 1395864371, 55 * 1024**3)] == [
        "900",
        "4.9K",
        "37M",
        "126M",
        "1.3G",
        "55G",
    ]
    assert content_disposition('a"b\\c.tar') == (
        'attachment;filename="a\\"b\\\\c.tar";filename*=UTF-8\'\'a%22b%5Cc.tar'
    )


async def test_unknown_or_foreign_uuid_gets_the_warning_again(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, payload(1000), "a.bin", large=True)
    drive.add(SMALL, payload(1000, 2), "b.bin", large=True)
    confirmed = await confirmed_url(session, drive, FILE)
    made_up = confirmed.replace(query_of(confirmed)["uuid"], "00000000-0000-0000-0000-000000000000")
    assert isinstance((await get(session, made_up)).answer, Confirm)
    # A uuid is for its own file only.
    other = confirmed.replace(FILE, SMALL)
    assert isinstance((await get(session, other)).answer, Confirm)
    # And confirm=t alone is not enough.
    bare = f"{drive.base_url}/usercontent/download?id={FILE}&export=download&confirm=t"
    assert isinstance((await get(session, bare)).answer, Confirm)


async def test_browser_inputs_must_all_come_back(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(5000)
    drive.add(FILE, data, "a.bin", large=True)
    drive.browser_inputs = True
    page = await get(session, drive.uc_url(FILE))
    assert isinstance(page.answer, Confirm)
    query = query_of(page.answer.next_url)
    assert list(query) == ["id", "export", "authuser", "confirm", "uuid", "at"]
    assert (await get(session, page.answer.next_url)).body == data
    without_at = page.answer.next_url.split("&at=")[0]
    assert isinstance((await get(session, without_at)).answer, Confirm)


# Ranges and segments ------------------------------------------------------------------------------


async def test_segments_on_the_confirmed_url_over_four_connections(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(4 * MIB)
    drive.add(FILE, data, "fan.raw", large=True)
    confirmed = await confirmed_url(session, drive, FILE)
    probe = await get(session, confirmed, Range="bytes=0-0")
    assert probe.headers["Content-Range"] == f"bytes 0-0/{len(data)}"
    # Each 1 MiB segment needs about 0.45 s at the cap, far longer than opening all four.
    drive.rate_per_connection = 2 * MIB
    drive.stats.reset()
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        responses = []
        for start in range(0, len(data), MIB):
            headers = {"Range": f"bytes={start}-{start + MIB - 1}"}
            responses.append(
                await stack.enter_async_context(session.get(confirmed, headers=headers))
            )
        assert drive.stats.snapshot().max_streams_by_id == {FILE: 4}
        parts = []
        for start, response in zip(range(0, len(data), MIB), responses, strict=True):
            assert response.status == 206
            assert (
                response.headers["Content-Range"] == f"bytes {start}-{start + MIB - 1}/{len(data)}"
            )
            assert response.headers["Content-Length"] == str(MIB)
            parts.append(await response.read())
    elapsed = time.monotonic() - started
    assert b"".join(parts) == data
    stats = drive.stats.snapshot()
    assert stats.requests == {"ranged_bytes": 4}
    assert stats.connections == 4
    # Capped: no faster than one segment at the cap (that the cap is each connection's own
    # is the next test's).
    assert elapsed > 0.35


async def test_each_connection_has_a_cap_of_its_own(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(MIB)
    drive.add(FILE, data, "fan.raw", large=True)
    confirmed = await confirmed_url(session, drive, FILE)
    # At 512 bytes/s a 16 KiB piece takes 32 s to earn, and a cap lets its first piece go at
    # once: four connections each get one now only if none shares another's cap.
    drive.rate_per_connection = 512
    drive.stats.reset()
    piece = 16 * KIB
    async with AsyncExitStack() as stack:
        for start in range(0, 8 * piece, 2 * piece):
            headers = {"Range": f"bytes={start}-{start + 2 * piece - 1}"}
            response = await stack.enter_async_context(session.get(confirmed, headers=headers))
            assert response.status == 206
            async with asyncio.timeout(20):
                assert await response.content.readexactly(piece) == data[start : start + piece]
        stats = drive.stats.snapshot()
    assert stats.connections == 4
    assert stats.bytes_sent == 4 * piece  # and not a byte more: each is capped


async def test_range_edge_cases(drive: DriveEmulator, session: aiohttp.ClientSession) -> None:
    data = payload(1000)
    drive.add(SMALL, data, "a.bin")
    url = (await resolve(session, drive.uc_url(SMALL))).url
    suffix = await get(session, url, Range="bytes=-10")
    assert (suffix.status, suffix.body) == (206, data[-10:])
    past = await get(session, url, Range="bytes=1000-")
    assert (past.status, past.headers["Content-Range"]) == (416, "bytes */1000")
    assert (await get(session, url, Range="bytes=0-1,5-6")).status == 200
    last_modified = suffix.headers["Last-Modified"]
    held = await get(session, url, Range="bytes=0-9", **{"If-Range": last_modified})
    assert held.status == 206
    stale = await get(session, url, Range="bytes=0-9", **{"If-Range": '"etag"'})
    assert (stale.status, stale.body) == (200, data)


async def test_full_answers_can_come_without_content_length(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(300 * KIB)
    drive.add(FILE, data, "a.bin", large=True)
    drive.omit_content_length = True
    confirmed = await confirmed_url(session, drive, FILE)
    whole = await get(session, confirmed)
    assert whole.body == data
    assert "Content-Length" not in whole.headers
    assert whole.headers["Transfer-Encoding"] == "chunked"
    ranged = await get(session, confirmed, Range="bytes=10-19")
    assert ranged.headers["Content-Length"] == "10"


# Drive dropping the confirmed URL -----------------------------------------------------------------


async def test_expire_confirmed_makes_issued_urls_forbidden(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(200 * KIB)
    drive.add(FILE, data, "a.bin", large=True)
    confirmed = await confirmed_url(session, drive, FILE)
    drive.expire_confirmed()
    refused = await get(session, confirmed, Range="bytes=0-9")
    assert refused.answer == ErrorStatus(403)
    assert drive.stats.count("expired", FILE) == 1
    # Resolving again gives a URL that works.
    again = await confirmed_url(session, drive, FILE)
    assert again != confirmed
    assert (await get(session, again)).body == data


async def test_expiry_mid_body_cuts_the_transfer_and_resumes_after_re_resolving(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(2 * MIB)
    drive.add(FILE, data, "a.bin", large=True)
    confirmed = await confirmed_url(session, drive, FILE)
    drive.expire_after(MIB)
    received = bytearray()
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.get(confirmed) as response:
            async for chunk in response.content.iter_any():
                received += chunk
    assert 0 < len(received) < len(data)
    assert received == data[: len(received)]
    assert (await get(session, confirmed)).answer == ErrorStatus(403)
    fresh = await confirmed_url(session, drive, FILE)
    rest = await get(session, fresh, Range=f"bytes={len(received)}-")
    assert rest.status == 206 and bytes(received) + rest.body == data


# Refusals -----------------------------------------------------------------------------------------


async def test_quota_page(drive: DriveEmulator, session: aiohttp.ClientSession) -> None:
    drive.add(FILE, payload(1000), "a.bin", quota=True)
    fetched = await resolve(session, drive.uc_url(FILE))
    assert isinstance(fetched.answer, Quota)
    assert fetched.answer.message.startswith("Too many users have viewed or downloaded")
    assert fetched.status == 200
    assert b"<title>Google Drive - Quota exceeded</title>" in fetched.body
    assert drive.stats.snapshot().requests == {"uc": 1, "quota": 1}


async def test_quota_after_the_form(drive: DriveEmulator, session: aiohttp.ClientSession) -> None:
    drive.add(FILE, payload(1000), "a.bin", large=True)
    page = await get(session, drive.uc_url(FILE))
    assert isinstance(page.answer, Confirm)
    drive.add(FILE, payload(1000), "a.bin", large=True, quota=True)
    assert isinstance((await get(session, page.answer.next_url)).answer, Quota)


async def test_private_file_ends_at_sign_in(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, payload(1000), "a.bin", private=True)
    fetched = await resolve(session, drive.uc_url(FILE))
    assert fetched.answer == SignIn()
    assert fetched.redirects == [303, 302]
    assert urlsplit(fetched.url).path == "/accounts/ServiceLogin"
    query = query_of(fetched.url)
    assert query["service"] == "wise"
    assert query["continue"] == f"{drive.base_url}/usercontent/download?id={FILE}&export=download"
    assert b"Sign in - Google Accounts" in fetched.body
    assert drive.stats.snapshot().requests == {"uc": 1, "signin_redirect": 1, "signin_page": 1}


async def test_resource_key_is_required(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(1000)
    drive.add(FILE, data, "a.bin", resource_key=KEY)
    assert (await resolve(session, drive.uc_url(FILE))).answer == SignIn()
    assert (await resolve(session, drive.uc_url(FILE, "0-wrong"))).answer == SignIn()
    by_query = await resolve(session, drive.uc_url(FILE, KEY))
    assert by_query.body == data
    assert query_of(by_query.url)["resourcekey"] == KEY  # carried over the 303
    header = {"X-Goog-Drive-Resource-Keys": f"other/x,{FILE}/{KEY}"}
    assert (await resolve(session, drive.uc_url(FILE), **header)).body == data


async def test_resource_key_with_the_warning_form(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(5000)
    drive.add(FILE, data, "a.bin", large=True, resource_key=KEY)
    assert (await resolve(session, drive.uc_url(FILE))).answer == SignIn()
    fetched = await resolve(session, drive.uc_url(FILE, KEY))
    assert (fetched.pages, fetched.body) == (1, data)


async def test_unknown_id_is_not_found(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    fetched = await resolve(session, drive.uc_url("1nOsUcHfIlExxxxxxxxxxxxxxxxxxxxxx"))
    assert fetched.answer == NotFound()
    assert fetched.status == 404
    direct = f"{drive.base_url}/usercontent/download?id=nope&export=download"
    assert (await get(session, direct)).answer == NotFound()
    assert (await get(session, f"{drive.base_url}/elsewhere")).status == 404
    assert drive.stats.snapshot().requests == {"not_found": 3}


async def test_only_get_is_served(drive: DriveEmulator, session: aiohttp.ClientSession) -> None:
    drive.add(FILE, payload(10), "a.bin")
    async with session.head(drive.uc_url(FILE)) as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET")


# Injected failures --------------------------------------------------------------------------------


async def test_fail_next_answers_errors_then_recovers(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(1000)
    drive.add(FILE, data, "a.bin", large=True)
    drive.fail_next(2, 503, retry_after=7)
    for _ in range(2):
        failed = await get(session, drive.uc_url(FILE))
        assert failed.answer == ErrorStatus(503)
        assert failed.headers["Retry-After"] == "7"
    assert (await resolve(session, drive.uc_url(FILE))).body == data
    assert drive.stats.count("injected") == 2


async def test_fail_next_only_where_asked(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    data = payload(1000)
    drive.add(FILE, data, "a.bin", large=True)
    drive.fail_next(1, 429, at="bytes")
    # The hop and the page pass; the bytes are refused once.
    fetched = await resolve(session, drive.uc_url(FILE))
    assert (fetched.answer, fetched.pages) == (Throttled(429), 1)
    assert (await get(session, fetched.url)).body == data
    drive.fail_next(1, 500, at="uc")
    assert (await get(session, drive.uc_url(FILE))).answer == ErrorStatus(500)
    assert (await get(session, fetched.url)).body == data


# Folders ---------------------------------------------------------------------------------------


async def test_folder_view_round_trips_through_the_parser(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, payload(10), "fan & friends.dat")
    drive.add(SMALL, payload(10), "keyed.raw", resource_key=KEY)
    drive.add_document("1dOcUmEnTxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "Notes")
    drive.add_folder("1sUbFoLdErxxxxxxxxxxxxxxxxxxxxxxx", "drone", [])
    children = [
        "1sUbFoLdErxxxxxxxxxxxxxxxxxxxxxxx",
        FILE,
        SMALL,
        "1dOcUmEnTxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "1nOtReGiStErEdxxxxxxxxxxxxxxxxxxx",
    ]
    drive.add_folder("1rOoTxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "evio <data>", children)
    fetched = await get(session, drive.folder_url("1rOoTxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
    listing = parse_folder_view(fetched.body)
    assert listing is not None and listing.name == "evio <data>"
    assert [(e.id, e.name, e.kind, e.resource_key) for e in listing.entries] == [
        ("1sUbFoLdErxxxxxxxxxxxxxxxxxxxxxxx", "drone", "folder", None),
        (FILE, "fan & friends.dat", "file", None),
        (SMALL, "keyed.raw", "file", KEY),
        ("1dOcUmEnTxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "Notes", "document", None),
    ]
    assert listing.entries[1] == FolderEntry(
        FILE,
        "fan & friends.dat",
        "file",
        f"https://drive.google.com/file/d/{FILE}/view?usp=drive_web",
        mime="application/octet-stream",
        modified="Jan 5",
    )
    empty = await get(session, drive.folder_url("1sUbFoLdErxxxxxxxxxxxxxxxxxxxxxxx"))
    assert parse_folder_view(empty.body) == listing.__class__("drone", [])
    assert drive.stats.count("folder") == 2


async def test_private_and_unknown_folders(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add_folder("1pRiVaTexxxxxxxxxxxxxxxxxxxxxxxxx", "secret", [], private=True)
    private = await get(session, drive.folder_url("1pRiVaTexxxxxxxxxxxxxxxxxxxxxxxxx"))
    assert private.answer == SignIn() and parse_folder_view(private.body) is None
    unknown = await get(session, drive.folder_url("1nOpExxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
    assert unknown.status == 404


# Where it listens, and how to run it ----------------------------------------------------------


async def test_base_url_with_a_path_prefix(session: aiohttp.ClientSession) -> None:
    async with DriveEmulator(prefix="/drive") as drive:
        assert drive.base_url.startswith("http://127.0.0.1:") and drive.base_url.endswith("/drive")
        data = payload(5000)
        drive.add(FILE, data, "a.bin", large=True)
        fetched = await resolve(session, download_url(drive.base_url, FILE))
        assert fetched.body == data
        assert fetched.url.startswith(f"{drive.base_url}/usercontent/download?")
        assert (
            await get(session, drive.base_url.removesuffix("/drive") + "/uc?id=x")
        ).status == 404


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        DriveEmulator(prefix="drive")
    with pytest.raises(ValueError):
        DriveEmulator(prefix="/drive/")
    with pytest.raises(ValueError):
        DriveEmulator(chunk_size=0)
    with pytest.raises(RuntimeError):
        _ = DriveEmulator().base_url


def test_thread_wrapper_serves_synchronous_code(tmp_path: Path) -> None:
    data = payload(70 * KIB)
    (tmp_path / "a.dat").write_bytes(data)
    with DriveEmulatorThread() as drive:
        drive.add(SMALL, tmp_path / "a.dat", "a.dat")  # served from the file
        with urllib.request.urlopen(download_url(drive.base_url, SMALL), timeout=10) as response:
            assert response.read() == data
        drive.fail_next(1, 503)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(download_url(drive.base_url, SMALL), timeout=10)
        assert refused.value.code == 503
        refused.value.close()
        assert drive.stats.snapshot().requests == {"uc": 1, "bytes": 1, "injected": 1}
        with pytest.raises(RuntimeError):
            drive.start()
    drive.stop()  # a second stop is harmless


def test_serve_manifest_registers_entries(tmp_path: Path) -> None:
    (tmp_path / "fan").mkdir()
    (tmp_path / "fan" / "big.dat").write_bytes(payload(3000))
    (tmp_path / "small.raw").write_bytes(payload(10))
    manifest = tmp_path / "datasets.json"
    entries = [
        {"id": FILE, "path": "fan/big.dat"},
        {"id": SMALL, "path": "small.raw", "name": "renamed.raw"},
        {"url": "https://example.org/x", "path": "x"},
    ]
    manifest.write_text(json.dumps({"version": "1.0", "datasets": entries}))
    emulator = DriveEmulator()
    assert serve_manifest(emulator, manifest, tmp_path, large_above=1000) == [FILE, SMALL]


@pytest.fixture
def child_processes() -> Iterator[list[subprocess.Popen[str]]]:
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        if child.poll() is None:
            child.kill()  # by its own pid, only if the test failed before stopping it
        with child:
            child.wait(10)


@pytest.mark.posix  # select() on a pipe, and a signal the child handles
def test_module_serves_a_manifest_until_signalled(
    tmp_path: Path, child_processes: list[subprocess.Popen[str]]
) -> None:
    data = payload(5000)
    (tmp_path / "big.dat").write_bytes(data)
    manifest = tmp_path / "datasets.json"
    manifest.write_text(json.dumps({"datasets": [{"id": FILE, "path": "big.dat"}]}))
    env = dict(os.environ)
    # The folder holding evio_fetch/, so the child imports the same code as this test.
    parent = str(Path(evio_fetch.engine.__file__).parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [parent, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "evio_fetch.engine.loopback.drive_emulator"]
    flags = ["--manifest", str(manifest), "--root", str(tmp_path), "--large-above", "1000"]
    child = subprocess.Popen(
        [*command, *flags, "--prefix", "/drive"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    child_processes.append(child)
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 20)
    assert ready, "the emulator printed nothing"
    word, base_url = child.stdout.readline().split()
    assert word == "READY" and base_url.endswith("/drive")
    with urllib.request.urlopen(download_url(base_url, FILE), timeout=10) as response:
        page = response.read()
    assert b"Virus scan warning" in page  # above --large-above: the form first
    child.send_signal(signal.SIGTERM)
    assert child.wait(10) == 0
