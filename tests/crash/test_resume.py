"""Crash safety with real processes and real signals: interrupted, killed and restarted runs
end byte-identical, never leave an incomplete file at the final path, and fetch little twice."""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, kill_group, leftovers, run_cli, start_cli, wait_until, write_manifest

from evio_fetch.engine import state as state_file
from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

# Real signals to real processes: SIGINT, SIGKILL, SIGSTOP, process groups.
pytestmark = pytest.mark.posix

SIZE = 24 * MIB
# Four connections at this cap take about 1.5 s for the file: long enough to interrupt.
CAP = 4 * MIB
SLOW_CAP = MIB // 2


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, DataFile]:
    served = tmp_path / "served"
    (data,) = generate(served, [("rec/big.dat", SIZE)], seed=11)
    return served, data


@pytest.fixture
def capped(source: tuple[Path, DataFile]) -> Iterator[ServerThread]:
    with ServerThread(source[0], ServerConfig(rate_per_connection=CAP)) as server:
        yield server


@pytest.fixture
def manifest(tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread) -> Path:
    data = source[1]
    return write_manifest(tmp_path / "m.json", [(capped.url_for(data.path), "out/big.dat", data)])


def target(tmp_path: Path) -> Path:
    return tmp_path / "out" / "big.dat"


def saved_bytes(tmp_path: Path, name: str = "big.dat") -> int:
    """Bytes the state file of ``out/name`` vouches for (0 while there is none)."""
    path = tmp_path / "out" / f"{name}.evio-state"
    try:
        state = state_file.load(path)
    except Exception:  # noqa: BLE001  not there yet, or replaced while read: no progress yet
        return 0
    return sum(s.done - s.start for s in state.segments)


def interrupt_midway(tmp_path: Path, manifest: Path, how: int = signal.SIGINT) -> str:
    run = start_cli("--manifest", str(manifest), "--segments", "4", cwd=tmp_path)
    wait_until(lambda: saved_bytes(tmp_path) > 4 * MIB, 30, "a checkpoint with 4 MiB")
    run.send_signal(how)
    _, stderr = run.communicate(timeout=20)
    assert run.returncode == 130, stderr
    return stderr


def assert_identical(tmp_path: Path, source: tuple[Path, DataFile]) -> None:
    assert target(tmp_path).read_bytes() == (source[0] / source[1].path).read_bytes()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_progress_and_the_rerun_resumes(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread, manifest: Path, how: int
) -> None:
    stderr = interrupt_midway(tmp_path, manifest, how)
    assert "resume" in stderr and "Traceback" not in stderr
    assert not target(tmp_path).exists()
    kept = saved_bytes(tmp_path)
    assert kept > 4 * MIB
    capped.stats.reset()
    rerun = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert_identical(tmp_path, source)
    # Only what was missing (plus the blocks in flight at the interrupt) is fetched again.
    assert capped.stats.bytes_sent <= SIZE - kept + 6 * MIB


