"""Run every client on a scenario in alternating rounds (A B C, A B C, ...) so that drift on
the machine hits all of them alike; each run in a fresh directory, its bytes checked after."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from checksums import timed_sha256
from clients import Client, Entry, Job
from measure import Measured, run
from scenarios import MB, PER_FILE, Scenario


@dataclass(frozen=True)
class Record:
    """One run of one client. ``wall`` includes ``sync_seconds`` (the sync after the client
    exited, in a scenario that times it); ``sha_seconds`` is what a hashlib SHA256 of the
    result took. ``bytes`` is what was downloaded: 0 for a dry run."""

    scenario: str
    client: str
    round: int
    ok: bool
    error: str
    wall: float
    cpu: float
    peak_tree_rss: int
    peak_process_rss: int
    sha_seconds: float
    bytes: int
    files: int
    sync_seconds: float

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def timeout_for(scenario: Scenario) -> float:
    """Generous: a client slower than 5 MB/s, or 20 files/s, on loopback is stuck, not slow."""
    return 60 + scenario.total / (5 * MB) + len(scenario.files) / 20


def run_rounds(
    scenario: Scenario,
    entries: Sequence[Entry],
    clients: Sequence[Client],
    rounds: int,
    work: Path,
) -> list[Record]:
    records = []
    for number in range(1, rounds + 1):
        for client in clients:
            record = run_once(scenario, entries, client, number, work)
            records.append(record)
            line = _line(record, per_file=scenario.shape in PER_FILE)
            print(f"  [{scenario.name} round {number}/{rounds}] {line}", flush=True)
    return records


def run_once(
    scenario: Scenario, entries: Sequence[Entry], client: Client, number: int, work: Path
) -> Record:
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    try:
        job = Job(list(entries), run_dir / "out", run_dir / "scratch")
        job.out.mkdir()
        job.scratch.mkdir()
        measured = run(client.build(job), timeout=timeout_for(scenario))
        synced = _timed_sync() if scenario.sync else 0.0
        error, sha_seconds = _check(measured, job, client.fetches)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        # The next client must not pay for writing back this one's dirty pages.
        os.sync()
    return Record(
        scenario.name,
        client.name,
        number,
        not error,
        error,
        measured.wall + synced,
        measured.cpu,
        measured.peak_tree_rss,
        measured.peak_process_rss,
        sha_seconds,
        scenario.total if client.fetches else 0,
        len(entries),
        synced,
    )


def _timed_sync() -> float:
    began = time.monotonic()
    os.sync()
    return time.monotonic() - began


def _check(measured: Measured, job: Job, fetches: bool) -> tuple[str, float]:
    """(why the run failed or "", seconds the SHA256 of every file took)."""
    if measured.timed_out:
        return "timed out", 0.0
    if measured.returncode != 0:
        tail = measured.stderr.strip().splitlines()[-3:]
        return f"exit status {measured.returncode}: {' | '.join(tail)}", 0.0
    seconds = 0.0
    if not fetches:
        return "", seconds
    for entry in job.entries:
        path = job.out / entry.path
        if not path.is_file():
            return f"{entry.path} is missing", seconds
        digest, took = timed_sha256(path)
        seconds += took
        if digest != entry.sha256:
            return f"{entry.path}: SHA256 mismatch", seconds
    return "", seconds


def _line(record: Record, per_file: bool) -> str:
    if not record.ok:
        return f"{record.client}: FAILED ({record.error})"
    if per_file:
        synced = f" (sync {record.sync_seconds:.2f} s)" if record.sync_seconds else ""
        return (
            f"{record.client}: {record.wall:.2f} s{synced}, {record.files / record.wall:.0f} "
            f"files/s, CPU {record.cpu:.2f} s, tree RSS {record.peak_tree_rss / 2**20:.0f} MiB"
        )
    return (
        f"{record.client}: {record.wall:.2f} s, {record.bytes / MB / record.wall:.0f} MB/s, "
        f"CPU {record.cpu:.2f} s, tree RSS {record.peak_tree_rss / 2**20:.0f} MiB"
    )
