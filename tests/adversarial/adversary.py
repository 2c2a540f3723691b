"""The adversarial tests' side of a run: the directory planted beside the output root, the
manifest or command line, and the run of the installed command, checked against the
invariant (invariant.py) every time."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faults import FaultServer, Served
from invariant import Expect, check, snapshot
from support import run_cli, start_cli

RUN_TIMEOUT = 60.0


@dataclass(frozen=True)
class File:
    """A manifest entry: ``served`` lands at ``path`` under the root."""

    served: Served
    path: str
    size: int | bool = True
    """True: the served size; False: none given; a number: that (maybe wrong) size."""
    sha256: bool = False
    also: tuple[str, ...] = ()
    """Other server paths whose versions are acceptable too (where a redirect leads)."""
    size_known: bool = True
    mirrors: tuple[Served, ...] = ()
    """The entry's ``mirrors``; what they serve is never acceptable in itself (a true mirror
    serves the bytes of ``served``)."""


@dataclass(frozen=True)
class Url:
    """A SOURCE on the command line: lands in the root under the name the server gives."""

    served: Served


class Outside:
    """A directory beside the root, planted before the run, that no run may touch: a few
    files, a symlink, a subdirectory. ``victim`` is the file hostile links point at."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.victim = self.plant("victim.bin", random.Random(1).randbytes(64 * 1024))
        self.plant("notes.txt", b"not yours to write\n", mode=0o600)
        self.plant("sub/deep.bin", random.Random(2).randbytes(4096))
        (path / "link").symlink_to("victim.bin")
        (path / "sub" / "up").symlink_to("../notes.txt")
        self.before = snapshot(path)

    def plant(self, name: str, data: bytes, mode: int = 0o644) -> Path:
        """Add a file (taken into the snapshot: it too must stay as it is)."""
        where = self.path / name
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(data)
        where.chmod(mode)
        self.before = snapshot(self.path)
        return where

    def taken(self) -> None:
        """Take what is there now as the state to keep (after planting by other means)."""
        self.before = snapshot(self.path)


@dataclass(repr=False)
class Outcome:
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any] | None
    root: Path

    def __repr__(self) -> str:
        return f"<run: exit {self.status}>"

    @property
    def status(self) -> int:
        return self.result.returncode

    @property
    def stderr(self) -> str:
        return self.result.stderr

    def file(self, label: str) -> dict[str, Any]:
        assert self.report is not None, f"no --json report\n{self.describe()}"
        return next(f for f in self.report["files"] if f["label"] == label)

    def error(self, label: str) -> dict[str, Any]:
        """The failure of ``label`` (asserting that it failed)."""
        entry = self.file(label)
        assert entry["outcome"] == "failed", f"{label}: {entry}\n{self.describe()}"
        error: dict[str, Any] = entry["error"]
        return error

    def landed(self, label: str) -> Path:
        entry = self.file(label)
        assert entry["outcome"] == "downloaded", f"{label}: {entry}\n{self.describe()}"
        return Path(entry["path"])

    def describe(self) -> str:
        return f"exit {self.status}\nstderr: {self.result.stderr[-3000:]}"


class Adversary:
    """Runs the command against ``server`` into ``root`` (``tmp/root``), with ``outside``
    (``tmp/outside``) planted beside it, and checks the invariant after every run."""

    def __init__(self, tmp_path: Path, server: FaultServer, outside: Outside) -> None:
        self.home = tmp_path
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.server = server
        self.outside = outside
        # Set once a run broke the invariant: the failure is reported then, not again.
        self.failed = False

    def target(self, path: str) -> Path:
        return self.root / path

    def manifest(self, files: Sequence[File]) -> Path:
        datasets = []
        for f in files:
            item: dict[str, Any] = {"url": f.served.url, "path": f.path}
            if (size := _manifest_size(f)) is not None:
                item["size"] = size
            if f.sha256:
                item["sha256"] = f.served.sha256
            if f.mirrors:
                item["mirrors"] = [m.url for m in f.mirrors]
            datasets.append(item)
        where = self.home / "manifest.json"
        where.write_text(json.dumps({"version": "1.0", "datasets": datasets}))
        return where

    def fetch(
        self,
        files: Sequence[File],
        *args: str,
        timeout: float = RUN_TIMEOUT,
        during: Callable[[int], None] | None = None,
    ) -> Outcome:
        """Fetch ``files`` as a manifest under the root; ``during``: the adversary's move,
        made while the command runs (given its process ID)."""
        __tracebackhide__ = True
        manifest = self.manifest(files)

        def expected() -> dict[str, Expect]:
            return {
                f.path: Expect(
                    self._versions(f.served, f.also),
                    self.target(f.path),
                    f.size_known,
                    _manifest_size(f),
                )
                for f in files
            }

        command = ("--manifest", str(manifest), "--root", str(self.root), *args)
        return self.run(*command, expected=expected, timeout=timeout, during=during)

    def fetch_urls(self, urls: Sequence[Url], *args: str, timeout: float = RUN_TIMEOUT) -> Outcome:
        """Fetch ``urls`` given on the command line, with ``-o`` the root."""
        __tracebackhide__ = True

        def expected() -> dict[str, Expect]:
            return {u.served.url: Expect(self._versions(u.served, ())) for u in urls}

        command = ("-o", str(self.root), *args, *(u.served.url for u in urls))
        return self.run(*command, expected=expected, timeout=timeout)

    def run(
        self,
        *args: str,
        expected: Callable[[], Mapping[str, Expect]],
        timeout: float = RUN_TIMEOUT,
        during: Callable[[int], None] | None = None,
    ) -> Outcome:
        """The command with ``args``, ``--json --yes``, one worker; then the invariant, with
        what ``expected`` says once the run is over (the server's versions are known then).
        ``during`` is called with the command's process ID while it runs, and must wait
        for what it needs."""
        __tracebackhide__ = True
        command = ("--json", "--yes", "--workers", "1", *args)
        if during is None:
            result = run_cli(*command, cwd=self.home, timeout=timeout)
        else:
            result = _run_meanwhile(command, self.home, timeout, during)
        report = _report(result)
        outcome = Outcome(result, report, self.root)
        self.check(report, expected())
        assert "Traceback" not in result.stderr, f"a traceback:\n{outcome.describe()}"
        return outcome

    def check(self, report: dict[str, Any] | None, expected: Mapping[str, Expect]) -> None:
        __tracebackhide__ = True
        try:
            check(report, self.root, expected, self.outside.path, self.outside.before)
        except AssertionError:
            self.failed = True
            raise

    def _versions(self, served: Served, also: Sequence[str]) -> list[bytes]:
        found: list[bytes] = []
        for path in (served.path, *also):
            found += [v for v in self.server.representations(path) if v not in found]
        return found


def _run_meanwhile(
    command: Sequence[str], cwd: Path, timeout: float, during: Callable[[int], None]
) -> subprocess.CompletedProcess[str]:
    """The command started in the background, ``during`` called while it runs, then its end
    awaited; a failure of ``during`` kills it (its process group) first."""
    process = start_cli(*command, cwd=cwd)
    try:
        during(process.pid)
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _manifest_size(f: File) -> int | None:
    if f.size is False:
        return None
    return f.served.size if f.size is True else int(f.size)


def _report(result: subprocess.CompletedProcess[str]) -> dict[str, Any] | None:
    if not result.stdout.strip():
        return None
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"stdout is not a --json document:\n{result.stdout[:2000]}") from None
    return report
