"""The shipped evio manifest, fetched from the loopback Drive emulator serving its fourteen
Drive IDs: every file lands segmented and verified."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from support import MIB, leftovers, run_cli

from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "docs" / "data" / "datasets.json"


def test_all_fourteen_recordings(tmp_path: Path) -> None:
    entries = json.loads(MANIFEST.read_text())["datasets"]
    assert len(entries) == 14
    expected = {}
    with DriveEmulatorThread(rate_per_connection=16 * MIB) as drive:
        for number, entry in enumerate(entries):
            data = hashlib.sha256(entry["id"].encode()).digest() * ((number % 4 + 1) * 100_000)
            drive.add(entry["id"], data, entry["name"], large=len(data) > 2 * MIB)
            expected[entry["path"]] = data
        result = run_cli(
            "--manifest",
            str(MANIFEST),
            "--root",
            "out",
            "--json",
            "--segments",
            "4",
            cwd=tmp_path,
            env={"EVIO_FETCH_DRIVE_URL": drive.base_url},
        )
        streams = drive.stats.snapshot().max_streams_by_id
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["downloaded"] == 14
    for path, data in expected.items():
        assert (tmp_path / "out" / path).read_bytes() == data
    assert max(streams.values()) >= 4  # the large ones came over several connections
    assert leftovers(tmp_path / "out") == []
