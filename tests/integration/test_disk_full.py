"""A full device: the run stops cleanly with exit status 2, says so, and corrupts nothing.
Uses a small tmpfs (CI runs as root); skipped, with the reason, where mounting is refused."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, run_cli

from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def files(tmp_path: Path) -> list[DataFile]:
    return generate(
        tmp_path / "served", [("a.bin", 2 * MIB), ("big.bin", 16 * MIB), ("c.bin", MIB)], seed=4
    )


def manifest(path: Path, server: ServerThread, files: list[DataFile], sizes: bool) -> Path:
    entries = [
        {
            "url": server.url_for(f.path),
            "path": f.path,
            "sha256": f.sha256,
            **({"size": f.size} if sizes else {}),
        }
        for f in files
    ]
    path.write_text(json.dumps({"datasets": entries}))
    return path


def test_known_size_is_refused_before_any_request(
    tmp_path: Path, small_disk: Path, files: list[DataFile]
) -> None:
    with ServerThread(tmp_path / "served", ServerConfig()) as server:
        listed = manifest(tmp_path / "m.json", server, files, sizes=True)
        result = run_cli(
            "--manifest",
            str(listed),
            "--root",
            str(small_disk),
            "--json",
            "--concurrency",
            "1",
            cwd=tmp_path,
        )
        asked = server.stats.requests_by_path
    assert result.returncode == 2, result.stderr
    assert "no space left" in result.stderr and "Traceback" not in result.stderr
    report = json.loads(result.stdout)["files"]
    assert [f["outcome"] for f in report] == ["downloaded", "failed", "skipped"]
    assert report[1]["error"]["code"] == "disk_full"
    assert asked.get("big.bin", 0) == 0
    assert (small_disk / "a.bin").read_bytes() == (tmp_path / "served" / "a.bin").read_bytes()
    assert not (small_disk / "big.bin").exists()


@pytest.mark.parametrize("ranges", [True, False])
def test_unknown_size_stops_cleanly(
    tmp_path: Path, small_disk: Path, files: list[DataFile], ranges: bool
) -> None:
    config = (
        ServerConfig() if ranges else ServerConfig(ignore_ranges=True, omit_content_length=True)
    )
    with ServerThread(tmp_path / "served", config) as server:
        listed = manifest(tmp_path / "m.json", server, files[1:2], sizes=False)
        result = run_cli("--manifest", str(listed), "--root", str(small_disk), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no space left" in result.stderr and "Traceback" not in result.stderr
    assert not (small_disk / "big.bin").exists()
    if not ranges:
        # Nothing resumable was written: the partial file is gone and the space is free again.
        assert not (small_disk / "big.bin.evio-part").exists()
