"""Disk space, on a real ext4 file system of the test's own (disk_image.py): a file that does
not fit fails alone and holds on to nothing, a full device stops the run with exit status 2
and keeps what was downloaded for a resume, and a server lying about a file's size fills
neither the disk nor the memory.

Every case checks that each file reported downloaded holds exactly the served bytes, and
that nothing outside the output directory changed: the files there, and the free space, which
must have shrunk by exactly what the output directory now holds."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from disk_image import ext4_image, reserve
from faults import KIB, MIB, ClaimSize, FaultServer, Reset, Served, Stall, Unframed
from support import cli_command, leftovers, run_cli, start_cli, wait_until

from evio_fetch.engine.platform_io import PLATFORM
from evio_fetch.engine.sidecars import part_path, state_path
from evio_fetch.engine.storage import DEVICE_FULL_FLOOR

pytestmark = pytest.mark.linux  # a loop-mounted ext4 image

IMAGE_SIZE = 64 * MIB
TIB = 1024**4
# The most memory any process of a run may use. A run takes far less; a table sized by a
# claimed size of terabytes, or 2^50 bytes, would not fit.
PEAK_RSS_LIMIT = 256 * MIB
DEADLINE = 60.0


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    place = tmp_path / "disk"
    place.mkdir()
    with ext4_image(place, IMAGE_SIZE) as mount:
        yield mount


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """Where the command runs: it must write nothing there."""
    place = tmp_path / "cwd"
    place.mkdir()
    return place


# The disk before and after ---------------------------------------------------------------


def free_space(mount: Path) -> int:
    # Written back first, so that no block is still only reserved (this file system only).
    subprocess.run(["sync", "--file-system", str(mount)], check=True)
    stats = os.statvfs(mount)
    return stats.f_bavail * stats.f_frsize


def used_by(root: Path) -> int:
    """Bytes on the device that ``root`` and everything under it occupy."""
    if not root.exists():
        return 0
    return sum(p.lstat().st_blocks * 512 for p in [root, *root.rglob("*")])


def outside(mount: Path, out: Path) -> dict[str, tuple[int, int, int]]:
    """Size, mtime and blocks of every path on the image outside ``out``."""
    seen = {p: p.lstat() for p in mount.rglob("*") if p != out and out not in p.parents}
    return {str(p): (s.st_size, s.st_mtime_ns, s.st_blocks) for p, s in seen.items()}


@dataclass
class Disk:
    """The image, the output directory on it, and what they were before a run."""

    mount: Path
    out: Path
    free: int = 0
    used: int = 0
    others: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def snapshot(self) -> None:
        self.free = free_space(self.mount)
        self.used = used_by(self.out)
        self.others = outside(self.mount, self.out)

    def check_only_out_changed(self, cwd: Path) -> None:
        assert outside(self.mount, self.out) == self.others
        assert self.free - free_space(self.mount) == used_by(self.out) - self.used
        assert not any(cwd.iterdir())


def on_disk(mount: Path) -> Disk:
    disk = Disk(mount, mount / "out")
    disk.out.mkdir()
    disk.snapshot()
    return disk


def fill(mount: Path, leave: int) -> None:
    """Take all but ``leave`` bytes of the free space with one file. With ``leave=0``, all of
    it: a reservation of more than there is fails, keeping what it took."""
    size = free_space(mount) - leave if leave else 1 << 40
    fd = os.open(mount / "filler", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        reserve(fd, size)
    except OSError as error:
        assert error.errno == errno.ENOSPC and not leave, error
    finally:
        os.close(fd)
    assert free_space(mount) <= leave


def fragment(mount: Path) -> None:
    """Cut the free space into single blocks: fill it with one-block files, then delete every
    other one. A file then needs a block of the file system's own for every few hundred
    pieces of it, beyond the space its bytes take."""
    place = mount / "fragments"
    place.mkdir()
    count = 0
    while True:
        fd = os.open(place / str(count), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            reserve(fd, 4 * KIB)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
            break
        finally:
            os.close(fd)
        count += 1
    (place / str(count)).unlink()
    for index in range(0, count, 2):
        (place / str(index)).unlink()


# Running the command ----------------------------------------------------------------------


def report_of(stdout: str, stderr: str) -> dict[str, dict[str, Any]]:
    """The --json report's files, by source URL."""
    assert "Traceback" not in stderr, stderr
    return {f["source"]: f for f in json.loads(stdout)["files"]}


