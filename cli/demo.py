"""``evio-fetch --demo``: the whole machinery, offline. A server on 127.0.0.1 inside this
process serves a generated dataset shaped like the evio recordings, capping each connection the
way Google Drive does; the real engine and display fetch and verify it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
from rich.console import Console

from evio_fetch.cli.args import Args
from evio_fetch.cli.interrupts import INTERRUPTED_LINE, sigterm_as_interrupt
from evio_fetch.cli.render import make_display
from evio_fetch.cli.report import EXIT_INTERRUPTED, exit_status, summary_line
from evio_fetch.cli.units import human_duration, human_rate
from evio_fetch.engine import front_door, runner
from evio_fetch.engine.loopback.dataset import DataFile, demo_files, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread
from evio_fetch.engine.model import FileSpec

# Google Drive serves each connection at a few tens of MB/s at best; the demo caps likewise,
# which is where segmented downloads earn their keep.
CONNECTION_CAP = 16 * 1024 * 1024
# 2025-01-01T00:00:00Z, the date every served file bears.
SERVED_DATE = 1_735_689_600
# Below Linux's range of ports for outgoing connections (32768-60999), so rarely taken.
DEMO_PORT = 27182


def run_demo(args: Args, console: Console) -> int:
    keep = args.demo is not None
    out = args.demo.resolve() if args.demo is not None else Path(tempfile.mkdtemp("evio-demo"))
    try:
        with sigterm_as_interrupt():
            report = _serve_and_fetch(args, console, out)
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    console.print(summary_line(report.results, report.seconds), markup=False)
    if report.interrupted:
        # As a real run ends; a temporary directory, though, is gone with what it held.
        line = INTERRUPTED_LINE if keep else TEMPORARY_INTERRUPTED_LINE
        console.print(line, markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    if args.options.max_speed is None:  # under a cap of the user's, the comparison says nothing
        _compare_with_one_stream(console, report, args.options.concurrency)
    return exit_status(report.results)


TEMPORARY_INTERRUPTED_LINE = "Interrupted: the demo's temporary directory is removed."


def _serve_and_fetch(args: Args, console: Console, out: Path) -> runner.RunReport:
    with tempfile.TemporaryDirectory(prefix="evio-demo-server-") as served:
        console.print(f"Generating the demo dataset in {served} …", markup=False)
        files = generate(Path(served), demo_files(), seed=2025)
        _same_date(Path(served), files)
        config = ServerConfig(rate_per_connection=CONNECTION_CAP, content_disposition=True)
        with _serving(Path(served), config) as server:
            specs = demo_specs(files, server, out)
            # Two short lines rather than one that an 80-column terminal would wrap.
            cap = human_rate(CONNECTION_CAP)
            console.print(
                f"Serving {len(files)} files at {server.url} ({cap} per connection)",
                markup=False,
                soft_wrap=True,
            )
            console.print(f"Downloading into {out}", markup=False, soft_wrap=True)
            with make_display(console, quiet=args.quiet) as display:
                # The server is on this machine: never through a proxy.
                options = msgspec.structs.replace(args.options, proxy="")
                return front_door.run(front_door.plan_of(specs, options), display)


@contextmanager
def _serving(served: Path, config: ServerConfig) -> Iterator[ServerThread]:
    """The server, on DEMO_PORT when it is free: the same URLs each time, so that a demo
    interrupted into DIR resumes there (a partial download is resumed from the same URL)."""
    server = ServerThread(served, config, port=DEMO_PORT)
    try:
        server.start()
    except OSError:  # taken: any port will do, and the next run starts over
        server = ServerThread(served, config)
        server.start()
    try:
        yield server
    finally:
        server.stop()


def _same_date(served: Path, files: list[DataFile]) -> None:
    """The same bytes every time (a fixed seed) and the same date, hence the same ETag and
    Last-Modified: a resumed download checks them."""
    for f in files:
        os.utime(served / f.path, (SERVED_DATE, SERVED_DATE))


def demo_specs(files: list[DataFile], server: ServerThread, out: Path) -> list[FileSpec]:
    return [
        FileSpec(
            index=i,
            label=f.path,
            url=server.url_for(f.path),
            target=str(out / f.path),
            output_dir=str(out),
            size=f.size,
            sha256=f.sha256,
        )
        for i, f in enumerate(files)
    ]


def one_stream_seconds(sizes: list[int], concurrency: int, cap: float) -> float:
    """How long one capped stream per file would take, ``concurrency`` files at a time in
    order: each new file starts on the first free slot."""
    slots = [0.0] * max(1, concurrency)
    for size in sizes:
        slot = slots.index(min(slots))
        slots[slot] += size / cap
    return max(slots)


def _compare_with_one_stream(console: Console, report: runner.RunReport, concurrency: int) -> None:
    fetched = [r.bytes for r in report.results if r.outcome == "downloaded"]
    if not fetched or report.seconds <= 0:
        return
    single = one_stream_seconds(fetched, concurrency, CONNECTION_CAP)
    console.print(
        f"One stream per file would take about {human_duration(single)}: "
        f"{single / report.seconds:.1f} times faster segmented.",
        markup=False,
        soft_wrap=True,
    )
