"""Downloads through a forward proxy on 127.0.0.1, chosen as curl and pip choose it: from
HTTP_PROXY / HTTPS_PROXY, or --proxy over them; NO_PROXY goes around it; its credentials come
from its URL and go to it alone; HTTPS goes through a CONNECT tunnel."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import MIB, FaultServer, Served
from forward_proxy import ForwardProxy
from support import run_cli
from tls_server import https_server

PASSWORD = "Pr0xyPw9"


@pytest.fixture
def origin() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        yield running


@pytest.fixture
def guarded_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy(credentials=("alice", PASSWORD)) as running:
        yield running


def dead_proxy() -> str:
    """A proxy URL where nothing listens: a request sent there fails."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def fetch(tmp_path: Path, served: Served, *args: str, env: dict[str, str] | None = None) -> dict:
    result = run_cli(
        "-o", "out", "--json", "--retries", "0", *args, served.url, cwd=tmp_path, env=env
    )
    report = json.loads(result.stdout)
    report["returncode"], report["stderr"] = result.returncode, result.stderr
    return report


def landed(tmp_path: Path, served: Served) -> bool:
    path = tmp_path / "out" / served.path.lstrip("/")
    return path.is_file() and path.read_bytes() == served.data


def test_http_proxy_from_the_environment(
    origin: FaultServer, proxy: ForwardProxy, tmp_path: Path
) -> None:
    served = origin.add("/env.bin", size=3 * MIB)
    report = fetch(tmp_path, served, "--segments", "1", env={"HTTP_PROXY": proxy.url})
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    assert [(a.method, a.target) for a in proxy.seen] == [("GET", served.url)]


def test_proxy_option_overrides_the_environment(
    origin: FaultServer, proxy: ForwardProxy, tmp_path: Path
) -> None:
    served = origin.add("/given.bin", size=2 * MIB)
    env = {"HTTP_PROXY": dead_proxy(), "http_proxy": dead_proxy(), "ALL_PROXY": dead_proxy()}
    report = fetch(tmp_path, served, "--proxy", proxy.url, env=env)
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    assert proxy.seen and all(a.target == served.url for a in proxy.seen)


def test_empty_proxy_option_connects_directly(origin: FaultServer, tmp_path: Path) -> None:
    served = origin.add("/direct.bin", size=MIB)
    report = fetch(tmp_path, served, "--proxy", "", env={"HTTP_PROXY": dead_proxy()})
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.0/8", "*"])
def test_no_proxy_goes_around_the_proxy(
    origin: FaultServer, proxy: ForwardProxy, tmp_path: Path, no_proxy: str
) -> None:
    served = origin.add("/around.bin", size=2 * MIB)
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy}
    report = fetch(tmp_path, served, env=env)
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    assert proxy.seen == []


def test_proxy_credentials_go_to_the_proxy_alone(
    origin: FaultServer, guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    served = origin.add("/auth.bin", size=3 * MIB)
    env = {"HTTP_PROXY": guarded_proxy.url_with("alice", PASSWORD)}
    report = fetch(tmp_path, served, "--segments", "2", env=env)
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    assert guarded_proxy.seen and not any(a.refused for a in guarded_proxy.seen)
    assert all(s.header("Proxy-Authorization") is None for s in origin.requests())
    assert PASSWORD not in report["stderr"] + json.dumps(report["files"])


def test_proxy_refusing_credentials_is_named_without_them(
    origin: FaultServer, guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    served = origin.add("/refused.bin", size=MIB)
    given = guarded_proxy.url_with("alice", "Wr0ngPw7")
    report = fetch(tmp_path, served, "--proxy", given)
    assert report["returncode"] == 2
    error = report["files"][0]["error"]
    assert error["code"] == "http_status" and "407" in error["message"]
    assert "USER:PASSWORD@" in error["hint"]
    assert "Wr0ngPw7" not in report["stderr"] + json.dumps(report["files"])
    assert origin.requests() == []


def test_segmented_download_through_the_proxy_is_byte_identical(
    origin: FaultServer, guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    served = origin.add("/big.bin", size=12 * MIB + 12345)
    env = {"HTTP_PROXY": guarded_proxy.url_with("alice", PASSWORD)}
    report = fetch(tmp_path, served, "--segments", "4", env=env)
    assert report["returncode"] == 0, report["stderr"]
    assert landed(tmp_path, served)
    ranged = [a for a in guarded_proxy.seen if a.header("Range")]
    assert len(ranged) >= 4
    assert {a.target for a in guarded_proxy.seen} == {served.url}
    assert len(origin.requests()) == len(guarded_proxy.seen)


def test_https_through_a_connect_tunnel(guarded_proxy: ForwardProxy, tmp_path: Path) -> None:
    payload = bytes(range(251)) * (5 * MIB // 251)
    with https_server(tmp_path, payload) as (url, ca_file):
        env = {"HTTPS_PROXY": guarded_proxy.url_with("alice", PASSWORD), "HTTP_PROXY": ""}
        result = run_cli(
            "-o", "out", "--segments", "2", "--ca-bundle", str(ca_file), url, cwd=tmp_path, env=env
        )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "data.bin").read_bytes() == payload
    authority = url.removeprefix("https://").split("/")[0]
    assert guarded_proxy.seen
    assert {(a.method, a.target) for a in guarded_proxy.seen} == {("CONNECT", authority)}
    assert not any(a.refused for a in guarded_proxy.seen)


def test_refused_tunnel_is_named_without_credentials(
    guarded_proxy: ForwardProxy, tmp_path: Path
) -> None:
    with https_server(tmp_path, b"x" * MIB) as (url, ca_file):
        env = {"HTTPS_PROXY": guarded_proxy.url_with("alice", "Wr0ngPw7")}
        result = run_cli(
            "-o", "out", "--json", "--ca-bundle", str(ca_file), url, cwd=tmp_path, env=env
        )
    assert result.returncode == 2
    error = json.loads(result.stdout)["files"][0]["error"]
    assert error["code"] == "http_status"
    assert (
        f"the proxy 127.0.0.1:{guarded_proxy.port} refused the tunnel (HTTP 407)"
        in (error["message"])
    )
    assert "USER:PASSWORD@" in error["hint"]
    assert "Wr0ngPw7" not in result.stdout + result.stderr
    assert [a.method for a in guarded_proxy.seen] == ["CONNECT"]  # 407 is not retried


def test_unreachable_proxy_is_named_without_credentials(
    origin: FaultServer, tmp_path: Path
) -> None:
    served = origin.add("/unreached.bin", size=MIB)
    dead = dead_proxy()
    report = fetch(tmp_path, served, "--proxy", dead.replace("://", "://alice:Wr0ngPw7@"))
    assert report["returncode"] == 2
    error = report["files"][0]["error"]
    assert error["code"] == "connection"
    assert f"cannot connect to the proxy {dead.removeprefix('http://')}" in error["message"]
    assert "Wr0ngPw7" not in report["stderr"] + json.dumps(report["files"])
    assert origin.requests() == []