def test_sigkill_at_random_points_of_the_download(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread, manifest: Path
) -> None:
    rng = random.Random(5)
    final, part = target(tmp_path), tmp_path / "out" / "big.dat.evio-part"
    # Slow, so that from any kill point (a third of the file at most, plus the second a
    # checkpoint may lag) the rest is seconds away: no run can finish before its kill.
    capped.set_config(ServerConfig(rate_per_connection=SLOW_CAP))
    kept = 0
    for point in sorted(rng.sample(range(MIB, SIZE // 3), 5)):
        run = start_cli("--manifest", str(manifest), cwd=tmp_path)
        try:
            wait_until(
                functools.partial(checkpoint_past, tmp_path, max(point, kept)),
                60,
                f"a checkpoint past {max(point, kept)} bytes",
            )
            # Frozen, the run can change nothing more: what is on disk now is what the kill
            # leaves, and it shows the kill lands mid-download, with more saved than the run
            # before left, and not all.
            os.killpg(run.pid, signal.SIGSTOP)
            at_kill = saved_bytes(tmp_path)
            assert kept < at_kill < SIZE and part.exists() and not final.exists()
        finally:
            kill_group(run.pid)
            run.wait(timeout=10)
        kept = at_kill
    capped.set_config(ServerConfig())
    result = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_identical(tmp_path, source)
    assert capped.stats.bytes_sent <= 2 * SIZE


def checkpoint_past(tmp_path: Path, size: int) -> bool:
    return saved_bytes(tmp_path) > size


def test_remote_replaced_between_crash_and_resume(
    tmp_path: Path, source: tuple[Path, DataFile], manifest: Path
) -> None:
    # No hash in the manifest: only the validators can tell the old version from the new.
    document = json.loads(manifest.read_text())
    del document["datasets"][0]["sha256"]
    manifest.write_text(json.dumps(document))
    interrupt_midway(tmp_path, manifest)
    served, data = source
    generate(served, [(data.path, SIZE)], seed=12)  # same size, new bytes, new ETag
    rerun = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "changed on the server" in rerun.stderr
    assert target(tmp_path).read_bytes() == (served / data.path).read_bytes()


def test_damaged_block_is_fetched_again(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread, manifest: Path
) -> None:
    interrupt_midway(tmp_path, manifest)
    state = state_file.load(tmp_path / "out" / "big.dat.evio-state")
    last_block = max(state.blocks)
    part = tmp_path / "out" / "big.dat.evio-part"
    with part.open("r+b") as handle:
        handle.seek(last_block * MIB + 123)
        byte = handle.read(1)
        handle.seek(last_block * MIB + 123)
        handle.write(bytes([byte[0] ^ 0xFF]))
    rerun = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert_identical(tmp_path, source)


def test_resume_state_from_elsewhere_without_the_manifest(
    tmp_path: Path, source: tuple[Path, DataFile], manifest: Path
) -> None:
    interrupt_midway(tmp_path, manifest)
    manifest.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sidecar = tmp_path / "out" / "big.dat.evio-state"
    result = run_cli("--resume-state", str(sidecar), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert_identical(tmp_path, source)


def test_resume_state_checks_the_manifest_checksum(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread
) -> None:
    """The state file keeps the entry's MD5, so a resume from it alone still checks it."""
    data = source[1]
    wrong = "0" * 32
    entry = {"url": capped.url_for(data.path), "path": "out/big.dat", "checksum": f"md5:{wrong}"}
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"datasets": [entry]}))
    interrupt_midway(tmp_path, manifest)
    sidecar = tmp_path / "out" / "big.dat.evio-state"
    assert str(state_file.load(sidecar).checksum) == f"md5:{wrong}"
    manifest.unlink()
    result = run_cli("--resume-state", str(sidecar), "--json", cwd=tmp_path)
    assert result.returncode == 2
    (reported,) = json.loads(result.stdout)["files"]
    assert reported["error"]["code"] == "checksum_mismatch"
    assert "MD5 mismatch" in reported["error"]["message"]
    assert not target(tmp_path).exists()


def test_no_resume_starts_over(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread, manifest: Path
) -> None:
    interrupt_midway(tmp_path, manifest)
    capped.stats.reset()
    result = run_cli("--manifest", str(manifest), "--no-resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_identical(tmp_path, source)
    assert capped.stats.bytes_sent >= SIZE


def test_second_run_on_the_same_target_reports_busy(
    tmp_path: Path, source: tuple[Path, DataFile]
) -> None:
    served, data = source
    with ServerThread(served, ServerConfig(rate_per_connection=MIB // 4)) as slow:
        manifest = write_manifest(
            tmp_path / "m.json", [(slow.url_for(data.path), "out/big.dat", data)]
        )
        first = start_cli("--manifest", str(manifest), cwd=tmp_path)
        wait_until(lambda: saved_bytes(tmp_path) > 0, 30, "the first run's checkpoint")
        second = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=20)
    assert second.returncode == 2  # its only file failed
    assert json.loads(second.stdout)["files"][0]["error"]["code"] == "busy"
    assert "another evio-fetch process" in second.stderr
    assert first.returncode == 130
    assert saved_bytes(tmp_path) > 0  # the first run's progress was not disturbed


def test_state_from_a_newer_version_is_a_clear_error(
    tmp_path: Path, source: tuple[Path, DataFile], manifest: Path
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "big.dat.evio-part").write_bytes(b"")
    (tmp_path / "out" / "big.dat.evio-state").write_text('{"format": 99, "future": true}')
    result = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert result.returncode == 2  # its only file failed
    assert "newer evio-fetch" in result.stderr and "--no-resume" in result.stderr
    assert "Traceback" not in result.stderr
    again = run_cli("--manifest", str(manifest), "--no-resume", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert_identical(tmp_path, source)


@pytest.mark.parametrize("garbage", [b"", b"\x00\xff garbage", b'{"format": 1, "size": "x"}'])
def test_damaged_state_is_set_aside_with_a_warning(
    tmp_path: Path, source: tuple[Path, DataFile], manifest: Path, garbage: bytes
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "big.dat.evio-part").write_bytes(b"x" * 1000)
    (tmp_path / "out" / "big.dat.evio-state").write_bytes(garbage)
    result = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "starting over" in result.stderr
    assert_identical(tmp_path, source)


@pytest.mark.linux  # /proc
def test_workers_stop_when_the_parent_is_killed(tmp_path: Path, manifest: Path) -> None:
    run = start_cli("--manifest", str(manifest), cwd=tmp_path)
    wait_until(lambda: saved_bytes(tmp_path) > 0, 30, "a first checkpoint")
    workers = children_of(run.pid)
    assert workers
    run.kill()  # the parent alone
    run.wait(timeout=10)
    wait_until(lambda: not any(alive(pid) for pid in workers), 10, "the workers to exit")


@pytest.mark.linux  # /proc
def test_a_killed_worker_fails_its_file_and_the_run_goes_on(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread
) -> None:
    served, big = source
    (small,) = generate(served, [("rec/small.dat", MIB)], seed=12)
    manifest = write_manifest(
        tmp_path / "two.json",
        [
            (capped.url_for(big.path), "out/big.dat", big),
            (capped.url_for(small.path), "out/small.dat", small),
        ],
    )
    # One file at a time: the second waits until the first has failed.
    run = start_cli(
        "--manifest", str(manifest), "--concurrency", "1", "--workers", "1", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    wait_until(lambda: saved_bytes(tmp_path) > 0, 30, "a first checkpoint")
    (worker,) = worker_pids(run.pid)
    os.kill(worker, signal.SIGKILL)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1, err
    files = json.loads(out)["files"]
    assert [f["outcome"] for f in files] == ["failed", "downloaded"]
    assert "worker process" in files[0]["error"]["message"]
    assert (tmp_path / "out" / "small.dat").read_bytes() == (served / small.path).read_bytes()
    assert not target(tmp_path).exists()


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# The command, with workers given an hour to stop instead of a few seconds: a run left to
# wait for a worker that cannot stop would still be waiting when the test gives up.
PATIENT_CLI = (
    "import sys; from evio_fetch.engine import pool; pool.STOP_GRACE = 3600.0; "
    "from evio_fetch.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.linux  # /proc
def test_second_interrupt_ends_at_once_and_state_still_holds(
    tmp_path: Path, source: tuple[Path, DataFile], capped: ServerThread
) -> None:
    served, big = source
    (other,) = generate(served, [("rec/other.dat", SIZE)], seed=13)
    manifest = write_manifest(
        tmp_path / "two.json",
        [
            (capped.url_for(big.path), "out/big.dat", big),
            (capped.url_for(other.path), "out/other.dat", other),
        ],
    )
    run = subprocess.Popen(
        [sys.executable, "-c", PATIENT_CLI, "--manifest", str(manifest), "--workers", "2"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: min(saved_bytes(tmp_path, n) for n in ("big.dat", "other.dat")) > 0,
            30,
            "a checkpoint of each file",
        )
        stuck, free = workers_of(run.pid)
        os.kill(stuck, signal.SIGSTOP)  # a worker that cannot stop on its own
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        # The first interrupt asks the workers to stop: the free one does, on its own ...
        wait_until(lambda: not alive(free), 60, "the free worker to stop when asked")
        # ... and the run waits for the other.
        assert run.poll() is None, run.communicate()
        os.killpg(run.pid, signal.SIGINT)
        # The second ends the wait: the stuck worker, which could not have exited on its own,
        # is killed and the run ends.
        _, stderr = run.communicate(timeout=60)
        assert not alive(stuck)
    finally:
        kill_group(run.pid)  # whatever is left of the run
        run.wait()
    assert run.returncode == 130 and "Traceback" not in stderr, stderr
    rerun = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    for data, name in ((big, "big.dat"), (other, "other.dat")):
        assert (tmp_path / "out" / name).read_bytes() == (served / data.path).read_bytes()
    assert leftovers(tmp_path) == []


def workers_of(pid: int) -> list[int]:
    """The worker processes of the run ``pid``: its children started by multiprocessing."""
    workers = worker_pids(pid)
    assert len(workers) == 2, workers
    return workers


def worker_pids(pid: int) -> list[int]:
    """The children of the run ``pid`` but multiprocessing's resource tracker: its workers,
    spawned or (the first, on Linux) forked."""
    return [c for c in children_of(pid) if "resource_tracker" not in cmdline(c)]