def check_downloaded(files: dict[str, dict[str, Any]], served: list[Served]) -> None:
    by_url = {s.url: s for s in served}
    for url, entry in files.items():
        if entry["outcome"] == "downloaded":
            assert Path(entry["path"]).read_bytes() == by_url[url].data, url


# The largest resident set of any process the wrapped command starts (they are waited for, so
# their usage reaches it), in KiB: the command line, its workers, everything.
PEAK_RSS = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as peak:
    peak.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(status)
"""


def run_cli_measured(
    *args: str, cwd: Path, peak: Path
) -> tuple[subprocess.CompletedProcess[str], int]:
    """run_cli's command, and the peak memory (bytes) of the largest process it started."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(peak), *cli_command(*args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return done, int(peak.read_text()) * KIB


def state_of(target: Path) -> list[list[int]]:
    """The segments ``[start, end, done, tail]`` the state beside ``target`` records."""
    segments: list[list[int]] = json.loads(state_path(target).read_bytes())["segments"]
    return segments


def saved(target: Path) -> int:
    """Bytes the state beside ``target`` vouches for; 0 while it cannot be read."""
    try:
        return sum(done - start for start, _end, done, *_tail in state_of(target))
    except (OSError, ValueError, KeyError):
        return 0


# The cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize("claimed", [4 * TIB, 2**50], ids=["4TiB", "2^50"])
def test_a_server_lying_about_a_size_fails_that_file_alone_and_takes_nothing(
    tmp_path: Path, disk: Path, server: FaultServer, cwd: Path, claimed: int
) -> None:
    a = server.add("/a.bin", size=3 * MIB)
    liar = server.add("/liar.bin", size=2 * MIB, faults=[ClaimSize(total=claimed)])
    c = server.add("/c.bin", size=MIB + 17)
    space = on_disk(disk)
    # One file at a time: c.bin starts only after the liar has failed, and must still land.
    done, peak = run_cli_measured(
        *(a.url, liar.url, c.url, "-o", str(space.out), "--json", "--concurrency", "1"),
        cwd=cwd,
        peak=tmp_path / "peak",
    )
    assert done.returncode == 1, done.stderr
    files = report_of(done.stdout, done.stderr)
    assert [files[s.url]["outcome"] for s in (a, liar, c)] == ["downloaded", "failed", "downloaded"]
    assert files[liar.url]["error"]["code"] == "disk_full"
    assert "liar.bin" in files[liar.url]["error"]["message"]
    # Refused at its first answer: nothing more was asked of it.
    assert server.count("/liar.bin") == 1
    check_downloaded(files, [a, liar, c])
    assert leftovers(space.out) == []
    space.check_only_out_changed(cwd)
    assert peak < PEAK_RSS_LIMIT, f"a process of the run grew to {peak / MIB:.0f} MiB"


@pytest.mark.parametrize("sizes", [True, False], ids=["manifest-sizes", "probed-sizes"])
def test_a_file_larger_than_the_free_space_fails_alone(
    disk: Path, server: FaultServer, cwd: Path, sizes: bool
) -> None:
    served = [
        server.add("/a.bin", size=2 * MIB),
        server.add("/big.bin", size=IMAGE_SIZE + MIB),
        server.add("/c.bin", size=MIB),
    ]
    space = on_disk(disk)
    entries = [
        {"url": s.url, "path": s.path[1:], "sha256": s.sha256} | ({"size": s.size} if sizes else {})
        for s in served
    ]
    manifest = cwd.parent / "manifest.json"
    manifest.write_text(json.dumps({"datasets": entries}))
    # One file at a time: c.bin starts only after big.bin has failed, and must still land.
    done = run_cli(
        *("--manifest", str(manifest), "--root", str(space.out), "--json", "--concurrency", "1"),
        cwd=cwd,
    )
    assert done.returncode == 1, done.stderr
    files = report_of(done.stdout, done.stderr)
    assert [files[s.url]["outcome"] for s in served] == ["downloaded", "failed", "downloaded"]
    assert files[served[1].url]["error"]["code"] == "disk_full"
    if sizes:  # its size was known: refused before any request
        assert server.count("/big.bin") == 0
    check_downloaded(files, served)
    assert leftovers(space.out) == []
    space.check_only_out_changed(cwd)


