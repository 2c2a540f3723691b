"""An interrupted run and its resume tell the truth in a log: what was kept and how to take it
up again, then where the resume starts from and the speed of this run's bytes alone. The real
command against a loopback server whose connections are capped, a real SIGINT."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, run_cli, start_cli, wait_until, write_manifest

from evio_fetch.cli.units import human_bytes
from evio_fetch.engine import state as state_file
from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

SIZE = 16 * MIB
CAP = 4 * MIB  # one connection: four seconds for the file
ARGS = ("--manifest", "m.json", "--segments", "1", "--json")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DataFile, ServerThread]]:
    (data,) = generate(tmp_path / "served", [("rec/events.dat", SIZE)], seed=5)
    with ServerThread(tmp_path / "served", ServerConfig(rate_per_connection=CAP)) as server:
        write_manifest(tmp_path / "m.json", [(server.url_for(data.path), "data/events.dat", data)])
        yield data, server


def kept(tmp_path: Path) -> int:
    return state_file.kept_bytes(tmp_path / "data" / "events.dat")


def test_an_interrupt_says_what_was_kept_and_the_resume_where_it_starts(
    tmp_path: Path, served: tuple[DataFile, ServerThread]
) -> None:
    data, _ = served
    run = start_cli(*ARGS, cwd=tmp_path)
    # Past half the file: a resume's speed counting the old bytes would be twice the cap.
    wait_until(lambda: kept(tmp_path) > SIZE // 2, 30, "a checkpoint past half the file")
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == 130, stderr
    saved = kept(tmp_path)
    lines = stderr.splitlines()
    assert lines[-3].startswith(f"1 interrupted · {human_bytes(saved)} in "), stderr
    assert "failed" not in stderr
    assert lines[-2:] == [
        f"interrupted: {human_bytes(saved)} kept in 1 partial file; run the same command "
        "again to resume:",
        "  evio-fetch " + " ".join(ARGS),
    ]
    (entry,) = json.loads(stdout)["files"]
    assert (entry["outcome"], entry["error"]["code"]) == ("failed", "interrupted")
    assert (entry["kept_bytes"], entry["resumed_bytes"]) == (saved, 0)

    rerun = run_cli(*ARGS, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert (tmp_path / "data" / "events.dat").read_bytes() == (
        tmp_path / "served" / data.path
    ).read_bytes()
    assert f"resuming data/events.dat from {human_bytes(saved)} of 16.0 MiB" in rerun.stderr
    (done,) = [line for line in rerun.stderr.splitlines() if line.startswith("downloaded ")]
    assert done.endswith(f", resumed from {human_bytes(saved)}"), done
    (entry,) = json.loads(rerun.stdout)["files"]
    assert entry["resumed_bytes"] == saved
    # This run's bytes over this run's time, all through one capped connection.
    rate = re.search(r"\(([0-9.]+) MiB/s\)", done)
    assert rate is not None, done
    assert float(rate[1]) * MIB <= 1.5 * CAP, done
    assert (SIZE - saved) / entry["seconds"] <= 1.5 * CAP
    summary = rerun.stderr.splitlines()[-1]
    assert summary.startswith(f"1 downloaded · {human_bytes(SIZE - saved)} in "), summary
    assert summary.endswith(f" · {human_bytes(saved)} resumed from an earlier run"), summary
