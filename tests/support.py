"""Helpers the tests share (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread
from evio_fetch.engine.model import FileSpec

MIB = 1024 * 1024
# Pages in Google Drive's markup, written for the tests (not captured: no one's data in them).
DRIVE_PAGES = Path(__file__).resolve().parent / "data" / "drive"
# Sizes that exercise every path: empty, one byte, one segment, several segments, an odd tail.
MIXED_SIZES = [
    ("empty.bin", 0),
    ("one.bin", 1),
    ("small/a.dat", MIB + 17),
    ("big/b.raw", 9 * MIB + 12345),
    ("big/c.dat", 24 * MIB + 1),
]


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI=true``), where every test must run."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(condition: bool, what: str) -> None:
    """Go on only if a prerequisite holds (``what`` names it). Elsewhere a missing one skips
    the test; in CI it fails it, so that a green CI run never leaves a test unrun."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"missing prerequisite in CI: {what}", pytrace=False)
    pytest.skip(f"missing prerequisite: {what}")


def specs_for(
    files: Sequence[DataFile],
    server: ServerThread,
    out: Path,
    *,
    sizes: bool = True,
    hashes: bool = True,
) -> list[FileSpec]:
    return [
        FileSpec(
            index=i,
            label=f.path,
            url=server.url_for(f.path),
            target=str(out / f.path),
            size=f.size if sizes else None,
            sha256=f.sha256 if hashes else None,
        )
        for i, f in enumerate(files)
    ]


def same_bytes(served: Path, out: Path, files: Sequence[DataFile]) -> bool:
    return all((out / f.path).read_bytes() == (served / f.path).read_bytes() for f in files)


def landed(root: Path) -> list[str]:
    """Every file under ``root``, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith((".evio-part", ".evio-state"))]


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    unset: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess, from the installed package; ``env`` is added to
    this process's environment, and the variables named in ``unset`` are left out."""
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-m", "evio_fetch.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**environment, **(env or {})},
    )


def installed_script(name: str) -> Path:
    """A console script beside the interpreter running the tests, as pip installed it. Without
    it the test is skipped, except under CI, where the package is always installed first."""
    where = Path(sys.executable).parent
    found = shutil.which(name, path=str(where))  # evio-fetch, or evio-fetch.exe on Windows
    if found is None:
        reason = f"{where / name} is not installed: pip install this checkout into the environment"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(found)


def run_script(
    name: str, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The command by one of its installed names, the way a user's shell starts it."""
    return subprocess.run(
        [str(installed_script(name)), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "evio_fetch.cli", *args]


def start_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """The command in its own process group, so a test can kill it and its workers at once."""
    return subprocess.Popen(
        cli_command(*args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_group(pid: int) -> None:
    """End whatever is left of a process group that ``start_cli`` started: nothing, once the
    command and all its workers have exited."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def write_manifest(path: Path, entries: Sequence[tuple[str, str, DataFile]]) -> Path:
    """A manifest of (url, path, data file) entries with sizes and hashes."""
    document = {
        "version": "1.0",
        "datasets": [
            {"url": url, "path": target, "size": f.size, "sha256": f.sha256}
            for url, target, f in entries
        ],
    }
    path.write_text(json.dumps(document))
    return path
