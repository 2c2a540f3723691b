"""Crash soak: SIGKILL a real evio-fetch run (parent and workers at once) at random moments,
re-run after each kill, and check that the last run ends byte-identical with little fetched
twice. While each run is alive the final path is watched: it must never hold an incomplete
file.

    python bench/soak.py [--size-mib 200] [--kills 20] [--cap-mib 1.5] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from measure import evio_fetch

from evio_fetch.engine.loopback.dataset import generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--cap-mib", type=float, default=1.5, help="per-connection cap, MiB/s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        soak(work, args.size_mib * MIB, args.kills, int(args.cap_mib * MIB), args.seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def soak(work: Path, size: int, kills: int, cap: int, seed: int) -> None:
    (data,) = generate(work / "served", [("big.dat", size)], seed=seed)
    original = work / "served" / "big.dat"
    final = work / "out" / "big.dat"
    rng = random.Random(seed)
    with ServerThread(work / "served", ServerConfig(rate_per_connection=cap)) as server:
        manifest = work / "m.json"
        manifest.write_text(
            json.dumps(
                {
                    "datasets": [
                        {
                            "url": server.url_for("big.dat"),
                            "path": "out/big.dat",
                            "size": size,
                            "sha256": data.sha256,
                        }
                    ]
                }
            )
        )
        command = evio_fetch(manifest, work)
        done_kills = 0
        while done_kills < kills:
            moment = rng.uniform(0.3, 3.0)
            if run_until(command, moment, final, size):
                break  # finished before the kill: nothing left to interrupt
            done_kills += 1
        served_before_last = server.stats.bytes_sent
        last = subprocess.run(command, capture_output=True, text=True, check=False)
        total = server.stats.bytes_sent
    identical = last.returncode == 0 and same_file(final, original)
    print(
        f"file: {size / MIB:.0f} MiB, per-connection cap {cap / MIB:.1f} MiB/s; "
        f"SIGKILLs: {done_kills}; final run exit {last.returncode}; "
        f"byte-identical: {identical}"
    )
    print(
        f"bytes served: {total / MIB:.1f} MiB = {total / size:.3f} x the file "
        f"(last run: {(total - served_before_last) / MIB:.1f} MiB)"
    )
    if not identical:
        raise SystemExit(1)


def run_until(command: list[str], moment: float, final: Path, size: int) -> bool:
    """Run until ``moment`` seconds, watching the final path; SIGKILL the whole process
    group then. True if the run finished by itself first."""
    run = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + moment
    while time.monotonic() < deadline and run.poll() is None:
        if final.exists() and final.stat().st_size != size:
            raise SystemExit(f"{final} holds an incomplete file")
        time.sleep(0.01)
    if run.poll() is not None:
        return True
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    return False


def same_file(a: Path, b: Path) -> bool:
    with a.open("rb") as left, b.open("rb") as right:
        while True:
            x, y = left.read(1 << 20), right.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


if __name__ == "__main__":
    main()
