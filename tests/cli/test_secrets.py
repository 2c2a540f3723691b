"""A URL's secrets (``user:password@``, a signed query) stay out of everything evio-fetch shows
and writes, except the state file a resume needs, which only its owner may read."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import MIB, FaultServer, Reset
from support import run_cli

from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread

PASSWORD = "Pw0rdQx7Zk"
SIGNATURE = "Sig9f3b7e2a41"
SIGNED_QUERY = f"?X-Amz-Date=20250101T000000Z&X-Amz-Signature={SIGNATURE}"


@pytest.fixture
def cutting_server() -> Iterator[FaultServer]:
    """Serves a path (the query, with its signature, is not looked at) whose first download
    is cut short after the probe: it leaves a state behind, and a resume succeeds."""
    with FaultServer() as running:
        # Request 1 is the 1 MiB probe, too short to be cut; request 2 is cut.
        running.add("/data.bin", size=3 * MIB, faults=[Reset(after=MIB + 5, times=2)])
        yield running


def _fetch(tmp_path: Path, *args: str) -> tuple[str, str]:
    result = run_cli(*args, "--retries", "0", "--segments", "1", "--json", cwd=tmp_path)
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout, result.stderr


def _files_showing_secrets(root: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and (PASSWORD.encode() in (data := path.read_bytes()) or SIGNATURE.encode() in data)
    ]


def test_state_file_is_owner_only(cutting_server: FaultServer, tmp_path: Path) -> None:
    url = cutting_server.url("/data.bin", userinfo=f"alice:{PASSWORD}") + SIGNED_QUERY
    _fetch(tmp_path, "-o", "out", url)
    state = tmp_path / "out" / "data.bin.evio-state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    # The state keeps the URL as given: a resume asks for the same thing again.
    assert json.loads(state.read_text())["url"] == url


def test_secrets_show_nowhere_but_in_the_state_file(
    cutting_server: FaultServer, tmp_path: Path
) -> None:
    url = cutting_server.url("/data.bin", userinfo=f"alice:{PASSWORD}") + SIGNED_QUERY
    stdout, stderr = _fetch(tmp_path, "-o", "out", url)
    assert _files_showing_secrets(tmp_path) == [tmp_path / "out" / "data.bin.evio-state"]
    for shown in (stdout, stderr):
        assert PASSWORD not in shown and SIGNATURE not in shown
    (entry,) = json.loads(stdout)["files"]
    assert entry["label"] == entry["source"]
    assert entry["source"].startswith("http://***@127.0.0.1:")
    assert entry["source"].endswith("/data.bin?X-Amz-Date=***&X-Amz-Signature=***")
    assert "/data.bin?X-Amz-Date=***&X-Amz-Signature=***: " in entry["error"]["message"]


def test_resume_from_the_state_file_shows_no_secret(
    cutting_server: FaultServer, tmp_path: Path
) -> None:
    url = cutting_server.url("/data.bin", userinfo=f"alice:{PASSWORD}") + SIGNED_QUERY
    _fetch(tmp_path, "-o", "out", url)
    state = tmp_path / "out" / "data.bin.evio-state"
    result = run_cli("--resume-state", str(state), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for shown in (result.stdout, result.stderr):
        assert PASSWORD not in shown and SIGNATURE not in shown
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["outcome"] == "downloaded" and "***@127.0.0.1:" in entry["label"]
    assert _files_showing_secrets(tmp_path) == []


def test_a_refused_source_shows_no_secret(tmp_path: Path) -> None:
    # Refused before any request: the message quotes the argument, with its secrets hidden.
    result = run_cli(f"https://alice:{PASSWORD}@127.0.0.1:9/a b?sig={SIGNATURE}", cwd=tmp_path)
    assert result.returncode == 2
    assert "***@127.0.0.1:9/a" in result.stderr
    assert PASSWORD not in result.stderr and SIGNATURE not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_drive_links_keep_the_file_id_and_hide_the_resource_key(tmp_path: Path) -> None:
    key = "0-Rk7Qv2Zs9Wx4Yb"
    shared, crowded = "1SharedFileIdxxxxxxxxxxxxxxxxxxx", "1CrowdedFileIdxxxxxxxxxxxxxxxxxx"
    with DriveEmulatorThread(prefix="/drive") as drive:
        drive.add(shared, b"x" * 1000, "shared.bin", resource_key=key)
        drive.add(crowded, b"y" * 1000, "crowded.bin", resource_key=key, quota=True)
        links = [
            f"https://drive.google.com/open?id={i}&resourcekey={key}" for i in (shared, crowded)
        ]
        result = run_cli(
            "-o",
            "out",
            "--json",
            *links,
            cwd=tmp_path,
            env={"EVIO_FETCH_DRIVE_URL": drive.base_url},
        )
    assert key not in result.stdout and key not in result.stderr
    done, failed = json.loads(result.stdout)["files"]
    assert done["outcome"] == "downloaded", result.stderr
    assert done["label"] == f"https://drive.google.com/open?id={shared}&resourcekey=***"
    assert failed["error"]["code"] == "drive_quota"
    assert failed["error"]["message"].startswith(failed["label"])
    assert shared in result.stderr and crowded in result.stderr


@pytest.mark.parametrize("cut", ["#", "/", "?"])
def test_a_password_typed_with_a_delimiter_never_shows(tmp_path: Path, cut: str) -> None:
    # Unencoded, the delimiter ends the URL's authority early: the password must still hide.
    password = "hunt" + cut + "er2XYZ"
    url = f"http://alice:{password}@127.0.0.1:9/f.bin"
    result = run_cli(
        "--json", "--yes", "--retries", "0", "-o", str(tmp_path / "o"), url, cwd=tmp_path
    )
    shown = result.stdout + result.stderr
    assert "hunt" not in shown and "er2XYZ" not in shown, shown
    assert result.returncode == 2, shown
    assert "Traceback" not in shown


@pytest.mark.parametrize("cut", ["#", "/"])
def test_a_proxy_password_typed_with_a_delimiter_never_shows(tmp_path: Path, cut: str) -> None:
    proxy = f"http://bob:hunt{cut}er2XYZ@127.0.0.1:3128"
    result = run_cli(
        "--json",
        "--yes",
        "-o",
        str(tmp_path / "o"),
        "--proxy",
        proxy,
        "http://127.0.0.1:9/f.bin",
        cwd=tmp_path,
    )
    shown = result.stdout + result.stderr
    assert "hunt" not in shown and "er2XYZ" not in shown, shown
