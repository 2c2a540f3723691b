"""Per scenario and client, the figures over the rounds: medians of time and CPU, the largest
peak memory (a ceiling is about the worst run, not the typical one)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from clients import Client
from rounds import Record
from scenarios import MB

GB = 1_000_000_000
MIB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    scenario: str
    client: str
    family: str
    options: tuple[str, ...]
    verifies: bool  # the client checks SHA256 itself: its wall time is its time to verified
    runs: int
    ok: int
    bytes: int  # downloaded in one run: 0 for a dry run
    files: int
    wall: float | None  # median seconds of the download command (and the sync, if timed)
    sync: float | None  # median seconds of the timed sync after the command (0 if none)
    sha: float | None  # median seconds of the hashlib SHA256 run afterwards (0 if it verifies)
    verified: float | None  # median seconds to a verified file
    cpu: float | None  # median CPU seconds of the process tree
    cpu_per_gb: float | None  # the same per 10^9 bytes downloaded
    tree_rss: int | None  # largest peak over the rounds, bytes
    process_rss: int | None

    @property
    def mbps(self) -> float | None:
        return self.bytes / MB / self.wall if self.wall and self.bytes else None

    @property
    def verified_mbps(self) -> float | None:
        return self.bytes / MB / self.verified if self.verified and self.bytes else None

    @property
    def files_per_second(self) -> float | None:
        return self.files / self.wall if self.wall else None

    def as_json(self) -> dict[str, object]:
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "mbps": self.mbps,
            "verified_mbps": self.verified_mbps,
            "files_per_second": self.files_per_second,
        }


def _median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def _row(scenario: str, client: Client, records: Sequence[Record], size: tuple[int, int]) -> Row:
    good = [r for r in records if r.ok]
    total, files = size
    fetched = total if client.fetches else 0
    # Hashing after the download is what a user of the other tools must do to trust the file.
    hashed = [0.0 if client.verifies else r.sha_seconds for r in good]
    return Row(
        scenario=scenario,
        client=client.name,
        family=client.family,
        options=client.options,
        verifies=client.verifies,
        runs=len(records),
        ok=len(good),
        bytes=fetched,
        files=files,
        wall=_median(r.wall for r in good),
        sync=_median(r.sync_seconds for r in good),
        sha=_median(hashed),
        verified=_median(r.wall + h for r, h in zip(good, hashed, strict=True)),
        cpu=_median(r.cpu for r in good),
        cpu_per_gb=_median(r.cpu / (r.bytes / GB) for r in good) if fetched else None,
        tree_rss=max((r.peak_tree_rss for r in good), default=None),
        process_rss=max((r.peak_process_rss for r in good), default=None),
    )


def summarise(
    records: Sequence[Record],
    clients: Mapping[str, Sequence[Client]],
    sizes: Mapping[str, tuple[int, int]],
) -> list[Row]:
    """One row per (scenario, client), in the order the clients ran; ``sizes`` gives each
    scenario's (bytes, files)."""
    return [
        _row(
            scenario,
            client,
            [r for r in records if r.scenario == scenario and r.client == client.name],
            sizes[scenario],
        )
        for scenario, chosen in clients.items()
        for client in chosen
    ]
