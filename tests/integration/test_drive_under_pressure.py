"""Google Drive under pressure, through the installed command and the Drive emulator: pages
that arrive in pieces or are larger than Drive's, a folder of a thousand files with a nested
one, and a client that Drive throttles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import MIB, run_cli

from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread
from evio_fetch.engine.loopback.drive_state import generated_bytes

ROOT = "1bIgFoLdErxxxxxxxxxxxxxxxxxxxxxxx"
NESTED = "1nEsTeDfOlDeRxxxxxxxxxxxxxxxxxxxx"
DEEPER = "1dEePeRfOlDeRxxxxxxxxxxxxxxxxxxxx"
LINK = f"https://drive.google.com/drive/folders/{ROOT}?usp=sharing"


@pytest.fixture
def drive() -> Iterator[DriveEmulatorThread]:
    with DriveEmulatorThread() as emulator:
        yield emulator


def manifest(tmp_path: Path, drive: DriveEmulatorThread, *args: str) -> tuple[int, str]:
    made = run_cli(
        "manifest",
        LINK,
        "-o",
        "m.json",
        *args,
        cwd=tmp_path,
        env={"EVIO_FETCH_DRIVE_URL": drive.base_url},
        timeout=300,
    )
    return made.returncode, made.stderr


def test_a_thousand_files_and_nested_folders_list_completely_from_pages_in_pieces(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    top = drive.add_files(f"{ROOT}-", 1000, size=10)
    nested = drive.add_files(f"{NESTED}-", 300, size=20)
    deeper = drive.add_files(f"{DEEPER}-", 5, size=30)
    drive.add_folder(DEEPER, "deeper", deeper)
    drive.add_folder(NESTED, "nested", [*nested, DEEPER])
    drive.add_folder(ROOT, "many", [*top, NESTED])
    drive.emulator.page_pieces = 8  # every page: the folder views too
    status, stderr = manifest(tmp_path, drive, "--concurrency", "8")
    assert status == 0, stderr
    assert drive.stats.count("folder") == 3
    entries = json.loads((tmp_path / "m.json").read_text())["datasets"]
    paths = {e["path"]: e for e in entries}
    assert len(entries) == len(paths) == 1305
    assert {f"file-{n:05d}.bin" for n in range(1000)} <= set(paths)
    assert {f"nested/file-{n:05d}.bin" for n in range(300)} <= set(paths)
    assert {f"nested/deeper/file-{n:05d}.bin" for n in range(5)} <= set(paths)
    assert paths["file-00999.bin"] == {
        "path": "file-00999.bin",
        "id": top[999],
        "name": "file-00999.bin",
        "size": 10,
    }
    assert paths["nested/deeper/file-00004.bin"]["size"] == 30


def test_a_folder_page_past_the_bound_fails_by_name(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    drive.add_folder(NESTED, "nested", drive.add_files(f"{NESTED}-", 3))
    drive.add_folder(ROOT, "many", [*drive.add_files(f"{ROOT}-", 3), NESTED])
    drive.emulator.page_padding = 9 * 1024 * 1024
    drive.emulator.page_pieces = 3
    status, stderr = manifest(tmp_path, drive)
    assert status == 1, stderr
    assert f"Drive folder {ROOT}: its listing page is longer than 8 MiB" in stderr
    assert "sub-folders" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "m.json").exists()
    assert drive.stats.count("uc") == 0  # nothing was listed on from a page not read whole


def test_a_folder_is_listed_while_drive_throttles_some_requests(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    drive.add_folder(ROOT, "many", drive.add_files(f"{ROOT}-", 20))
    drive.fail_next(1, 429, at="folder", retry_after=1)
    drive.fail_next(3, 429, at="uc", retry_after=1)  # three files' first size requests
    status, stderr = manifest(tmp_path, drive)
    assert status == 0, stderr
    entries = json.loads((tmp_path / "m.json").read_text())["datasets"]
    assert sorted(e["path"] for e in entries) == [f"file-{n:05d}.bin" for n in range(20)]
    assert drive.stats.count("injected") == 4
    assert drive.stats.count("folder") == 1 and drive.stats.count("uc") == 20


# Downloads ------------------------------------------------------------------------------------

FILE = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
OTHER = "18gpWinwgyteY3kQ-UVjd8JlIFa0Gi9m8"


def fetch(
    tmp_path: Path, drive: DriveEmulatorThread, ids: list[str], *args: str
) -> tuple[int, dict[str, Any], str]:
    entries = [{"id": file_id, "path": f"data/{file_id}.dat"} for file_id in ids]
    (tmp_path / "m.json").write_text(json.dumps({"version": "1.0", "datasets": entries}))
    result = run_cli(
        "--manifest",
        "m.json",
        "--json",
        *args,
        cwd=tmp_path,
        env={"EVIO_FETCH_DRIVE_URL": drive.base_url},
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def landed(tmp_path: Path, file_id: str) -> bytes:
    return (tmp_path / "data" / f"{file_id}.dat").read_bytes()


def test_the_drive_flow_reads_a_confirmation_page_that_arrives_in_pieces(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    drive.add(FILE, generated_bytes(FILE, 3 * MIB), "fan.dat", large=True)
    drive.emulator.page_pieces = 6
    status, report, stderr = fetch(tmp_path, drive, [FILE], "--segments", "2")
    assert status == 0, stderr
    assert report["files"][0]["outcome"] == "downloaded"
    assert landed(tmp_path, FILE) == generated_bytes(FILE, 3 * MIB)
    assert drive.stats.count("confirm_page", FILE) >= 1


def test_a_drive_page_past_the_bound_fails_by_name(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    drive.add(FILE, generated_bytes(FILE, 2 * MIB), "fan.dat", large=True)
    drive.emulator.page_padding = 300 * 1024
    status, report, stderr = fetch(tmp_path, drive, [FILE])
    assert status == 2, stderr  # its only file failed
    error = report["files"][0]["error"]
    assert error["code"] == "page_too_large"
    assert "longer than 256 KiB" in error["message"]
    assert f"https://drive.google.com/file/d/{FILE}/view" in error["hint"]
    assert drive.stats.count("confirm_page", FILE) == 1  # not retried: it will not shrink


def test_a_file_throttled_on_every_attempt_fails_once_without_a_storm(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    drive.add(FILE, generated_bytes(FILE, 2 * MIB), "fan.dat", large=True, throttle=True)
    drive.add(OTHER, generated_bytes(OTHER, 100_000), "notes.txt")
    status, report, stderr = fetch(tmp_path, drive, [FILE, OTHER], "--retries", "2")
    assert status == 1, stderr
    throttled, other = report["files"]
    assert other["outcome"] == "downloaded"
    assert throttled["outcome"] == "failed"
    assert throttled["error"]["code"] == "drive_throttled"
    assert "throttling" in throttled["error"]["message"]
    assert "--segments" in throttled["error"]["hint"]
    # The first request and two retries, each after the second Retry-After asked for.
    assert drive.stats.count("throttled", FILE) == 3
    assert drive.stats.snapshot().requests_by_id[FILE] == {"throttled": 3}
    # One line for each retry, then one for the failure.
    said = [line.split(":", 1)[0] for line in stderr.splitlines() if "throttling" in line]
    name = f"data/{FILE}.dat"
    assert said == [
        f"retrying {name} (1/2, in 1.0 s)",
        f"retrying {name} (2/2, in 1.0 s)",
        f"FAILED {name}",
    ], stderr


def test_a_per_file_connection_cap_lowers_the_connections_and_lands_whole(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    """Drive serves two byte responses of the file at once and answers a third with 429 and
    its "automated queries" page. Eight connections asked for: the file lands whole, as a
    throttle (never a changed file), and once the first refusal is back the client opens no
    more than the cap: the few refusals after it are requests already under way then."""
    size = 24 * MIB
    drive.emulator.rate_per_connection = 8 * MIB
    drive.add(FILE, generated_bytes(FILE, size), "fan.dat", large=True, max_connections=2)
    status, report, stderr = fetch(tmp_path, drive, [FILE], "--segments", "8")
    assert status == 0, stderr
    assert report["files"][0]["outcome"] == "downloaded"
    assert landed(tmp_path, FILE) == generated_bytes(FILE, size)
    log = [e for e in drive.stats.snapshot().stream_log if e.file_id == FILE]
    refused = [e for e in log if e.change == "refused"]
    assert refused, "the cap never refused a connection: nothing was tested"
    assert max(e.open for e in log) <= 2
    # Eight requests at most were ever under way: at most six refusals, not one per retry.
    assert len(refused) <= 6, [(round(e.at, 3), e.change, e.open) for e in log]
    # Fewer connections, not one: the two Drive serves are used once the refusals are back.
    after = [e.open for e in log if e.at > refused[-1].at and e.change == "opened"]
    assert max(after) == 2, [(round(e.at, 3), e.change, e.open) for e in log]


def test_drive_throttling_one_file_slows_every_worker(
    tmp_path: Path, drive: DriveEmulatorThread
) -> None:
    """Drive takes three byte responses at once from this machine, whatever the file; two
    files, two workers, four connections each. Both land whole, and the refusals are the
    requests under way when the first came back, not a storm from the other worker."""
    size = 16 * MIB
    drive.emulator.rate_per_connection = 8 * MIB
    drive.emulator.max_connections = 3
    drive.add(FILE, generated_bytes(FILE, size), "fan.dat", large=True)
    drive.add(OTHER, generated_bytes(OTHER, size), "car.dat", large=True)
    args = ("--segments", "4", "--concurrency", "2", "--workers", "2")
    status, report, stderr = fetch(tmp_path, drive, [FILE, OTHER], *args)
    assert status == 0, stderr
    assert [f["outcome"] for f in report["files"]] == ["downloaded", "downloaded"]
    assert landed(tmp_path, FILE) == generated_bytes(FILE, size)
    assert landed(tmp_path, OTHER) == generated_bytes(OTHER, size)
    log = drive.stats.snapshot().stream_log
    refused = [e for e in log if e.change == "refused"]
    assert refused, "the cap never refused a connection: nothing was tested"
    assert len(refused) <= 8, [(round(e.at, 3), e.file_id[:4], e.change, e.open) for e in log]