@pytest.mark.skipif(
    PLATFORM.reserve == "extend",
    reason="only a reservation can fail with the space taken; where files are only extended, "
    "the write that finds no space stops the run (the mid-run test)",
)
def test_a_reservation_failing_on_space_that_seemed_enough_gives_it_back(
    disk: Path, server: FaultServer, cwd: Path
) -> None:
    """By the free space the file fits, so it is reserved; but in a thousand pieces it needs
    blocks for the file system's bookkeeping too, and the reservation fails with most of the
    space taken. It must give that back: then the device is not full, the file fails alone,
    and the next one lands."""
    space = on_disk(disk)
    fill(disk, leave=4 * MIB)
    fragment(disk)
    free = free_space(disk)
    assert free >= DEVICE_FULL_FLOOR + 64 * KIB, "the device must not count as full"
    exact = server.add("/exact.bin", size=free)
    small = server.add("/small.bin", size=64 * KIB)
    space.snapshot()
    done = run_cli(
        exact.url, small.url, "-o", str(space.out), "--json", "--concurrency", "1", cwd=cwd
    )
    assert done.returncode == 1, done.stderr
    files = report_of(done.stdout, done.stderr)
    assert [files[s.url]["outcome"] for s in (exact, small)] == ["failed", "downloaded"]
    assert files[exact.url]["error"]["code"] == "disk_full"
    check_downloaded(files, [exact, small])
    assert leftovers(space.out) == []
    space.check_only_out_changed(cwd)


