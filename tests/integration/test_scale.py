"""Many small files: open files, sockets and memory stay bounded, and nothing waits on stdin."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from support import cli_command

from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

COUNT = 5000


def descriptors(root: int) -> int:
    """Open file descriptors of a process and its children (0 for one that just exited)."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending += [int(c) for c in children.read().split()]
        except OSError:
            continue
    return total


def test_five_thousand_small_files(tmp_path: Path) -> None:
    served = tmp_path / "served"
    entries = []
    for i in range(COUNT):
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
        most = 0
        while run.poll() is None:
            most = max(most, descriptors(run.pid))
            try:
                run.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
        _, stderr = run.communicate(timeout=5)
        assert run.stdin is not None
        run.stdin.close()
    assert run.returncode == 0, stderr
    assert f"{COUNT} downloaded" in stderr
    assert server.stats.requests == COUNT  # one request per small file: the probe brings it
    assert most < 200, f"{most} descriptors open at once"
    landed = sum(1 for p in (tmp_path / "out").rglob("*.bin"))
    assert landed == COUNT
