"""The shipped evio manifest against the loopback Drive emulator serving its fourteen IDs,
each connection capped the way Drive caps it: --segments 1 against --segments 4, verified.

    python bench/drive_evio.py [--cap-mib 8] [--scale-mib 8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from measure import evio_fetch

from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "docs" / "data" / "datasets.json"
MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap-mib", type=float, default=8.0, help="per connection, MiB/s")
    parser.add_argument("--scale-mib", type=int, default=8, help="sizes are 1-4 times this")
    args = parser.parse_args()
    entries = json.loads(MANIFEST.read_text())["datasets"]
    work = Path(tempfile.mkdtemp(prefix="bench-drive-"))
    try:
        with DriveEmulatorThread(rate_per_connection=int(args.cap_mib * MIB)) as drive:
            expected = {}
            for number, entry in enumerate(entries):
                size = (number % 4 + 1) * args.scale_mib * MIB
                data = hashlib.sha256(entry["id"].encode()).digest() * (size // 32)
                drive.add(entry["id"], data, entry["name"], large=True)
                expected[entry["path"]] = hashlib.sha256(data).hexdigest()
            total = sum((n % 4 + 1) * args.scale_mib for n in range(len(entries)))
            print(f"{len(entries)} files, {total} MiB, {args.cap_mib} MiB/s per connection")
            for segments in ("1", "4"):
                out = work / f"s{segments}"
                began = time.monotonic()
                done = subprocess.run(
                    evio_fetch(MANIFEST, out, "--segments", segments),
                    env={**os.environ, "EVIO_FETCH_DRIVE_URL": drive.base_url},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                seconds = time.monotonic() - began
                ok = done.returncode == 0 and all(
                    hashlib.sha256((out / p).read_bytes()).hexdigest() == h
                    for p, h in expected.items()
                )
                print(
                    f"--segments {segments}: {seconds:.1f} s, {total / seconds:.1f} MiB/s, "
                    f"all 14 verified: {ok}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
