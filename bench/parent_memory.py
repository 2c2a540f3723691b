"""Peak resident memory of the parent process alone for many tiny files: what the parent
keeps per file must stay small, whatever the number of files.

    python bench/parent_memory.py [--files 5000 20000 100000] [--dir /dev/shm]
    python bench/parent_memory.py --files 20000 --trace 25   # what holds the memory at the end

Each run is ``evio-fetch --manifest M --root R --yes --concurrency 32 --quiet`` (``--options``
replaces ``--quiet``: ``--options "--json"`` for a log and the report) inside a small
wrapper that prints the parent's own peak once the run has reported, its report still
held: ``VmHWM`` from /proc (Linux), which counts no worker. Not ``getrusage(RUSAGE_SELF)``:
Linux carries its ``ru_maxrss`` across ``exec``, so it would count this script's own memory,
shared by the child between its fork and its exec. With ``--trace N`` the wrapper also
runs tracemalloc and prints the N source lines holding the most memory at that moment
(tracemalloc slows the run and adds its own memory: its peak is not comparable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from servers import serve

KIB = 1024

# Runs the command line in this process, and measures once it has reported (the report is
# still held then).
WRAPPER = """
import sys, tracemalloc
from evio_fetch.cli import fetch_command
from evio_fetch.cli.main import main
trace = int(sys.argv[1])
if trace:
    tracemalloc.start(1)
finish = fetch_command.finish
def measured(args, console, report, words=()):
    code = finish(args, console, report, words)  # the summary, and --json if asked
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
    print(f"PEAK {peak}", file=sys.stderr)
    if trace:
        current, most = tracemalloc.get_traced_memory()
        print(f"TRACE traced now {current:,} B, at most {most:,} B", file=sys.stderr)
        top = tracemalloc.take_snapshot().statistics("lineno")[:trace]
        for stat in top:
            print(f"TRACE {stat.size:>12,} B {stat.count:>9,} {stat.traceback}", file=sys.stderr)
    return code
fetch_command.finish = measured
sys.exit(main(sys.argv[2:]))
"""


def served_files(root: Path, count: int) -> list[tuple[str, str]]:
    """(path, sha256) of ``count`` files of 1 KiB under ``root``, a thousand per folder,
    made once and reused."""
    found = []
    for number in range(count):
        path = f"d{number // 1000:03d}/f{number:06d}.bin"
        body = hashlib.sha512(str(number).encode()).digest() * (KIB // 64)
        file = root / path
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(body)
        found.append((path, hashlib.sha256(body).hexdigest()))
    return found


def measure(
    base: str, work: Path, files: list[tuple[str, str]], trace: int, options: list[str]
) -> int:
    manifest = work / f"manifest-{len(files)}.json"
    entries = [{"url": f"{base}/{p}", "path": p, "size": KIB, "sha256": h} for p, h in files]
    manifest.write_text(json.dumps({"datasets": entries}))
    out = work / "out"
    command = [sys.executable, "-c", WRAPPER, str(trace), "--manifest", str(manifest)]
    command += ["--root", str(out), "--yes", "--concurrency", "32", *options]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    # What --json writes on stdout is dropped; only the wrapper's lines on stderr are read.
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"evio-fetch failed ({done.returncode}):\n{done.stderr[-3000:]}")
    peak = 0
    for line in done.stderr.splitlines():
        if line.startswith("TRACE "):
            print(line.removeprefix("TRACE "))
        elif line.startswith("PEAK "):
            peak = int(line.split()[1])
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--dir", type=Path, default=Path("/dev/shm"))
    parser.add_argument("--trace", type=int, default=0, help="top N lines by memory held")
    parser.add_argument(
        "--options", default="--quiet", help="evio-fetch's other options (default: --quiet)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-parent-memory-", dir=args.dir))
    work.chmod(0o755)  # nginx's workers run as another user
    try:
        served = served_files(work / "served", max(args.files))
        os.sync()
        print("| files | parent peak RSS (MiB) | bytes per file over the first |")
        print("|---|---|---|")
        with serve(work / "served", "auto") as servers:
            first: tuple[int, int] | None = None
            for count in args.files:
                options = args.options.split()
                peak = measure(servers.plain, work, served[:count], args.trace, options)
                more = 0 if first is None else count - first[0]
                extra = f"{(peak - first[1]) / more:.0f}" if first and more else ""
                first = first or (count, peak)
                print(f"| {count:,} | {peak / 2**20:.1f} | {extra} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
