"""The plan of ``--dry-run``: on stdout (a pager, a file, a program read it), as a JSON document
with ``--json``, and telling what a previous run left, for a file the server names too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, cli_command, kill_group, run_cli, start_cli, wait_until, write_manifest

from evio_fetch.cli.units import human_bytes
from evio_fetch.engine import state as state_file
from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

Dataset = tuple[Path, list[DataFile]]
PLAN_KEYS = {"label", "path", "named_by_server", "source", "action", "reason", "size"}


def big(files: list[DataFile]) -> DataFile:
    return next(f for f in files if f.path == "big/c.dat")


@pytest.fixture
def capped(dataset: Dataset) -> Iterator[ServerThread]:
    """Slow enough that a download can be interrupted halfway."""
    with ServerThread(dataset[0], ServerConfig(rate_per_connection=2 * MIB)) as running:
        yield running


def saved_bytes(state: Path) -> int:
    try:
        saved = state_file.load(state)
    except Exception:  # noqa: BLE001  not there yet, or being replaced: no progress yet
        return 0
    return sum(s.done - s.start for s in saved.segments)


def interrupt_midway(tmp_path: Path, *args: str, state: Path) -> None:
    run = start_cli(*args, "--yes", cwd=tmp_path)
    try:
        wait_until(lambda: saved_bytes(state) > MIB, 60, "a checkpoint with 1 MiB")
        os.killpg(run.pid, signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        kill_group(run.pid)
        run.wait()
    assert run.returncode == 130, stderr


def test_the_plan_goes_to_stdout_and_the_messages_to_stderr(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    manifest = write_manifest(
        tmp_path / "m.json", [(server.url_for(f.path), f"data/{f.path}", f) for f in files]
    )
    human = run_cli("--manifest", str(manifest), "--dry-run", cwd=tmp_path)
    assert human.returncode == 0 and human.stderr == ""
    lines = human.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["fetch", f"data/{f.path}"] for f in files]
    assert lines[-1].startswith(f"{len(files)} to fetch (")
    machine = run_cli("--manifest", str(manifest), "--dry-run", "--json", cwd=tmp_path)
    assert machine.returncode == 0 and machine.stderr == ""
    document = json.loads(machine.stdout)
    assert document["summary"] == {
        "fetch": len(files),
        "resume": 0,
        "skip": 0,
        "bytes_to_fetch": sum(f.size for f in files),
        "unknown_sizes": 1,  # empty.bin: a manifest's size 0 means unknown
    }
    for entry, f in zip(document["plan"], files, strict=True):
        assert set(entry) >= PLAN_KEYS
        assert entry["path"] == str(tmp_path / "data" / f.path) and entry["size"] == (
            f.size or None
        )
        assert (entry["action"], entry["named_by_server"]) == ("fetch", False)
    assert server.stats.requests == 0 and not (tmp_path / "data").exists()


def test_a_run_writes_nothing_on_stdout_but_the_json_report(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    url = server.url_for(big(dataset[1]).path)
    plain = run_cli("-o", "a", url, cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout == "" and "1 downloaded" in plain.stderr
    reported = run_cli("-o", "b", "--json", url, cwd=tmp_path)
    assert reported.returncode == 0
    assert json.loads(reported.stdout)["summary"]["downloaded"] == 1  # the whole of stdout


def test_a_partial_download_of_a_source_shows_in_the_plan(
    dataset: Dataset, capped: ServerThread, tmp_path: Path
) -> None:
    f = big(dataset[1])
    url = capped.url_for(f.path)
    out = tmp_path / "out"
    interrupt_midway(tmp_path, "-o", str(out), url, state=out / "c.dat.evio-state")
    have = saved_bytes(out / "c.dat.evio-state")
    assert 0 < have < f.size
    capped.stats.reset()

    human = run_cli("-o", str(out), "--dry-run", url, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    partial = f"partial: {human_bytes(have)} of {human_bytes(f.size)}"
    assert human.stdout.splitlines()[0] == (
        f"resume  {url} -> {out / 'c.dat'}  ({partial}; the server may name it otherwise)"
    )
    assert human.stdout.splitlines()[1] == (
        f"0 to fetch, 1 to resume ({human_bytes(f.size - have)} left), 0 to skip"
    )
    machine = run_cli("-o", str(out), "--dry-run", "--json", url, cwd=tmp_path)
    [entry] = json.loads(machine.stdout)["plan"]
    assert entry["action"] == "resume" and entry["named_by_server"] is True
    assert (entry["path"], entry["size"], entry["partial_bytes"]) == (
        str(out / "c.dat"),
        f.size,
        have,
    )
    assert capped.stats.requests == 0

    # And the run it announces: the partial download is resumed, not started over.
    finished = run_cli("-o", str(out), "--yes", url, cwd=tmp_path)
    assert finished.returncode == 0 and "starting over" not in finished.stderr
    assert (out / "c.dat").read_bytes() == (dataset[0] / f.path).read_bytes()


def test_a_file_of_the_suggested_name_shows_in_the_plan(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    url = server.url_for(big(dataset[1]).path)
    assert run_cli("-o", "out", url, cwd=tmp_path).returncode == 0
    plan = run_cli("-o", "out", "--dry-run", url, cwd=tmp_path)
    assert plan.stdout.splitlines()[0] == (
        f"fetch   {url} -> {tmp_path / 'out' / 'c.dat'}  (size unknown; a file of that name is "
        "present (the server may name it otherwise))"
    )


def test_a_partial_download_of_a_manifest_entry_shows_in_the_plan(
    dataset: Dataset, capped: ServerThread, tmp_path: Path
) -> None:
    f = big(dataset[1])
    manifest = write_manifest(tmp_path / "m.json", [(capped.url_for(f.path), "c.dat", f)])
    interrupt_midway(tmp_path, "--manifest", str(manifest), state=tmp_path / "c.dat.evio-state")
    have = saved_bytes(tmp_path / "c.dat.evio-state")
    plan = run_cli("--manifest", str(manifest), "--dry-run", cwd=tmp_path)
    partial = f"partial: {human_bytes(have)} of {human_bytes(f.size)}"
    assert plan.stdout.splitlines()[0] == f"resume  c.dat  ({partial}; partial download found)"


@pytest.mark.parametrize("planted", ["symlink", "fifo"])
def test_the_plan_reads_no_state_through_a_symlink_or_a_fifo(
    dataset: Dataset, capped: ServerThread, tmp_path: Path, planted: str
) -> None:
    """A state file moved aside and replaced by a symlink to it (or by a FIFO, which would
    block a reader): the plan neither follows nor waits, and says the download starts over."""
    f = big(dataset[1])
    manifest = write_manifest(tmp_path / "m.json", [(capped.url_for(f.path), "c.dat", f)])
    state = tmp_path / "c.dat.evio-state"
    interrupt_midway(tmp_path, "--manifest", str(manifest), state=state)
    state.rename(tmp_path / "elsewhere")
    if planted == "symlink":
        state.symlink_to(tmp_path / "elsewhere")
    else:
        os.mkfifo(state)
    plan = run_cli("--manifest", str(manifest), "--dry-run", cwd=tmp_path, timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0].startswith("fetch   c.dat  (24.0 MiB; a partial download")
    assert "starts over" in plan.stdout


def test_a_reader_that_stops_early_is_no_error(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    """``evio-fetch --dry-run | head -1``: the reader is gone before the plan is written."""
    _, files = dataset
    manifest = write_manifest(
        tmp_path / "m.json", [(server.url_for(f.path), f"data/{f.path}", f) for f in files]
    )
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            cli_command("--manifest", str(manifest), "--dry-run"),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 0 and result.stderr == ""
