"""A URL's secrets (``user:password@``, a signed query) are kept in the state file a resume
needs, which only its owner may read."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import MIB, FaultServer, Reset
from support import run_cli

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


def test_state_file_is_owner_only(cutting_server: FaultServer, tmp_path: Path) -> None:
    url = cutting_server.url("/data.bin", userinfo=f"alice:{PASSWORD}") + SIGNED_QUERY
    _fetch(tmp_path, "-o", "out", url)
    state = tmp_path / "out" / "data.bin.evio-state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    # The state keeps the URL as given: a resume asks for the same thing again.
    assert json.loads(state.read_text())["url"] == url
