"""Many small files: open files, sockets and memory stay bounded whatever the count of files,
and nothing waits on stdin."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import MIB, cli_command

from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

pytestmark = pytest.mark.linux  # every process of a run, sampled from /proc

COUNT = 5000
# What one more file may cost the whole run at its peak: its manifest entry, plan item and
# result (about a KiB in all), with room for the noise of a process's resident size. Holding
# a file's bytes, a connection or a buffer per file would cost many times this.
PER_FILE = 8 * 1024


@dataclass
class Tree:
    """A process and its descendants, sampled from /proc while the run lasts."""

    root: int
    most_descriptors: int = 0
    peak_rss: dict[int, int] = field(default_factory=dict)
    """Each process's peak resident size (VmHWM), as last read."""

    def sample(self) -> None:
        pids = self._pids()
        self.most_descriptors = max(self.most_descriptors, sum(map(descriptors, pids)))
        for pid in pids:
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), peak_rss(pid))

    @property
    def total_peak_rss(self) -> int:
        """At least the tree's resident size at its peak (each process's own peaks added)."""
        return sum(self.peak_rss.values())

    def _pids(self) -> list[int]:
        found, pending = [], [self.root]
        while pending:
            pid = pending.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        pending += [int(c) for c in children.read().split()]
            except OSError:
                continue  # it just exited
        return found


def descriptors(pid: int) -> int:
    """Open file descriptors of a process (0 for one that just exited)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def peak_rss(pid: int) -> int:
    """The most memory a process has had resident so far, in bytes (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Run:
    tree: Tree
    returncode: int
    stderr: str
    requests: int
    landed: int


def fetch_small_files(tmp_path: Path, count: int) -> Run:
    served = tmp_path / "served"
    entries = []
    for i in range(count):
        data = i.to_bytes(4, "big") * 256
        path = served / f"d{i % 50}" / f"f{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append((f"d{i % 50}/f{i}.bin", len(data), hashlib.sha256(data).hexdigest()))
    with ServerThread(served, ServerConfig()) as server:
        manifest = tmp_path / "m.json"
        manifest.write_text(
            json.dumps(
                {
                    "datasets": [
                        {"url": server.url_for(p), "path": p, "size": n, "sha256": h}
                        for p, n, h in entries
                    ]
                }
            )
        )
        # A pipe that never sends: the tool must not wait on it.
        run = subprocess.Popen(
            cli_command(
                "--manifest", str(manifest), "--root", "out", "--concurrency", "16", "--quiet"
            ),
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        tree = Tree(run.pid)
        while run.poll() is None:
            tree.sample()
            try:
                run.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
        _, stderr = run.communicate(timeout=5)
        assert run.stdin is not None
        run.stdin.close()
        requests = server.stats.requests
    landed = sum(1 for _ in (tmp_path / "out").rglob("*.bin"))
    return Run(tree, run.returncode, stderr, requests, landed)


def test_many_small_files_in_bounded_descriptors_and_memory(tmp_path: Path) -> None:
    few = fetch_small_files(tmp_path / "few", COUNT // 4)
    many = fetch_small_files(tmp_path / "many", COUNT)
    for run, count in ((few, COUNT // 4), (many, COUNT)):
        assert run.returncode == 0, run.stderr
        assert f"{count} downloaded" in run.stderr
        assert run.requests == count  # one request per small file: the probe brings it
        assert run.landed == count
    assert many.tree.most_descriptors < 200, f"{many.tree.most_descriptors} descriptors at once"
    # Four times the files, and the peak memory of every process of the run together grows by
    # what the extra files' records take, not by anything held per file downloaded.
    few_mib, many_mib = few.tree.total_peak_rss / MIB, many.tree.total_peak_rss / MIB
    grown = many.tree.total_peak_rss - few.tree.total_peak_rss
    assert grown < (COUNT - COUNT // 4) * PER_FILE, f"{few_mib:.0f} MiB, then {many_mib:.0f} MiB"
