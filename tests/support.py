"""Helpers the tests share (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread
from evio_fetch.engine.model import FileSpec

MIB = 1024 * 1024
# Sizes that exercise every path: empty, one byte, one segment, several segments, an odd tail.
MIXED_SIZES = [
    ("empty.bin", 0),
    ("one.bin", 1),
    ("small/a.dat", MIB + 17),
    ("big/b.raw", 9 * MIB + 12345),
    ("big/c.dat", 24 * MIB + 1),
]


def specs_for(
    files: Sequence[DataFile],
    server: ServerThread,
    out: Path,
    *,
    sizes: bool = True,
    hashes: bool = True,
) -> list[FileSpec]:
    return [
        FileSpec(
            index=i,
            label=f.path,
            url=server.url_for(f.path),
            target=str(out / f.path),
            size=f.size if sizes else None,
            sha256=f.sha256 if hashes else None,
        )
        for i, f in enumerate(files)
    ]


def same_bytes(served: Path, out: Path, files: Sequence[DataFile]) -> bool:
    return all((out / f.path).read_bytes() == (served / f.path).read_bytes() for f in files)


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith((".evio-part", ".evio-state"))]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess, from the installed package."""
    return subprocess.run(
        [sys.executable, "-m", "evio_fetch.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **(env or {})},
    )
