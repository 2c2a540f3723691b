"""Peak resident memory of the whole evio-fetch process tree for files of different sizes:
memory must not grow with the file.

    python bench/memory.py [--sizes-mib 64 2048] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from measure import evio_fetch, run
from servers import serve

from evio_fetch.engine.loopback.dataset import generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[64, 2048])
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    parser.add_argument("--segments", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-memory-", dir=args.dir))
    work.chmod(0o755)  # nginx's workers run as another user
    try:
        files = generate(work / "served", [(f"f{m}.bin", m << 20) for m in args.sizes_mib])
        print("| file | segments | wall s | peak RSS tree (MiB) | largest process (MiB) |")
        print("|---|---|---|---|---|")
        with serve(work / "served", "auto") as servers:
            for data in files:
                out = work / f"out-{data.path}"
                manifest = work / f"{data.path}.json"
                manifest.write_text(
                    json.dumps(
                        {
                            "datasets": [
                                {
                                    "url": f"{servers.plain}/{data.path}",
                                    "path": data.path,
                                    "sha256": data.sha256,
                                }
                            ]
                        }
                    )
                )
                measured = run(evio_fetch(manifest, out, "--segments", str(args.segments)))
                assert measured.returncode == 0, measured.stderr
                print(
                    f"| {data.size >> 20} MiB | {args.segments} | {measured.wall:.1f} | "
                    f"{measured.peak_tree_rss / 2**20:.0f} | "
                    f"{measured.peak_process_rss / 2**20:.0f} |"
                )
                shutil.rmtree(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
