"""The parent's hashing of files as they grow: on a few pooled threads, one task per file at a
time, every file closed again whether it finishes, fails or is cancelled."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB

from evio_fetch.engine.verify import HashPool, PrefixHasher


@pytest.fixture
def pool() -> Iterator[HashPool]:
    hashes = HashPool(threads=2)
    yield hashes
    hashes.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def hasher_with_wake(pool: HashPool, path: Path) -> tuple[PrefixHasher, threading.Event]:
    woken = threading.Event()
    return pool.hasher(str(path), woken.set), woken


def test_digest_of_a_file_hashed_as_it_grows(pool: HashPool, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 123)
    path = tmp_path / "part"
    path.write_bytes(b"")
    hasher, woken = hasher_with_wake(pool, path)
    with path.open("r+b") as handle:
        for start in range(0, len(data), MIB):
            handle.write(data[start : start + MIB])
            handle.flush()
            hasher.advance(min(start + MIB, len(data)))
    hasher.finish(len(data))
    assert woken.wait(10)
    assert hasher.digest == hashlib.sha256(data).hexdigest()
    assert hasher.error is None


def test_many_files_share_the_pool(pool: HashPool, tmp_path: Path) -> None:
    expected, hashers = [], []
    # The threads that reported a digest, kept alive here so none can be mistaken for another.
    hashing_threads: set[threading.Thread] = set()
    before = open_fds()
    for n in range(50):
        data = os.urandom(1000 + n)
        path = tmp_path / f"f{n}"
        path.write_bytes(data)
        woken = threading.Event()

        def wake(woken: threading.Event = woken) -> None:
            hashing_threads.add(threading.current_thread())
            woken.set()

        hasher = pool.hasher(str(path), wake)
        hasher.finish(len(data))
        expected.append(hashlib.sha256(data).hexdigest())
        hashers.append((hasher, woken))
    for _, woken in hashers:
        assert woken.wait(10)
    assert [h.digest for h, _ in hashers] == expected
    assert len(hashing_threads) <= 2  # the pool's two, not one per file
    assert open_fds() == before


def test_empty_file(pool: HashPool, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    hasher, woken = hasher_with_wake(pool, tmp_path / "empty")
    hasher.finish(0)
    assert woken.wait(10)
    assert hasher.digest == hashlib.sha256(b"").hexdigest()


def test_a_file_shorter_than_promised_is_an_error(pool: HashPool, tmp_path: Path) -> None:
    (tmp_path / "short").write_bytes(b"x" * 10)
    hasher, woken = hasher_with_wake(pool, tmp_path / "short")
    before = open_fds()
    hasher.finish(20)
    assert woken.wait(10)
    assert hasher.digest is None
    assert hasher.error is not None and "ended at byte 10" in hasher.error
    assert open_fds() <= before


def test_a_missing_file_is_an_error(pool: HashPool, tmp_path: Path) -> None:
    hasher, woken = hasher_with_wake(pool, tmp_path / "gone")
    hasher.finish(5)
    assert woken.wait(10)
    assert hasher.error is not None and "cannot read" in hasher.error


def test_cancel_closes_the_file_and_ends_hashing(tmp_path: Path) -> None:
    path = tmp_path / "part"
    path.write_bytes(os.urandom(8 * MIB))
    (tmp_path / "empty").write_bytes(b"")
    before = open_fds()
    one_thread = HashPool(threads=1)
    try:
        hasher, woken = hasher_with_wake(one_thread, path)
        hasher.advance(8 * MIB)
        hasher.cancel()
        hasher.finish(8 * MIB)  # nothing after a cancel is hashed or reported
        # One thread runs tasks in order: once a later file is done, the cancelled one is.
        marker, marked = hasher_with_wake(one_thread, tmp_path / "empty")
        marker.finish(0)
        assert marked.wait(10)
    finally:
        one_thread.close()
    assert not woken.is_set()
    assert hasher.digest is None and hasher.error is None
    assert open_fds() == before
