"""The Drive emulator throttles as Google does: a per-file cap on byte responses sent at once,
or every request refused, with 429, the "automated queries" page and Retry-After; and it
records each file's byte responses over time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import aiohttp
import pytest

from evio_fetch.engine.drive_pages import Throttled, classify, throttle_from
from evio_fetch.engine.loopback.drive_emulator import DriveEmulator
from evio_fetch.engine.loopback.drive_state import generated_bytes
from evio_fetch.engine.loopback.drive_stats import StreamEvent

FILE = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
MIB = 1024 * 1024
# Slow enough that every body is still being sent when the test closes it.
RATE = 256 * 1024


@pytest.fixture
async def drive() -> AsyncIterator[DriveEmulator]:
    async with DriveEmulator(rate_per_connection=RATE) as emulator:
        yield emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client


def bytes_url(drive: DriveEmulator, file_id: str = FILE) -> str:
    return f"{drive.base_url}/usercontent/download?id={file_id}&export=download"


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def assert_throttled(response: aiohttp.ClientResponse) -> None:
    body = await response.read()
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert response.content_type == "text/html"
    assert b"automated queries" in body
    assert classify(429, response.headers, str(response.url), body) == Throttled(429, "1")
    error = throttle_from(429, response.headers, body, label="fan.dat")
    assert error is not None and error.retry_after == 1.0


async def test_byte_responses_beyond_the_cap_are_refused(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, generated_bytes(FILE, 4 * MIB), "fan.dat", max_connections=2)
    async with AsyncExitStack() as open_bodies:
        first, second = [
            await open_bodies.enter_async_context(
                session.get(bytes_url(drive), headers={"Range": f"bytes={start}-"})
            )
            for start in (0, 2 * MIB)
        ]
        assert (first.status, second.status) == (206, 206)
        async with session.get(bytes_url(drive), headers={"Range": f"bytes={MIB}-"}) as third:
            await assert_throttled(third)
        first.close()  # one place frees up: the next request gets it
        await until(lambda: drive.stats.streaming == 1, "the closed body to end")
        async with session.get(bytes_url(drive), headers={"Range": "bytes=0-9"}) as fourth:
            assert fourth.status == 206 and await fourth.read() == generated_bytes(FILE, 10)
    await until(lambda: drive.stats.streaming == 0, "every body to end")
    stats = drive.stats.snapshot()
    assert stats.count("throttled", FILE) == 1
    changes = [(e.change, e.open) for e in stats.stream_log]
    assert changes == [
        ("opened", 1),
        ("opened", 2),
        ("refused", 2),
        ("closed", 1),
        ("opened", 2),
        ("closed", 1),
        ("closed", 0),
    ]
    times = [at for at, _ in stats.streams_over_time(FILE)]
    assert times == sorted(times) and len(times) == 7
    assert max(count for _, count in stats.streams_over_time(FILE)) == 2


async def test_the_cap_holds_for_requests_that_race(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, generated_bytes(FILE, 4 * MIB), "fan.dat", max_connections=3)
    other = "1oThErFiLexxxxxxxxxxxxxxxxxxxxxxx"
    drive.add(other, generated_bytes(other, 4 * MIB), "other.dat", max_connections=3)
    async with AsyncExitStack() as open_bodies:

        async def ask(file_id: str) -> int:
            response = await open_bodies.enter_async_context(
                session.get(bytes_url(drive, file_id), headers={"Range": "bytes=0-"})
            )
            return response.status

        statuses = await asyncio.gather(*(ask(f) for f in [FILE] * 10 + [other] * 2))
    assert sorted(statuses[:10]) == [206] * 3 + [429] * 7
    assert statuses[10:] == [206, 206]  # the cap is per file
    stats = drive.stats.snapshot()
    assert stats.max_streams_by_id == {FILE: 3, other: 2}
    assert sum(e.change == "refused" for e in stats.stream_log) == 7
    assert all(e.open <= 3 for e in stats.stream_log)


async def test_a_throttled_file_is_refused_at_every_step(
    drive: DriveEmulator, session: aiohttp.ClientSession
) -> None:
    drive.add(FILE, generated_bytes(FILE, 5000), "fan.dat", large=True, throttle=True)
    async with session.get(drive.uc_url(FILE)) as hop:
        await assert_throttled(hop)
    async with session.get(bytes_url(drive)) as page:
        await assert_throttled(page)
    stats = drive.stats.snapshot()
    assert stats.requests == {"throttled": 2}
    assert stats.stream_log == ()


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        DriveEmulator().add(FILE, b"x", "x", max_connections=0)


def test_the_log_keeps_its_order_and_forgets_at_reset() -> None:
    stats = DriveEmulator().stats
    assert stats._stream_started(FILE, 1) and not stats._stream_started(FILE, 1)
    stats._stream_finished(FILE)
    log = stats.snapshot().stream_log
    assert [(e.file_id, e.change, e.open) for e in log] == [
        (FILE, "opened", 1),
        (FILE, "refused", 1),
        (FILE, "closed", 0),
    ]
    assert all(isinstance(e, StreamEvent) and e.at >= 0 for e in log)
    stats.reset()
    assert stats.snapshot().stream_log == ()
