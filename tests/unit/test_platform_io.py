"""Every way of reserving, writing, flushing, opening and moving a partial file, run here
whatever system this is: each fallback is selected by building the ``PlatformIO`` it
stands for, on real files."""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
import threading
from pathlib import Path

import pytest

from evio_fetch.engine import state as state_file
from evio_fetch.engine.errors import BusyError, UnsafePathError
from evio_fetch.engine.platform_io import (
    F_ALLOCATEALL,
    F_ALLOCATECONTIG,
    F_FULLFSYNC,
    F_PEOFPOSMODE,
    FSTORE,
    PLATFORM,
    PlatformIO,
    allocated,
    detect,
    fstore,
)
from evio_fetch.engine.safe_paths import open_regular
from evio_fetch.engine.state import SegmentState, State
from evio_fetch.engine.storage import PartFile

MIB = 1024 * 1024

# What each system lacks, as this one would look without it.
MACOS = dataclasses.replace(
    PLATFORM, reserve="preallocate", flush="fsync", full_flush=F_FULLFSYNC, flush_many="each"
)
WINDOWS_LIKE = dataclasses.replace(
    PLATFORM,
    reserve="extend",
    flush="fsync",
    positional=False,
    no_follow=0,
    hold_directories=False,
    non_block=0,
    sync_directories=False,
    rename_open=False,
    flush_many="each",
)
NO_NOFOLLOW = dataclasses.replace(PLATFORM, no_follow=0, hold_directories=False)
VARIANTS = {"native": PLATFORM, "macos": MACOS, "windows-like": WINDOWS_LIKE}


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def platform(request: pytest.FixtureRequest) -> PlatformIO:
    chosen: PlatformIO = VARIANTS[request.param]
    return chosen


def test_detect_chooses_from_what_os_offers() -> None:
    found = detect()
    assert found == PLATFORM
    assert (found.reserve == "fallocate") == hasattr(os, "posix_fallocate")
    assert (found.flush == "fdatasync") == hasattr(os, "fdatasync")
    assert found.positional == hasattr(os, "pwrite")
    assert found.no_follow == getattr(os, "O_NOFOLLOW", 0)
    assert (found.full_flush is not None) == (sys.platform == "darwin")
    assert (found.lock == "lockfile") == (sys.platform == "win32")
    assert found.rename_open == found.sync_directories == (sys.platform != "win32")


def test_batches_are_flushed_by_syncfs_only_where_os_has_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = "syncfs" if sys.platform.startswith("linux") and hasattr(os, "sync") else "each"
    assert detect().flush_many == expected
    monkeypatch.delattr(os, "sync", raising=False)
    assert detect().flush_many == "each"


@pytest.mark.parametrize("kind", ["syncfs", "each"])
def test_a_batch_is_flushed_whichever_way_is_chosen(tmp_path: Path, kind: str) -> None:
    chosen = dataclasses.replace(PLATFORM, flush_many=kind)
    paths = [tmp_path / f"{n}.bin" for n in range(3)]
    fds = [os.open(path, os.O_RDWR | os.O_CREAT) for path in paths]
    try:
        for fd in fds:
            os.write(fd, b"data")
        os.rename(paths[0], tmp_path / "moved.bin")
        chosen.flush_batch(fds[1:], [tmp_path])
    finally:
        for fd in fds:
            os.close(fd)
    assert (tmp_path / "moved.bin").read_bytes() == b"data"


def test_fstore_is_laid_out_as_macos_expects() -> None:
    """fst_flags (unsigned int), fst_posmode (int), then three off_t: 32 bytes, no padding."""
    packed = fstore(F_ALLOCATECONTIG | F_ALLOCATEALL, 5 * MIB)
    assert FSTORE.size == len(packed) == 32
    assert struct.unpack("=IiqqQ", packed) == (6, F_PEOFPOSMODE, 0, 5 * MIB, 0)


def test_allocated_falls_back_to_the_size_without_st_blocks() -> None:
    """Windows' stat has no st_blocks: a file is taken to occupy its size."""
    bare = os.stat_result((0o100644, 0, 0, 1, 0, 0, 12345, 0, 0, 0))
    assert allocated(bare) == 12345


def test_a_part_file_is_reserved_written_flushed_and_moved(
    tmp_path: Path, platform: PlatformIO
) -> None:
    part = PartFile(tmp_path / "sub" / "t.bin.evio-part", tmp_path, platform)
    part.preallocate(3 * MIB)
    assert part.size() == 3 * MIB
    part.write_at(b"tail", 3 * MIB - 4)
    part.write_at(b"head", 0)
    part.sync()
    assert part.read_at(4, 0) == b"head"
    assert part.read_at(8, 3 * MIB - 4) == b"tail"
    target = tmp_path / "sub" / "t.bin"
    part.move_into_place(target)
    assert part.fd == -1
    part.close()
    data = target.read_bytes()
    assert (len(data), data[:4], data[-4:]) == (3 * MIB, b"head", b"tail")
    assert not (tmp_path / "sub" / "t.bin.evio-part").exists()


