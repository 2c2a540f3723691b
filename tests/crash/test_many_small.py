"""Crash safety of the short way small files take (engine/landing.py): a run of many small
files, killed with SIGKILL while files land in batches, leaves no final path holding
anything but the server's whole bytes, and a rerun completes every file."""

from __future__ import annotations

import functools
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import leftovers, run_cli, start_cli, wait_until, write_manifest

from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

# Real signals to real processes, process groups.
pytestmark = pytest.mark.posix

COUNT = 600
# Slow enough per connection that a run takes seconds: every kill point falls mid-run.
CAP = 16 * 1024
KILL_AT = (40, 200, 360)


@pytest.fixture
def files(tmp_path: Path) -> list[DataFile]:
    rng = random.Random(3)
    # Empty files too: their answer (416) has no body.
    sizes = [0, 1, *(rng.randrange(1, 4096) for _ in range(COUNT - 2))]
    return generate(tmp_path / "served", [(f"d{i % 3}/f{i}.bin", n) for i, n in enumerate(sizes)])


@pytest.fixture
def server(tmp_path: Path, files: list[DataFile]) -> Iterator[ServerThread]:
    with ServerThread(tmp_path / "served", ServerConfig(rate_per_connection=CAP)) as running:
        yield running


def landed(out: Path, files: list[DataFile]) -> list[DataFile]:
    return [f for f in files if (out / f.path).exists()]


def at_least(out: Path, files: list[DataFile], count: int) -> bool:
    return len(landed(out, files)) >= count


def assert_whole(out: Path, served: Path, files: list[DataFile]) -> None:
    """Every file at its final path holds exactly the server's bytes."""
    for f in landed(out, files):
        assert (out / f.path).read_bytes() == (served / f.path).read_bytes(), f.path


def test_sigkill_while_small_files_land_leaves_only_whole_files(
    tmp_path: Path, files: list[DataFile], server: ServerThread
) -> None:
    out, served = tmp_path / "out", tmp_path / "served"
    manifest = write_manifest(
        tmp_path / "m.json", [(server.url_for(f.path), f"out/{f.path}", f) for f in files]
    )
    args = ("--manifest", str(manifest), "--concurrency", "16")
    for point in KILL_AT:
        run = start_cli(*args, cwd=tmp_path)
        try:
            reached = functools.partial(at_least, out, files, point)
            wait_until(reached, 60, f"{point} files landed")
        finally:
            # The whole group at once, workers included, wherever their batches stand.
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        count = len(landed(out, files))
        assert point <= count < COUNT, "the kill fell mid-run"
        assert_whole(out, served, files)
    server.set_config(ServerConfig())
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(landed(out, files)) == COUNT
    assert_whole(out, served, files)
    assert leftovers(tmp_path) == []
