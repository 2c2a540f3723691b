"""Small files landed in batches (engine.landing), on real files, each way the platform layer
can flush a batch: whole bytes at the target, nothing beside it, and a file that cannot land
fails alone."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from evio_fetch.engine.errors import DownloadError, UnsafePathError
from evio_fetch.engine.landing import MOST_PER_BATCH, Lander
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.platform_io import PLATFORM, PlatformIO
from evio_fetch.engine.safe_paths import VerifiedDirectories

WAYS = {
    "native": PLATFORM,
    "each-file": dataclasses.replace(PLATFORM, flush_many="each"),
    "windows-like": dataclasses.replace(
        PLATFORM,
        flush_many="each",
        sync_directories=False,
        rename_open=False,
        no_follow=0,
        hold_directories=False,
        non_block=0,
    ),
}


@pytest.fixture(params=list(WAYS), ids=list(WAYS))
def platform(request: pytest.FixtureRequest) -> PlatformIO:
    chosen: PlatformIO = WAYS[request.param]
    return chosen


def spec(index: int) -> FileSpec:
    return FileSpec(index=index, label=f"f{index}", url=f"http://127.0.0.1:9/f{index}")


async def land_all(
    lander: Lander, root: Path, files: dict[str, bytes]
) -> list[BaseException | None]:
    named = enumerate(files.items())
    landings = [lander.land(spec(n), root / name, root, body) for n, (name, body) in named]
    return await asyncio.gather(*landings, return_exceptions=True)


def planted_link(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A root holding ``name`` as a link to a file outside it; returns (root, that file)."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    root = tmp_path / "root"
    root.mkdir()
    (root / name).symlink_to(victim)
    return root, victim


def sidecars(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".evio-" in p.name]


def test_many_files_land_whole_with_nothing_beside_them(
    tmp_path: Path, platform: PlatformIO
) -> None:
    files = {f"d{n % 4}/f{n}.bin": os.urandom(n) for n in range(300)}
    outcomes = asyncio.run(land_all(Lander(platform), tmp_path, files))
    assert outcomes == [None] * len(files)
    for name, body in files.items():
        assert (tmp_path / name).read_bytes() == body
    assert sidecars(tmp_path) == []


def test_a_file_whose_part_is_a_planted_link_fails_alone(
    tmp_path: Path, platform: PlatformIO
) -> None:
    root, victim = planted_link(tmp_path, "b.bin.evio-part")
    files = {"a.bin": b"first", "b.bin": b"second", "c.bin": b"third"}
    outcomes = asyncio.run(land_all(Lander(platform), root, files))
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], UnsafePathError)
    assert victim.read_bytes() == b"keep"
    assert not (root / "b.bin").exists()
    assert (root / "a.bin").read_bytes() == b"first" and (root / "c.bin").read_bytes() == b"third"


def test_a_crashed_runs_part_and_state_are_taken_over(tmp_path: Path, platform: PlatformIO) -> None:
    (tmp_path / "t.bin.evio-part").write_bytes(b"x" * 5000)
    (tmp_path / "t.bin.evio-state").write_bytes(b"old")
    outcomes = asyncio.run(land_all(Lander(platform), tmp_path, {"t.bin": b"new bytes"}))
    assert outcomes == [None]
    assert (tmp_path / "t.bin").read_bytes() == b"new bytes"
    assert sidecars(tmp_path) == []


def test_a_verified_directory_swapped_for_a_link_outside_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    known = VerifiedDirectories()
    known.make(root, root / "d")
    (root / "d").rmdir()
    (root / "d").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        known.make(root, root / "d")


def test_a_state_left_without_its_part_is_removed(tmp_path: Path, platform: PlatformIO) -> None:
    (tmp_path / "t.bin.evio-state").write_bytes(b"of a larger file")
    outcomes = asyncio.run(land_all(Lander(platform), tmp_path, {"t.bin": b"small"}))
    assert outcomes == [None]
    assert (tmp_path / "t.bin").read_bytes() == b"small"
    assert sidecars(tmp_path) == []


def test_a_state_that_is_a_planted_link_is_refused_and_left(
    tmp_path: Path, platform: PlatformIO
) -> None:
    root, victim = planted_link(tmp_path, "t.bin.evio-state")
    outcomes = asyncio.run(land_all(Lander(platform), root, {"t.bin": b"small"}))
    assert isinstance(outcomes[0], UnsafePathError)
    assert victim.read_bytes() == b"keep"
    assert not (root / "t.bin").exists() and not (root / "t.bin.evio-part").exists()


@dataclasses.dataclass(frozen=True)
class NewBytesFailToFlush(PlatformIO):
    """The platform, except that a flush including new bytes fails after the first, as a
    disk reporting a write error (EIO) for the data just written would."""

    flushes: list[int] = dataclasses.field(default_factory=list)

    def flush_batch(self, written: Sequence[int], directories: Iterable[Path]) -> None:
        if written:
            self.flushes.append(len(written))
            if len(self.flushes) > 1:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        super().flush_batch(written, directories)


def test_a_failed_flush_fails_the_new_batch_and_not_the_one_already_in_place(
    tmp_path: Path,
) -> None:
    failing = NewBytesFailToFlush(**dataclasses.asdict(PLATFORM))
    first = {f"f{n}.bin": os.urandom(n + 1) for n in range(MOST_PER_BATCH)}
    late = {"late.bin": b"late"}
    outcomes = asyncio.run(land_all(Lander(failing), tmp_path, first | late))
    assert failing.flushes == [MOST_PER_BATCH, 1], "two batches: the second's flush failed"
    assert outcomes[:MOST_PER_BATCH] == [None] * MOST_PER_BATCH
    for name, body in first.items():
        assert (tmp_path / name).read_bytes() == body
    assert isinstance(outcomes[-1], DownloadError)
    assert "flushing to disk failed" in outcomes[-1].message
    assert not (tmp_path / "late.bin").exists()
    assert sidecars(tmp_path) == []


@dataclasses.dataclass(frozen=True)
class NamesFlushWaits(PlatformIO):
    """The platform, except that a flush of names alone (the flush that settles the batch
    before) waits until the test has looked."""

    waiting: threading.Event = dataclasses.field(default_factory=threading.Event)
    go_on: threading.Event = dataclasses.field(default_factory=threading.Event)

    def flush_batch(self, written: Sequence[int], directories: Iterable[Path]) -> None:
        if not written:
            self.waiting.set()
            assert self.go_on.wait(60), "the test never let the flush go on"
        super().flush_batch(written, directories)


def test_a_body_is_let_go_once_written_not_held_until_its_name_is_flushed(
    tmp_path: Path,
) -> None:
    platform = NamesFlushWaits(**dataclasses.asdict(PLATFORM))
    body = os.urandom(4096)
    alone = sys.getrefcount(body)  # the references this test holds, and no other

    async def land_and_look() -> bool:
        landing = Lander(platform).land(spec(0), tmp_path / "f.bin", tmp_path, body)
        await asyncio.to_thread(platform.waiting.wait, 60)
        gone = sys.getrefcount(body) == alone
        platform.go_on.set()
        await asyncio.shield(landing)
        return gone

    assert asyncio.run(land_and_look()), "the body was still held while its name was flushed"
    assert (tmp_path / "f.bin").stat().st_size == 4096
