"""Google Drive end to end through the loopback Drive emulator: the confirm flow, segmented
downloads on the confirmed URL, named failures, and re-resolution when a link expires."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, leftovers, run_cli

from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread

CAP = 4 * MIB  # per connection, the way Drive caps each connection


@pytest.fixture
def drive() -> Iterator[DriveEmulatorThread]:
    with DriveEmulatorThread(prefix="/drive", rate_per_connection=CAP) as emulator:
        yield emulator


@pytest.fixture
def recordings(tmp_path: Path) -> list[DataFile]:
    return generate(
        tmp_path / "served",
        [("fan.dat", 16 * MIB), ("fan.raw", 3 * MIB), ("notes.txt", 100_000)],
        seed=9,
    )


def fetch(
    tmp_path: Path, drive: DriveEmulatorThread, entries: list[dict[str, object]], *args: str
) -> tuple[int, dict[str, object], str]:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"version": 1, "datasets": entries}))
    result = run_cli(
        "--manifest",
        str(manifest),
        "--json",
        *args,
        cwd=tmp_path,
        env={"EVIO_FETCH_DRIVE_URL": drive.base_url},
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def add_all(
    tmp_path: Path, drive: DriveEmulatorThread, files: list[DataFile], **switches: bool
) -> list[dict[str, object]]:
    entries = []
    for number, data in enumerate(files):
        file_id = f"1DriveFileId{number:02d}xxxxxxxxxxxxxxxxxxx"
        drive.add(
            file_id, tmp_path / "served" / data.path, data.path, large=data.size > MIB, **switches
        )
        entries.append({"id": file_id, "path": f"data/{data.path}", "sha256": data.sha256})
    return entries


def test_segmented_downloads_through_the_confirm_flow(
    tmp_path: Path, drive: DriveEmulatorThread, recordings: list[DataFile]
) -> None:
    entries = add_all(tmp_path, drive, recordings)
    status, report, stderr = fetch(tmp_path, drive, entries, "--segments", "4")
    assert status == 0, stderr
    assert [f["outcome"] for f in report["files"]] == ["downloaded"] * 3  # type: ignore[index]
    for data in recordings:
        landed = (tmp_path / "data" / data.path).read_bytes()
        assert landed == (tmp_path / "served" / data.path).read_bytes()
    stats = drive.stats.snapshot()
    assert stats.max_streams_by_id[str(entries[0]["id"])] >= 4
    assert leftovers(tmp_path) == []


def test_segments_are_capped_connections_at_once(
    tmp_path: Path, drive: DriveEmulatorThread, recordings: list[DataFile]
) -> None:
    # Drive caps each connection, so what makes segments faster than one stream is several
    # connections streaming at once; the emulator's tests show each has a cap of its own.
    entries = add_all(tmp_path, drive, recordings[:1])
    most = {}
    for segments in ("1", "4"):
        drive.stats.reset()
        status, _, stderr = fetch(
            tmp_path, drive, entries, "--segments", segments, "--root", f"s{segments}"
        )
        assert status == 0, stderr
        most[segments] = drive.stats.snapshot().max_streams_by_id[str(entries[0]["id"])]
    assert most["1"] == 1
    assert most["4"] >= 4


def test_without_segments_drive_gets_at_most_four(
    tmp_path: Path, drive: DriveEmulatorThread, recordings: list[DataFile]
) -> None:
    # Each connection is capped, so the file's connections grow; many requests risk Drive's
    # quota, so they stop at four.
    entries = add_all(tmp_path, drive, recordings[:1])
    status, _, stderr = fetch(tmp_path, drive, entries)
    assert status == 0, stderr
    most = drive.stats.snapshot().max_streams_by_id[str(entries[0]["id"])]
    assert 2 < most <= 4


def test_quota_is_a_named_failure_and_not_retried(
    tmp_path: Path, drive: DriveEmulatorThread, recordings: list[DataFile]
) -> None:
    entries = add_all(tmp_path, drive, recordings[:1], quota=True)
    ok_id = "1DriveOkIdxxxxxxxxxxxxxxxxxxxxxxxx"
    drive.add(ok_id, tmp_path / "served" / "notes.txt", "notes.txt")
    entries.append({"id": ok_id, "path": "data/notes.txt"})
    status, report, stderr = fetch(tmp_path, drive, entries)
    assert status == 1
    failed, fine = report["files"]  # type: ignore[misc]
    assert failed["error"]["code"] == "drive_quota"
    assert "https://drive.google.com/file/d/" in failed["error"]["hint"]
    assert fine["outcome"] == "downloaded"
    assert drive.stats.count("quota") == 1  # asked once: quota is not retried
    assert "quota" in stderr and not (tmp_path / "data" / "fan.dat").exists()


def test_sign_in_is_a_named_failure(
    tmp_path: Path, drive: DriveEmulatorThread, recordings: list[DataFile]
) -> None:
    entries = add_all(tmp_path, drive, recordings[1:2], private=True)
    status, report, _ = fetch(tmp_path, drive, entries)
    assert status == 2  # its only file failed
    error = report["files"][0]["error"]  # type: ignore[index]
    assert error["code"] == "drive_signin" and "resource key" in error["message"]


def test_expired_link_mid_file_is_resolved_again(
    tmp_path: Path, drive: DriveEmulatorThread, recordings: list[DataFile]
) -> None:
    entries = add_all(tmp_path, drive, recordings[:1])
    drive.emulator.expire_after(6 * MIB)  # Drive withdraws the confirmed URL mid-download
    status, _, stderr = fetch(tmp_path, drive, entries, "--segments", "4")
    assert status == 0, stderr
    data = recordings[0]
    assert (tmp_path / "data" / data.path).read_bytes() == (
        tmp_path / "served" / data.path
    ).read_bytes()
    stats = drive.stats.snapshot()
    assert stats.requests["confirm_page"] >= 2  # the flow ran again
    assert stats.bytes_sent < data.size + 4 * MIB  # and did not start over
