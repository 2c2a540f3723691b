"""The fixed cost of a run: one 1 MiB file, the whole command, as a person types it.

    python bench/start.py [--runs N]

Runs ``evio-fetch -o DIR URL --yes --quiet`` (the console script beside this interpreter)
and ``curl -o FILE URL`` N times each, alternating, against the project's loopback server on
127.0.0.1, and prints the median wall and CPU seconds (the whole process tree, to its last
exit) and the check that every download is whole."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from measure import run

from evio_fetch.engine.loopback.dataset import generate
from evio_fetch.engine.loopback.server import ServerThread

MIB = 1024 * 1024
TARGET = 0.2  # seconds, issue 14


def command(name: str, url: str, out: Path) -> list[str]:
    if name == "curl":
        return ["curl", "--silent", "--show-error", "--fail", "-o", str(out / "f.bin"), url]
    script = Path(sys.executable).parent / "evio-fetch"
    start = [str(script)] if script.exists() else [sys.executable, "-m", "evio_fetch.cli"]
    return [*start, "-o", str(out), url, "--yes", "--quiet"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each client (default 7)")
    args = parser.parse_args(argv)
    clients = ["evio-fetch"] + (["curl"] if shutil.which("curl") else [])
    with tempfile.TemporaryDirectory(prefix="evio-start-") as scratch:
        served = Path(scratch) / "served"
        (data,) = generate(served, [("f.bin", MIB)], seed=14)
        walls: dict[str, list[float]] = {name: [] for name in clients}
        cpus: dict[str, list[float]] = {name: [] for name in clients}
        failed = 0
        with ServerThread(served) as server:
            for number in range(args.runs):
                for name in clients:
                    out = Path(scratch) / f"{name}-{number}"
                    out.mkdir()
                    measured = run(command(name, server.url_for("f.bin"), out), timeout=60)
                    whole = hashlib.sha256((out / "f.bin").read_bytes()).hexdigest()
                    if measured.returncode != 0 or whole != data.sha256:
                        failed += 1
                        print(f"{name}: run {number} failed: {measured.stderr.strip()}")
                    walls[name].append(measured.wall)
                    cpus[name].append(measured.cpu)
    for name in clients:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:>10}: median {wall:.3f} s wall, {cpu:.3f} s CPU ({args.runs} runs)")
    wall = statistics.median(walls["evio-fetch"])
    print(f"target: evio-fetch ≤ {TARGET} s: {'met' if wall <= TARGET else 'missed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
