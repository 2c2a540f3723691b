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

from evio_fetch.engine.checksums import ALGORITHMS, Algorithm
from evio_fetch.engine.verify import HashPool, PrefixHasher, file_digests


@pytest.fixture
def pool() -> Iterator[HashPool]:
    hashes = HashPool(threads=2)
    yield hashes
    hashes.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def hasher_with_wake(
    pool: HashPool, path: Path, algorithms: tuple[Algorithm, ...] = ("sha256",)
) -> tuple[PrefixHasher, threading.Event]:
    woken = threading.Event()
    return pool.hasher(str(path), woken.set, algorithms), woken


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
    assert hasher.digests == {"sha256": hashlib.sha256(data).hexdigest()}
    assert hasher.error is None


def bytes_read() -> int:
    """Bytes this process has read from files and sockets so far, all threads counted."""
    text = Path("/proc/self/io").read_text()
    return int(next(line for line in text.splitlines() if line.startswith("rchar:")).split()[1])


def reference(data: bytes, algorithms: tuple[Algorithm, ...]) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for name in algorithms}


@pytest.mark.parametrize("other", [a for a in ALGORITHMS if a != "sha256"])
def test_two_digests_of_a_prefix_fed_in_pieces(
    pool: HashPool, tmp_path: Path, other: Algorithm
) -> None:
    data = os.urandom(3 * MIB + 123)
    path = tmp_path / "part"
    path.write_bytes(b"")
    hasher, woken = hasher_with_wake(pool, path, ("sha256", other))
    with path.open("r+b") as handle:
        # Pieces that end anywhere, not on block boundaries.
        for start in range(0, len(data), 700_001):
            handle.write(data[start : start + 700_001])
            handle.flush()
            hasher.advance(min(start + 700_001, len(data)))
    hasher.finish(len(data))
    assert woken.wait(10)
    assert hasher.digests == reference(data, ("sha256", other))


def test_two_digests_read_each_byte_once(pool: HashPool, tmp_path: Path) -> None:
    data = os.urandom(8 * MIB)
    path = tmp_path / "part"
    path.write_bytes(data)
    before = bytes_read()
    hasher, woken = hasher_with_wake(pool, path, ("sha256", "md5"))
    for upto in range(MIB // 2, len(data), MIB):
        hasher.advance(upto)
    hasher.finish(len(data))
    assert woken.wait(10)
    assert hasher.digests == reference(data, ("sha256", "md5"))
    assert len(data) <= bytes_read() - before < 1.5 * len(data)


def test_the_prefix_is_hashed_before_the_file_is_finished(tmp_path: Path) -> None:
    """Both digests follow the prefix as it is announced, not only once the file is whole:
    bytes changed on disk after their prefix was hashed do not count."""
    first, rest = os.urandom(2 * MIB), os.urandom(MIB + 5)
    path = tmp_path / "part"
    path.write_bytes(first)
    (tmp_path / "empty").write_bytes(b"")
    one_thread = HashPool(threads=1)
    try:
        hasher, woken = hasher_with_wake(one_thread, path, ("sha256", "blake2b"))
        hasher.advance(len(first))
        # One thread runs tasks in order: once a later file is done, the prefix is hashed.
        marker, marked = hasher_with_wake(one_thread, tmp_path / "empty")
        marker.finish(0)
        assert marked.wait(10)
        path.write_bytes(bytes(len(first)) + rest)
        hasher.finish(len(first) + len(rest))
        assert woken.wait(10)
    finally:
        one_thread.close()
    assert hasher.digests == reference(first + rest, ("sha256", "blake2b"))


@pytest.mark.parametrize("algorithms", [("sha256",), ("md5",), ("sha1", "sha512", "blake2b")])
def test_file_digests_reads_the_file_once(tmp_path: Path, algorithms: tuple[Algorithm]) -> None:
    data = os.urandom(4 * MIB + 3)
    path = tmp_path / "f"
    path.write_bytes(data)
    before = bytes_read()
    assert file_digests(path, algorithms) == reference(data, algorithms)
    assert len(data) <= bytes_read() - before < 1.5 * len(data)


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
        expected.append({"sha256": hashlib.sha256(data).hexdigest()})
        hashers.append((hasher, woken))
    for _, woken in hashers:
        assert woken.wait(10)
    assert [h.digests for h, _ in hashers] == expected
    assert len(hashing_threads) <= 2  # the pool's two, not one per file
    assert open_fds() == before


def test_empty_file(pool: HashPool, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    hasher, woken = hasher_with_wake(pool, tmp_path / "empty")
    hasher.finish(0)
    assert woken.wait(10)
    assert hasher.digests == {"sha256": hashlib.sha256(b"").hexdigest()}


def test_a_file_shorter_than_promised_is_an_error(pool: HashPool, tmp_path: Path) -> None:
    (tmp_path / "short").write_bytes(b"x" * 10)
    hasher, woken = hasher_with_wake(pool, tmp_path / "short")
    before = open_fds()
    hasher.finish(20)
    assert woken.wait(10)
    assert hasher.digests is None
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
    assert hasher.digests is None and hasher.error is None
    assert open_fds() == before


@pytest.mark.parametrize("planted", ["other-file", "symlink"])
def test_only_the_file_being_written_is_hashed(
    pool: HashPool, tmp_path: Path, planted: str
) -> None:
    """The part's path names another file by the time the hasher opens it (a file put in
    its place, or a symlink to one): it is not hashed, and the check fails."""
    written = tmp_path / "written"
    written.write_bytes(b"x" * 100)
    info = written.stat()
    path = tmp_path / "part"
    if planted == "symlink":
        path.symlink_to(written)
    else:
        path.write_bytes(b"x" * 100)
    woken = threading.Event()
    hasher = pool.hasher(str(path), woken.set, ("sha256",), (info.st_dev, info.st_ino))
    hasher.finish(100)
    assert woken.wait(10)
    assert hasher.digests is None
    assert hasher.error is not None and str(path) in hasher.error
