"""Deterministic test data: files whose bytes depend only on a seed and their path.

The same ``(seed, path)`` always yields the same bytes, on any machine, so a test, the demo
and a benchmark can regenerate a dataset and know every SHA256 in advance. A longer file
with the same seed and path starts with the shorter one's bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import msgspec

MIB = 1024 * 1024
BLOCK = MIB


class DataFile(msgspec.Struct, frozen=True):
    """One generated file: its POSIX path relative to the dataset root, size and SHA256."""

    path: str
    size: int
    sha256: str


def demo_files() -> list[tuple[str, int]]:
    """A small dataset shaped like the evio recordings (about 175 MiB)."""
    return [
        ("fan/fan_const_rpm.dat", 96 * MIB),
        ("fan/fan_const_rpm.raw", 24 * MIB),
        ("drone/drone_idle.dat", 48 * MIB),
        ("drone/drone_idle.raw", 6 * MIB),
        ("notes/README.txt", 1 * MIB),
    ]


def generate(root: Path, files: Sequence[tuple[str, int]], seed: int = 0) -> list[DataFile]:
    """Write each ``(path, size)`` under ``root`` (creating folders) and describe it."""
    checked = [(_check_path(path), _check_size(path, size)) for path, size in files]
    # Hashing and writing both release the GIL, so the hash runs on a helper thread while
    # the block is written: with two cores the hash then costs almost no time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset-sha256") as hasher:
        return [_write(root, path, size, seed, hasher) for path, size in checked]


def _check_path(path: str) -> str:
    pure = PurePosixPath(path)
    if (
        not path
        or pure.is_absolute()
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise ValueError(f"dataset path {path!r} must be a relative POSIX path without . or ..")
    return path


def _check_size(path: str, size: int) -> int:
    if size < 0:
        raise ValueError(f"dataset file {path!r} cannot have a negative size ({size})")
    return size


def _write(root: Path, path: str, size: int, seed: int, hasher: Executor) -> DataFile:
    target = root.joinpath(*path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    left = size
    with target.open("wb") as out:
        for block in _blocks(seed, path):
            if left <= 0:
                break
            piece = block[:left] if left < len(block) else block
            hashed = hasher.submit(digest.update, piece)
            out.write(piece)
            hashed.result()
            left -= len(piece)
    return DataFile(path, size, digest.hexdigest())


def _blocks(seed: int, path: str) -> Iterator[bytes]:
    # random.randbytes alone runs near 300 MB/s, too slow once hashing and writing are
    # added. So one random block is drawn per file and every block is that block passed
    # through a fresh random byte permutation: each block still looks random and differs
    # from every other, so bytes written at the wrong offset change the file's SHA256,
    # and bytes.translate runs at memory speed.
    rng = random.Random(f"evio-fetch dataset {seed} {path}")
    base = rng.randbytes(BLOCK)
    symbols = list(range(256))
    while True:
        rng.shuffle(symbols)
        yield base.translate(bytes(symbols))
