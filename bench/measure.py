"""Run a command and measure it as a user would feel it: wall time, CPU time of the whole
process tree, and peak resident memory of the whole tree (sampled from /proc)."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY = 0.02
PAGE = os.sysconf("SC_PAGE_SIZE")


def evio_fetch(manifest: Path, root: Path, *options: str) -> list[str]:
    """The command that fetches ``manifest`` under ``root`` quietly, with ``options``."""
    return [
        sys.executable,
        "-m",
        "evio_fetch.cli",
        "--manifest",
        str(manifest),
        "--root",
        str(root),
        "--quiet",
        *options,
    ]


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall: float
    cpu: float
    peak_tree_rss: int
    peak_process_rss: int
    stderr: str
    timed_out: bool = False


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(sum over the tree, largest single process) of resident bytes."""
    pending, sizes = [root], []
    while pending:
        pid = pending.pop()
        sizes.append(_rss(pid))
        pending += _children(pid)
    return sum(sizes), max(sizes, default=0)


def run(
    command: Sequence[str], env: dict[str, str] | None = None, timeout: float | None = None
) -> Measured:
    """Run ``command`` to the end, or until ``timeout`` seconds and then kill its whole
    process group (it gets its own, so a stuck client cannot outlive the benchmark)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, largest = tree_rss(process.pid)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], largest)
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
        _, stderr = process.communicate()
    except BaseException:
        _kill_group(process)
        raise
    wall = time.monotonic() - began
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(process.returncode, wall, cpu, peaks[0], peaks[1], stderr, timed_out)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
