"""Facts about the machine and the software a result was measured with, so that numbers from
two machines are never compared without noticing."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return (done.stdout or done.stderr).strip()


def _version(command: list[str]) -> str:
    """The first version number the tool prints about itself."""
    found = re.search(r"\d+\.\d+(\.\d+)*", _output(command))
    return found.group() if found else "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path``: the longest mount point above it."""
    target, best, kind = path.resolve(), "", "unknown"
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        mount = fields[1].replace("\\040", " ")
        if target.is_relative_to(mount) and len(mount) >= len(best):
            best, kind = mount, fields[2]
    return kind


def git_commit() -> str:
    commit = _output(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    dirty = _output(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    return f"{commit}{' (with uncommitted changes)' if dirty else ''}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: on a shared machine, what else was running."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg()) + " (1, 5, 15 min)"


def facts(work: Path, server: str, server_version: str) -> dict[str, str]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "load average at start": load_average(),
        "kernel": platform.release(),
        "dir": str(work),
        "filesystem": filesystem(work),
        "python": platform.python_version(),
        "server": f"{server} {server_version}",
        "curl": _version(["curl", "--version"]),
        "aria2c": _version(["aria2c", "--version"]),
        "wget": _version(["wget", "--version"]),
        "evio-fetch": git_commit(),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }
