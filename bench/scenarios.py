"""What is downloaded: each scenario's files (sizes fixed here), which server port serves them,
and their deterministic data, generated once and reused while its SHA256 still matches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from checksums import sha256_of

from evio_fetch.engine.loopback.dataset import DataFile, generate

KIB = 1024
MIB = 1024 * 1024
MB = 1_000_000
LATENCY = 0.020  # seconds added per new connection and per request by the latency proxy


class Port(Enum):
    PLAIN = "unthrottled"
    CAPPED = "20 MiB/s per connection"
    LATENCY = f"unthrottled + {LATENCY * 1000:.0f} ms per connection and per request"
    NONE = "no server: planned, not fetched"


class Shape(Enum):
    ONE = "one large file"
    SMALL = "many small files"
    LARGE = "a few large files"
    TINY = "very many tiny files"  # the cost per file, not per byte
    PLAN = "a manifest planned with --dry-run"


# Measured per file rather than per byte: seconds, CPU seconds and memory, not MB/s.
PER_FILE = frozenset({Shape.TINY, Shape.PLAN})


@dataclass(frozen=True)
class Scenario:
    name: str
    port: Port
    shape: Shape
    files: tuple[tuple[str, int], ...]
    seed: int
    group: str = ""  # --only GROUP selects every scenario of the group
    # Each run's wall time includes a sync of the file system after the client exits, so a
    # client that leaves its files in the page cache pays for writing them as one that
    # flushes them itself does.
    sync: bool = False

    @property
    def total(self) -> int:
        return sum(size for _, size in self.files)

    @property
    def key(self) -> str:
        """Names the cached data: any change of files, sizes or seed gives a new name."""
        spec = json.dumps([self.seed, self.files]).encode()
        return f"{self.name}-{hashlib.sha256(spec).hexdigest()[:12]}"

    def describe(self) -> str:
        count = len(self.files)
        if self.shape is Shape.PLAN:
            return f"a {count:,}-entry manifest, {self.port.value}"
        if self.shape is Shape.TINY:
            size = self.files[0][1]
            synced = ", sync after each run (timed)" if self.sync else ""
            return f"{count:,} x {size / KIB:.0f} KiB, {self.port.value}{synced}"
        what = f"{count} x {self.files[0][1] / MB:.1f} MB" if self.shape is Shape.SMALL else ""
        what = what or (f"{count} files" if count > 1 else "1 file")
        return f"{what}, {self.total / MB:,.0f} MB, {self.port.value}"


# An evio-like recording set: .dat/.raw pairs between 50 and 500 MB, 1.4 GB in all.
EVIO_MB = (
    ("drone/drone_idle.dat", 100),
    ("drone/drone_idle.raw", 50),
    ("drone/drone_moving.dat", 120),
    ("drone/drone_moving.raw", 55),
    ("fan/fan_const_rpm.dat", 90),
    ("fan/fan_const_rpm.raw", 50),
    ("fan/fan_varying_rpm_turning.dat", 500),
    ("fan/fan_varying_rpm_turning.raw", 80),
    ("fan/fan_varying_rpm.dat", 70),
    ("fan/fan_varying_rpm.raw", 50),
    ("events-a/events.dat", 65),
    ("events-a/events.raw", 60),
    ("events-b/events.dat", 60),
    ("events-b/events.raw", 50),
)


def _small(count: int) -> tuple[tuple[str, int], ...]:
    return tuple((f"f{number:04d}.bin", MIB) for number in range(count))


def _tiny(count: int) -> tuple[tuple[str, int], ...]:
    # A thousand files per folder, the way large datasets of small files are laid out.
    return tuple((f"d{number // 1000:03d}/f{number:06d}.bin", KIB) for number in range(count))


def _evio(divisor: int) -> tuple[tuple[str, int], ...]:
    return tuple((path, megabytes * MB // divisor) for path, megabytes in EVIO_MB)


def all_scenarios(quick: bool) -> list[Scenario]:
    """The full set, or with ``quick`` the same shapes shrunk to finish in about two minutes."""
    scale = 4 if quick else 1
    return [
        Scenario("big", Port.PLAIN, Shape.ONE, (("big.bin", 1024 * MIB // scale),), seed=1),
        Scenario("capped", Port.CAPPED, Shape.ONE, (("capped.bin", 256 * MIB // scale),), seed=2),
        Scenario("many", Port.PLAIN, Shape.SMALL, _small(200 if quick else 1000), seed=3),
        Scenario("latency", Port.LATENCY, Shape.SMALL, _small(50 if quick else 200), seed=4),
        Scenario("evio", Port.CAPPED, Shape.LARGE, _evio(8 if quick else 1), seed=5),
        *_scale(quick),
    ]


def _scale(quick: bool) -> list[Scenario]:
    """The cost per file: many tiny files at two counts (memory must not grow with the count),
    and the plan of a manifest too large to fetch here."""
    many, fewer, planned = (2_000, 500, 20_000) if quick else (20_000, 5_000, 100_000)
    return [
        Scenario("scale", Port.PLAIN, Shape.TINY, _tiny(many), 6, group="scale", sync=True),
        Scenario("scale-small", Port.PLAIN, Shape.TINY, _tiny(fewer), 6, group="scale", sync=True),
        Scenario("scale-dry-run", Port.NONE, Shape.PLAN, _tiny(planned), 6, group="scale"),
    ]


def select(scenarios: list[Scenario], only: str | None) -> list[Scenario]:
    if not only:
        return scenarios
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    known = [s.name for s in scenarios] + sorted({s.group for s in scenarios if s.group})
    unknown = sorted(wanted.difference(known))
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}")
    return [s for s in scenarios if s.name in wanted or s.group in wanted]


def prepare(scenario: Scenario, served: Path) -> list[DataFile]:
    """The scenario's files under ``served/<key>/``: reused when every file still hashes as
    recorded (which also brings it into the page cache, as a busy server would have it),
    generated otherwise. A scenario without a server gets descriptions only: nothing is
    fetched, so no byte needs to exist."""
    if scenario.port is Port.NONE:
        return [_unwritten(path, size) for path, size in scenario.files]
    root = served / scenario.key
    record = served / f"{scenario.key}.json"
    if record.exists():
        files = [DataFile(**entry) for entry in json.loads(record.read_text())]
        if all(_intact(root, data) for data in files):
            print(f"  {scenario.name}: reusing {root} (SHA256 checked)")
            return files
    print(f"  {scenario.name}: generating {scenario.describe()} in {root}")
    files = generate(root, scenario.files, seed=scenario.seed)
    record.write_text(
        json.dumps([{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files])
    )
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # nginx's workers run as another user
    return files


def _unwritten(path: str, size: int) -> DataFile:
    return DataFile(path, size, hashlib.sha256(path.encode()).hexdigest())


def _intact(root: Path, data: DataFile) -> bool:
    path = root / data.path
    return path.is_file() and path.stat().st_size == data.size and sha256_of(path) == data.sha256