def test_read_into_fills_the_buffer_and_is_short_at_the_end(
    tmp_path: Path, platform: PlatformIO
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    buffer = memoryview(bytearray(b"x" * 8))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert platform.read_into(fd, buffer[:4], 3) == 4
        assert bytes(buffer) == b"3456xxxx"
        assert platform.read_into(fd, buffer, 6) == 4
        assert bytes(buffer[:4]) == b"6789"
        assert platform.read_into(fd, buffer, 10) == 0
    finally:
        os.close(fd)


def test_a_discarded_part_file_is_gone(tmp_path: Path, platform: PlatformIO) -> None:
    part = PartFile(tmp_path / "t.bin.evio-part", tmp_path, platform)
    part.preallocate(MIB)
    part.discard()
    assert part.fd == -1
    assert not (tmp_path / "t.bin.evio-part").exists()


def test_a_reservation_never_shortens_a_longer_file(tmp_path: Path, platform: PlatformIO) -> None:
    part = PartFile(tmp_path / "t.bin.evio-part", tmp_path, platform)
    try:
        part.truncate(2 * MIB)
        part.preallocate(MIB)
        assert part.size() == 2 * MIB
    finally:
        part.close()


def test_a_second_part_file_on_the_same_path_is_busy(tmp_path: Path) -> None:
    """flock, or on Windows a byte-range lock: another descriptor is refused either way."""
    first = PartFile(tmp_path / "t.bin.evio-part", tmp_path)
    try:
        with pytest.raises(BusyError, match="another evio-fetch process"):
            PartFile(tmp_path / "t.bin.evio-part", tmp_path)
    finally:
        first.close()
    PartFile(tmp_path / "t.bin.evio-part", tmp_path).close()  # free once the first is closed


def test_a_state_is_saved_durably_and_read_back(tmp_path: Path, platform: PlatformIO) -> None:
    saved = State(
        label="t",
        target=str(tmp_path / "t.bin"),
        size=MIB,
        block_size=MIB,
        segments=[SegmentState(0, MIB, MIB // 2)],
    )
    path = tmp_path / "t.bin.evio-state"
    state_file.save(path, saved, platform)
    state_file.save(path, saved, platform)  # over the last one, as every second
    assert state_file.load(path) == saved
    assert not (tmp_path / "t.bin.evio-state.tmp").exists()


def test_writes_from_many_threads_land_at_their_offsets(tmp_path: Path) -> None:
    """Without pwrite a seek and a write are two calls: another thread's must never come
    between them."""
    part = PartFile(tmp_path / "t.bin.evio-part", tmp_path, WINDOWS_LIKE)
    pieces = 64
    size = 64 * 1024

    def write(index: int) -> None:
        for _ in range(20):
            part.write_at(bytes([index]) * size, index * size)

    part.preallocate(pieces * size)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(pieces)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    part.sync()
    try:
        for index in range(pieces):
            assert part.read_at(size, index * size) == bytes([index]) * size, index
    finally:
        part.close()


# Opening without O_NOFOLLOW (and, Windows-like, without O_NONBLOCK) -----------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    outside = tmp_path / "outside" / "victim.txt"
    outside.parent.mkdir()
    outside.write_bytes(b"keep me")
    return outside


@pytest.mark.parametrize("platform", [NO_NOFOLLOW, WINDOWS_LIKE], ids=["no-nofollow", "windows"])
def test_without_nofollow_a_symlink_is_refused_before_it_is_opened(
    tmp_path: Path, victim: Path, platform: PlatformIO
) -> None:
    planted = tmp_path / "t.evio-part"
    planted.symlink_to(victim)
    with pytest.raises(UnsafePathError, match=r"t\.evio-part: is a symbolic link"):
        open_regular(planted, os.O_RDWR | os.O_CREAT | os.O_TRUNC, platform=platform)
    assert victim.read_bytes() == b"keep me"


@pytest.mark.parametrize("platform", [NO_NOFOLLOW, WINDOWS_LIKE], ids=["no-nofollow", "windows"])
def test_without_nofollow_a_hard_link_is_refused(
    tmp_path: Path, victim: Path, platform: PlatformIO
) -> None:
    planted = tmp_path / "t.evio-part"
    os.link(victim, planted)
    with pytest.raises(UnsafePathError, match="hard link"):
        open_regular(planted, os.O_RDWR | os.O_CREAT, platform=platform)


@pytest.mark.posix
def test_without_nonblock_a_fifo_is_refused_before_an_open_could_wait(tmp_path: Path) -> None:
    """Opening a FIFO for reading waits for a writer: without O_NONBLOCK it must never be
    opened at all (if it were, this test would hang until its timeout)."""
    planted = tmp_path / "t.evio-part"
    os.mkfifo(planted)
    with pytest.raises(UnsafePathError, match="FIFO"):
        open_regular(planted, os.O_RDONLY, platform=WINDOWS_LIKE)


def test_without_nofollow_a_new_file_is_made(tmp_path: Path) -> None:
    fd = open_regular(tmp_path / "new", os.O_RDWR | os.O_CREAT, platform=WINDOWS_LIKE)
    try:
        assert os.fstat(fd).st_size == 0
    finally:
        os.close(fd)


def test_an_empty_directory_is_removed_but_never_through_a_link(
    tmp_path: Path, platform: PlatformIO
) -> None:
    base = tmp_path / "base"
    (base / "a" / "b").mkdir(parents=True)
    platform.remove_directory_below(str(base), ("a", "b"))
    assert not (base / "a" / "b").exists()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "b").mkdir(parents=True)
    os.rmdir(base / "a")
    os.symlink(elsewhere, base / "a")
    with pytest.raises(OSError):
        platform.remove_directory_below(str(base), ("a", "b"))
    assert (elsewhere / "b").is_dir()
