"""``--demo`` as a new user meets it: a URL or other sources given with it are pointed out,
and Ctrl-C ends it as it ends a real run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from support import cli_command, kill_group, leftovers, require, run_cli, start_cli, wait_until

from evio_fetch.cli.demo import DEMO_PORT
from evio_fetch.cli.interrupts import INTERRUPTED_LINE

URL = "http://127.0.0.1:9/data/a.bin"
SLOW = ("--segments", "1", "--concurrency", "1")


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["--demo", URL], f"--demo {URL}: --demo takes a directory", id="url-as-dir"),
        pytest.param(["--demo", "https:/x"], "not a URL", id="url-with-one-slash"),
        pytest.param(["--demo", "out", URL], "--demo cannot be combined with SOURCE", id="source"),
        pytest.param([URL, "--demo"], "--demo cannot be combined with SOURCE", id="source-first"),
        pytest.param(["--demo", "--manifest", "m.json"], "combined with --manifest", id="manifest"),
        pytest.param(["--demo", "--shard", "1/2"], "combined with --shard", id="shard"),
        pytest.param(["--demo", "--dry-run"], "combined with --dry-run", id="dry-run"),
    ],
)
def test_demo_refuses_what_it_would_ignore(tmp_path: Path, args: list[str], words: str) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no ./http:/ directory, nothing generated


def test_a_url_given_to_demo_is_shown_without_its_secrets(tmp_path: Path) -> None:
    result = run_cli("--demo", "https://alice:pw@example.org/a.bin?sig=abc", cwd=tmp_path)
    assert result.returncode == 2
    assert "https://***@example.org/a.bin?sig=***" in result.stderr
    assert "pw" not in result.stderr and "abc" not in result.stderr


def has_partial(directory: Path) -> bool:
    """A partial download with its state: something a later run can resume."""
    return directory.is_dir() and any(directory.rglob("*.evio-state"))


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_the_demo_ends_as_a_real_run_does(tmp_path: Path, how: int) -> None:
    out = tmp_path / "demo-out"
    # One capped connection, one file at a time: the demo takes about ten seconds, and a
    # partial download seen here is seen well before it could end.
    run = start_cli("--demo", str(out), *SLOW, cwd=tmp_path)
    try:
        wait_until(lambda: has_partial(out), 120, "the demo's first partial download")
        if how == signal.SIGINT:
            os.killpg(run.pid, how)  # Ctrl-C reaches the whole process group
        else:
            run.send_signal(how)
        _, stderr = run.communicate(timeout=60)
    finally:
        kill_group(run.pid)
        run.wait()
    assert run.returncode == 130, stderr
    assert stderr.rstrip().endswith(INTERRUPTED_LINE)
    assert "times faster" not in stderr and "Traceback" not in stderr
    assert leftovers(out) != []  # kept for a later run, as the line says
    again = run_cli("--demo", str(out), cwd=tmp_path, timeout=240)
    assert again.returncode == 0, again.stderr
    # The same URLs, bytes and validators: what was kept is resumed, not started over. The
    # URLs are the same only if both runs had the demo's port (another demo may hold it).
    ports = [served_port(stderr), served_port(again.stderr)]
    require(ports == [DEMO_PORT] * 2, f"port {DEMO_PORT} free for both demo runs: {ports}")
    assert "starting over" not in again.stderr and "5 downloaded" in again.stderr
    assert leftovers(out) == []


def served_port(stderr: str) -> int:
    match = re.search(r"^Serving \d+ files at http://127\.0\.0\.1:(\d+) ", stderr, re.MULTILINE)
    assert match is not None, stderr
    return int(match[1])


def test_interrupting_the_demo_in_a_temporary_directory_removes_it(tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        run = subprocess.Popen(
            cli_command("--demo", *SLOW),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_until(lambda: "Downloading into " in log.read_text(), 120, "the demo to start")
        line = next(x for x in log.read_text().splitlines() if x.startswith("Downloading into"))
        out = Path(line.removeprefix("Downloading into "))
        wait_until(lambda: has_partial(out), 120, "the demo's first partial download")
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)
    finally:
        kill_group(run.pid)
        run.wait()
    shown = log.read_text()
    assert run.returncode == 130, shown
    assert shown.rstrip().endswith("Interrupted: the demo's temporary directory is removed.")
    assert "times faster" not in shown and "Traceback" not in shown
    assert not out.exists()
