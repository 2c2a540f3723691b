"""evio-fetch against curl, aria2c and wget, every server on 127.0.0.1, set up and torn down here.

    python bench/run.py [--quick] [--rounds N] [--dir DIR] [--out DIR] [--only SCENARIO,...]

Writes results.json, results.md and PNG charts into --out; see bench/README.md."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import plots
import report
from clients import Client, Entry, clients_for
from latency_proxy import latency_proxy
from machine import MEMORY_FILESYSTEMS, facts, filesystem, load_average
from rounds import Record, run_rounds
from scenarios import LATENCY, PER_FILE, Port, Scenario, all_scenarios, prepare, select
from servers import CAP_BYTES, Servers, serve
from summary import summarise
from targets import evaluate

BENCH = Path(__file__).resolve().parent
# Where a scenario that fetches nothing points its URLs: the discard port, never contacted.
NOWHERE = "http://127.0.0.1:9"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, 1 round, fewer clients")
    parser.add_argument("--rounds", type=int, help="rounds of every client (default 3; 1 --quick)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path.cwd() / ".evio-bench",
        help="served data (kept and reused) and downloads (deleted after each run); "
        "put it on the disk you mean to measure (default: ./.evio-bench)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="results and charts")
    parser.add_argument(
        "--only",
        help="comma-separated scenarios: big,capped,many,latency,evio,scale "
        "(scale: scale,scale-small,scale-dry-run)",
    )
    parser.add_argument(
        "--server",
        choices=["auto", "nginx", "loopback"],
        default="auto",
        help="auto: nginx when installed, else the project's loopback server",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def prepare_dir(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "data").mkdir(exist_ok=True)
    for path in (work, work / "data"):
        path.chmod(0o755)  # nginx's workers run as another user and must read the data
    unreadable = [p for p in work.resolve().parents if p.stat().st_mode & 0o001 == 0]
    if unreadable:
        print(f"warning: {unreadable[0]} is not searchable by other users; nginx may get 403")
    kind = filesystem(work)
    if kind in MEMORY_FILESYSTEMS:
        print(f"warning: {work} is on {kind}: downloads go to memory, not to a disk")


@contextmanager
def base_url(scenario: Scenario, servers: Servers) -> Iterator[str]:
    if scenario.port is Port.LATENCY:
        with latency_proxy(servers.plain, LATENCY) as url:
            yield url
    elif scenario.port is Port.NONE:
        yield NOWHERE
    else:
        yield servers.capped if scenario.port is Port.CAPPED else servers.plain


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    scenarios = select(all_scenarios(args.quick), args.only)
    prepare_dir(args.dir)
    served = args.dir / "data"
    print(f"data in {served} ({filesystem(args.dir)}):")
    data = {s.name: prepare(s, served) for s in scenarios}
    chosen: dict[str, list[Client]] = {
        s.name: clients_for(s.shape, s.name, args.quick) for s in scenarios
    }
    records: list[Record] = []
    with serve(served, args.server) as servers:
        if servers.kind != "nginx":
            print("nginx is not installed: serving with the project's loopback server")
        machine = facts(args.dir, servers.kind, servers.version)
        print(f"load average: {machine['load average at start']}")
        for scenario in scenarios:
            print(f"{scenario.name}: {scenario.describe()}, {args.rounds} round(s)", flush=True)
            with base_url(scenario, servers) as base:
                folder = f"{base}/{scenario.key}"  # the key hashes every file: once, not per file
                entries = [
                    Entry(f"{folder}/{f.path}", f.path, f.size, f.sha256)
                    for f in data[scenario.name]
                ]
                records += run_rounds(
                    scenario, entries, chosen[scenario.name], args.rounds, args.dir
                )
    machine["load average at end"] = load_average()
    rows = summarise(records, chosen, {s.name: (s.total, len(s.files)) for s in scenarios})
    targets = evaluate(rows, [s.name for s in scenarios])
    descriptions = {s.name: s.describe() for s in scenarios}
    settings = {
        "quick": args.quick,
        "rounds": args.rounds,
        "server": servers.kind,
        "cap_bytes_per_second_per_connection": CAP_BYTES,
        "latency_seconds_per_connection_and_request": LATENCY,
    }
    per_file = {s.name for s in scenarios if s.shape in PER_FILE}
    text = report.write(args.out, machine, settings, rows, targets, records, descriptions, per_file)
    print()
    print(text)
    # The charts are of MB/s; the scenarios counted in files have their table only.
    charted = {name: about for name, about in descriptions.items() if name not in per_file}
    for path in plots.draw(rows, charted, args.out):
        print(f"wrote {path}")
    print(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 1 if any(not r.ok for r in records) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Every server, proxy and client has been stopped on the way out.
        print("interrupted", file=sys.stderr)
        sys.exit(130)
