"""The command's lines in a log (stderr not a terminal): one per retry, one per failure,
each naming its file once and ending with a hint that names what helps. Real command, real
servers on 127.0.0.1 (tests/faults.py), no --quiet."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import KIB, MIB, Close, FaultServer, Html, Stall, Status
from support import run_cli


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def lines(stderr: str, start: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(start)]


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: the port was just free, and is closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/a.bin"


def test_each_retry_is_one_line(server: FaultServer, tmp_path: Path) -> None:
    # The probe is answered 503 twice: the file's own loop retries it.
    served = server.add(
        "/later.bin", size=8 * MIB, faults=[Status(code=503, retry_after=1, times=2)]
    )
    run = run_cli("-o", "out", "--segments", "1", "--yes", served.url, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert lines(run.stderr, "retrying ") == [
        f"retrying {served.url} (1/5, in 1.0 s): the server answered HTTP 503",
        f"retrying {served.url} (2/5, in 1.0 s): the server answered HTTP 503",
    ]
    assert lines(run.stderr, "downloaded ")[0].startswith(f"downloaded {served.url} 8.0 MiB in ")


def test_a_segment_retried_alone_is_one_line(server: FaultServer, tmp_path: Path) -> None:
    # After the probe, one segment's request is answered 503: its connection retries it
    # while the others go on.
    served = server.add(
        "/later.bin", size=8 * MIB, faults=[Status(code=503, retry_after=1, skip=1, times=1)]
    )
    run = run_cli("-o", "out", "--segments", "4", "--yes", served.url, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert lines(run.stderr, "retrying ") == [
        f"retrying {served.url} (1/5, in 1.0 s): the server answered HTTP 503"
    ]


def test_a_refused_connection_is_retried_then_named_once_with_a_hint(tmp_path: Path) -> None:
    url = refused_url()
    run = run_cli("-o", "out", "--retries", "1", "--yes", url, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    (retry,) = lines(run.stderr, "retrying ")
    assert retry.startswith(f"retrying {url} (1/1, in ")
    assert retry.endswith(" s): cannot connect (connection refused)")
    (failed,) = lines(run.stderr, "FAILED ")
    message, hint = failed.split(" (hint: ")
    assert message == f"FAILED {url}: cannot connect (connection refused)"
    assert "host and port" in hint and "--retries" in hint


def test_a_silent_server_names_timeout_in_its_hint(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/silent.bin", size=MIB, faults=[Stall(after=0, seconds=60)])
    run = run_cli(
        *("-o", "out", "--retries", "0", "--timeout", "1", "--yes", served.url), cwd=tmp_path
    )
    (failed,) = lines(run.stderr, "FAILED ")
    assert failed.startswith(f"FAILED {served.url}: the connection went silent (idle timeout)")
    assert "--timeout" in failed.split("(hint: ")[1]


def test_a_cut_body_names_retries_in_its_hint(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/cut.bin", size=2 * MIB, faults=[Close(after=256 * KIB)])
    run = run_cli(
        "-o", "out", "--retries", "0", "--segments", "1", "--yes", served.url, cwd=tmp_path
    )
    (failed,) = lines(run.stderr, "FAILED ")
    assert failed.count(served.url) == 1, failed
    assert "cut" in failed and "--retries" in failed.split("(hint: ")[1]


def test_a_web_page_names_its_url_once(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/page.bin", size=MIB, faults=[Html()])
    run = run_cli("-o", "out", "--yes", served.url, cwd=tmp_path)
    (failed,) = lines(run.stderr, "FAILED ")
    assert failed.startswith(
        f"FAILED {served.url}: the server answered with a web page instead of the file (hint: "
    )
    assert failed.count(served.url) == 1


def test_a_checksum_mismatch_names_the_file_once(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/a.bin", size=MIB)
    entry = {"url": served.url, "path": "data/a.bin", "size": MIB, "sha256": "0" * 64}
    (tmp_path / "m.json").write_text(json.dumps({"version": "1.0", "datasets": [entry]}))
    run = run_cli("--manifest", "m.json", "--yes", cwd=tmp_path)
    (failed,) = lines(run.stderr, "FAILED ")
    assert failed.startswith(f"FAILED data/a.bin: SHA256 mismatch: got {served.sha256}, expected ")
    assert failed.count("data/a.bin") == 1