@pytest.mark.parametrize(
    ("leave", "folder"),
    [(0, "sub/"), (DEVICE_FULL_FLOOR // 2, "")],
    ids=["no-room-for-a-directory", "below-the-floor"],
)
def test_a_full_device_stops_the_run(
    disk: Path, server: FaultServer, cwd: Path, leave: int, folder: str
) -> None:
    served = [server.add(f"/{name}.bin", size=2 * MIB) for name in ("a", "b", "c", "d")]
    space = on_disk(disk)
    fill(disk, leave)
    space.snapshot()
    target = str(space.out / folder) if folder else str(space.out)
    done = run_cli(*(s.url for s in served), "-o", target, "--json", "--concurrency", "2", cwd=cwd)
    assert done.returncode == 2, done.stderr
    assert "no space left" in done.stderr
    files = report_of(done.stdout, done.stderr)
    outcomes = [files[s.url]["outcome"] for s in served]
    assert "downloaded" not in outcomes and "skipped" in outcomes
    assert {f["error"]["code"] for f in files.values() if f["outcome"] == "failed"} == {"disk_full"}
    assert leftovers(space.out) == []
    space.check_only_out_changed(cwd)


def test_a_device_filling_up_mid_run_stops_it_and_keeps_progress_for_a_resume(
    disk: Path, server: FaultServer, cwd: Path
) -> None:
    """A stream of unknown length fills the device while another file is partly fetched:
    the run stops (exit 2), the partial file keeps its part and state, and a later run
    finishes it from there."""
    a = server.add("/a.bin", size=32 * MIB, faults=[Stall(after=2 * MIB, seconds=600, skip=1)])
    gate = threading.Event()
    stream = server.add("/stream.bin", size=IMAGE_SIZE, faults=[Unframed()], gate=gate)
    c = server.add("/c.bin", size=MIB)
    space = on_disk(disk)
    target = space.out / "a.bin"
    # Four fixed segments: requests of 8 MiB, so a.bin's stall after 2 MiB is met (sized
    # connections would cut it in pieces of 2 MiB, each whole before the stall).
    process = start_cli(
        a.url, stream.url, c.url, "-o", str(space.out), "--json", "--concurrency", "2",
        "--segments", "4", cwd=cwd,
    )  # fmt: skip
    try:
        # The stream starts only once a.bin has saved some progress.
        wait_until(lambda: saved(target) >= 3 * MIB, DEADLINE, "a.bin's progress to be saved")
        gate.set()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 2, stderr
    files = report_of(stdout, stderr)
    assert [files[s.url]["outcome"] for s in (a, stream, c)] == ["failed", "failed", "skipped"]
    assert files[stream.url]["error"]["code"] == "disk_full"
    # The stream's part is gone; a.bin's is kept, with the bytes its state vouches for.
    assert sorted(leftovers(space.out)) == [part_path(target), state_path(target)]
    kept = saved(target)
    assert kept >= 3 * MIB
    check_part(target, a)
    space.check_only_out_changed(cwd)

    server.add("/a.bin", size=a.size)  # the same bytes, served without stalling
    sent_before = server.body_bytes("/a.bin")
    done = run_cli(a.url, c.url, "-o", str(space.out), "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    check_downloaded(report_of(done.stdout, done.stderr), [a, c])
    assert server.body_bytes("/a.bin") - sent_before <= a.size - kept + MIB
    assert leftovers(space.out) == []


def test_a_resumed_download_that_no_longer_fits_keeps_its_part_and_state(
    disk: Path, server: FaultServer, cwd: Path
) -> None:
    """A partial download whose part lost its reserved space (copied elsewhere, say) is
    resumed on a device too full for the rest: it fails, its part and state as they were and
    nothing taken; once space is freed, it finishes from where it stopped."""
    size = 24 * MIB
    a = server.add("/a.bin", size=size, faults=[Reset(after=512 * KIB, skip=1)])
    space = on_disk(disk)
    target = space.out / "a.bin"
    first = run_cli(a.url, "-o", str(space.out), "--json", "--retries", "0", cwd=cwd)
    assert first.returncode == 2, first.stderr  # its only file failed
    assert report_of(first.stdout, first.stderr)[a.url]["error"]["code"] == "connection"
    kept = saved(target)
    assert kept > 0
    make_sparse(target)
    fill(disk, leave=4 * MIB)
    part_before = part_path(target).read_bytes()
    state_before = state_path(target).read_bytes()
    server.add("/a.bin", size=size)  # the same bytes, served without faults
    space.snapshot()

    done = run_cli(a.url, "-o", str(space.out), "--json", cwd=cwd)
    assert done.returncode == 2, done.stderr  # its only file failed
    assert report_of(done.stdout, done.stderr)[a.url]["error"]["code"] == "disk_full"
    assert part_path(target).read_bytes() == part_before
    assert state_path(target).read_bytes() == state_before
    space.check_only_out_changed(cwd)

    (disk / "filler").unlink()
    sent_before = server.body_bytes("/a.bin")
    done = run_cli(a.url, "-o", str(space.out), "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    check_downloaded(report_of(done.stdout, done.stderr), [a])
    assert server.body_bytes("/a.bin") - sent_before <= size - kept + MIB
    assert leftovers(space.out) == []


def check_part(target: Path, served: Served) -> None:
    """The part beside ``target`` holds the served bytes wherever its state says so."""
    part = part_path(target).read_bytes()
    for start, _end, done, *_tail in state_of(target):
        assert part[start:done] == served.data[start:done]


def make_sparse(target: Path) -> None:
    """Replace the part by a copy holding only the bytes its state vouches for: the rest of
    its reserved space is no longer taken (a hole), as after a copy that skips zeros."""
    part = part_path(target)
    copy = part.with_name("sparse-copy")
    with part.open("rb") as source, copy.open("wb") as sparse:
        sparse.truncate(part.stat().st_size)
        for start, _end, done, *_tail in state_of(target):
            source.seek(start)
            sparse.seek(start)
            sparse.write(source.read(done - start))
    os.replace(copy, part)
    assert part.stat().st_blocks * 512 < part.stat().st_size
