"""The user's --headers and netrc credentials reach the source's own origin (scheme, host and
port), on every request, segments included, and never another host that a redirect leads to."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import MIB, FaultServer, Guard, Redirect, Reset, Served
from forward_proxy import ForwardProxy
from support import require, run_cli

from evio_fetch.engine import fetch
from evio_fetch.engine.errors import UsageError

OTHER_HOST = "127.0.0.2"
SECRET = "T0kenV4lue9"
NETRC_PASSWORD = "N3trcPw8"


@pytest.fixture
def origin() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def two_hosts() -> Iterator[FaultServer]:
    """One server on 127.0.0.1 and 127.0.0.2: another host, as far as any client can tell."""
    running = FaultServer(hosts=("127.0.0.1", OTHER_HOST))
    try:
        running.start()
    except RuntimeError as error:
        require(False, f"a second loopback address, {OTHER_HOST} ({error.__cause__ or error})")
    try:
        yield running
    finally:
        running.stop()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def netrc_file(tmp_path: Path, host: str) -> dict[str, str]:
    path = tmp_path / "netrc"
    path.write_text(f"machine {host}\n  login bob\n  password {NETRC_PASSWORD}\n")
    return {"NETRC": str(path)}


def run(tmp_path: Path, url: str, *args: str, env: dict[str, str] | None = None) -> dict:
    result = run_cli("-o", "out", "--json", "--retries", "0", *args, url, cwd=tmp_path, env=env)
    assert "Traceback" not in result.stderr
    for secret in (SECRET, NETRC_PASSWORD):
        assert secret not in result.stdout + result.stderr, "a secret was shown"
    report = json.loads(result.stdout)
    report["returncode"], report["stderr"] = result.returncode, result.stderr
    return report


def landed(tmp_path: Path, served: Served) -> bool:
    path = tmp_path / "out" / served.path.lstrip("/")
    return path.is_file() and path.read_bytes() == served.data


def test_header_opens_a_guarded_server_on_every_segment(
    origin: FaultServer, tmp_path: Path
) -> None:
    served = origin.add(
        "/guarded.bin", size=6 * MIB, faults=[Guard(header="X-Token", value=SECRET)]
    )
    report = run(tmp_path, served.url, "--segments", "4", "--header", f"X-Token: {SECRET}")
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    requests = origin.requests("/guarded.bin")
    assert len(requests) >= 4
    assert all(s.status != 401 for s in requests)


def test_refusal_hint_names_header_and_netrc(origin: FaultServer, tmp_path: Path) -> None:
    served = origin.add("/guarded.bin", size=MIB, faults=[Guard(header="X-Token", value=SECRET)])
    report = run(tmp_path, served.url, "--header", "X-Token: not-it")
    assert report["returncode"] == 2
    error = report["files"][0]["error"]
    assert error["code"] == "http_status" and "401" in error["message"]
    assert "--header" in error["hint"] and ".netrc" in error["hint"]


def test_netrc_credentials_open_a_guarded_server(origin: FaultServer, tmp_path: Path) -> None:
    guard = Guard(header="Authorization", value=basic("bob", NETRC_PASSWORD))
    served = origin.add("/netrc.bin", size=5 * MIB, faults=[guard])
    report = run(tmp_path, served.url, "--segments", "2", env=netrc_file(tmp_path, "127.0.0.1"))
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    assert all(s.status != 401 for s in origin.requests("/netrc.bin"))


def test_url_credentials_reach_every_segment(origin: FaultServer, tmp_path: Path) -> None:
    guard = Guard(header="Authorization", value=basic("bob", NETRC_PASSWORD))
    served = origin.add("/inline.bin", size=6 * MIB, faults=[guard])
    url = origin.url("/inline.bin", userinfo=f"bob:{NETRC_PASSWORD}")
    report = run(tmp_path, url, "--segments", "4")
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    assert len(origin.requests("/inline.bin")) >= 4


def test_headers_and_netrc_stay_home_after_a_redirect(
    two_hosts: FaultServer, tmp_path: Path
) -> None:
    server = two_hosts
    data = server.add("/data.bin", size=5 * MIB, host=OTHER_HOST)
    start = server.add("/start", faults=[Redirect(to=data.url)])
    env = netrc_file(tmp_path, "127.0.0.1")
    report = run(tmp_path, start.url, "--segments", "2", "--header", f"X-Token: {SECRET}", env=env)
    assert report["returncode"] == 0, report["stderr"]
    assert (tmp_path / "out" / "data.bin").read_bytes() == data.data
    (home,) = server.requests("/start")
    assert home.header("X-Token") == SECRET
    assert home.header("Authorization") == basic("bob", NETRC_PASSWORD)
    elsewhere = [s for s in server.requests() if s.host == OTHER_HOST]
    assert len(elsewhere) >= 2  # the probe and a segment's request
    carried = [(s.header("X-Token"), s.header("Authorization")) for s in elsewhere]
    assert carried == [(None, None)] * len(elsewhere)


def test_headers_return_with_a_redirect_back_home(two_hosts: FaultServer, tmp_path: Path) -> None:
    # 127.0.0.1/start sends the client to 127.0.0.2/away, which sends it home to
    # 127.0.0.1/data.bin: the header goes to 127.0.0.1 only, there on every request.
    server = two_hosts
    data = server.add("/data.bin", size=4 * MIB, faults=[Guard(header="X-Token", value=SECRET)])
    away = server.add("/away", faults=[Redirect(to=data.url)], host=OTHER_HOST)
    start = server.add("/start", faults=[Redirect(to=away.url)])
    report = run(tmp_path, start.url, "--segments", "2", "--header", f"X-Token: {SECRET}")
    assert report["returncode"] == 0, report["stderr"]
    assert [s.header("X-Token") for s in server.requests("/away")] == [None]
    assert all(s.header("X-Token") == SECRET for s in server.requests("/data.bin"))


def test_python_api_takes_headers(origin: FaultServer, tmp_path: Path) -> None:
    served = origin.add("/api.bin", size=3 * MIB, faults=[Guard(header="X-Token", value=SECRET)])
    report = fetch(served.url, output_dir=tmp_path, headers={"X-Token": SECRET}, workers=1)
    assert report.ok, report.failed
    assert report.paths == [tmp_path / "api.bin"]


@pytest.mark.parametrize(
    "headers", [[f"X-Token {SECRET}"], f"X-Token: {SECRET}", {"X-Token": f"{SECRET}\n"}]
)
def test_python_api_refuses_malformed_headers(tmp_path: Path, headers: object) -> None:
    with pytest.raises(UsageError) as raised:
        fetch("http://127.0.0.1:9/a.bin", output_dir=tmp_path, headers=headers)  # type: ignore[arg-type]
    assert SECRET not in raised.value.message + raised.value.hint


def test_header_and_proxy_secrets_are_never_written(origin: FaultServer, tmp_path: Path) -> None:
    # The download is cut after its probe, so a state file stays behind for a resume.
    served = origin.add("/cut.bin", size=3 * MIB, faults=[Reset(after=MIB + 5, times=2)])
    with ForwardProxy(credentials=("alice", NETRC_PASSWORD)) as proxy:
        given = ("--proxy", proxy.url_with("alice", NETRC_PASSWORD), "--header", f"X-T: {SECRET}")
        report = run(tmp_path, served.url, "--segments", "1", *given)
    assert report["returncode"] == 2
    assert (tmp_path / "out" / "cut.bin.evio-state").is_file()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for secret in (SECRET, NETRC_PASSWORD):
        assert [p for p in written if secret.encode() in p.read_bytes()] == []
