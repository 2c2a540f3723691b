"""Resilience against misbehaving servers: the real command in a subprocess
against the fault-injecting server of tests/faults.py, one test per behaviour, each asserting
the bytes on disk, the exit status, and the error code and message of ``--json``."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from faults import (
    KIB,
    MIB,
    Close,
    Fault,
    FaultServer,
    Html,
    HugeHeader,
    IgnoreRange,
    LongBody,
    Redirect,
    Reset,
    Seen,
    Served,
    Stall,
    Status,
    Trickle,
    WrongRange,
)
from support import require, run_cli

OTHER_HOST = "127.0.0.2"
TRANSIENT = (408, 429, 500, 502, 503, 504)
# Bytes a client may lose when a connection breaks: what its HTTP library had buffered but not
# yet handed over. Far less than a segment restarted from its start would cost.
LOST_PER_BREAK = 512 * KIB


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def two_hosts() -> Iterator[FaultServer]:
    """One server on 127.0.0.1 and 127.0.0.2: another host, as far as any client can tell."""
    running = FaultServer(hosts=("127.0.0.1", OTHER_HOST))
    try:
        running.start()
    except RuntimeError as error:
        # Only Linux routes all of 127/8 to the loopback interface.
        require(False, f"a second loopback address, {OTHER_HOST} ({error.__cause__ or error})")
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Entry:
    served: Served
    name: str
    size: bool = True
    sha256: bool = True
    url: str | None = None


@dataclass
class Outcome:
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    root: Path

    @property
    def status(self) -> int:
        return self.result.returncode

    def file(self, name: str) -> dict[str, Any]:
        return next(f for f in self.report["files"] if f["label"] == f"data/{name}")

    def error(self, name: str) -> dict[str, Any]:
        entry = self.file(name)
        assert entry["outcome"] == "failed", f"{name}: {entry}"
        error: dict[str, Any] = entry["error"]
        # The human line on stderr names the file and says what happened.
        lines = [line for line in self.result.stderr.splitlines() if f"data/{name}" in line]
        assert any(error["message"] in line for line in lines), self.result.stderr
        return error

    def landed(self, name: str) -> Path:
        return self.root / "data" / name

    def describe(self) -> str:
        return f"exit {self.status}\nstdout: {self.result.stdout}\nstderr: {self.result.stderr}"


def fetch(tmp_path: Path, entries: Sequence[Entry], *args: str, timeout: float = 60) -> Outcome:
    """Write a manifest of ``entries`` (targets ``data/NAME``) and run the command on it."""
    datasets = []
    for e in entries:
        item: dict[str, Any] = {"url": e.url or e.served.url, "path": f"data/{e.name}"}
        if e.size:
            item["size"] = e.served.size
        if e.sha256:
            item["sha256"] = e.served.sha256
        datasets.append(item)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"version": "1.0", "datasets": datasets}))
    result = run_cli(
        "--manifest",
        str(manifest),
        "--json",
        "--quiet",
        "--workers",
        "1",
        *args,
        cwd=tmp_path,
        timeout=timeout,
    )
    assert "Traceback" not in result.stderr, result.stderr
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no --json document: exit {result.returncode}\n{result.stderr}")
    return Outcome(result, report, tmp_path)


def assert_landed(outcome: Outcome, name: str, served: Served) -> None:
    entry = outcome.file(name)
    assert entry["outcome"] == "downloaded", f"{name}: {entry}\n{outcome.describe()}"
    assert outcome.landed(name).read_bytes() == served.data


def assert_absent(outcome: Outcome, name: str) -> None:
    assert not outcome.landed(name).exists(), f"{name} reached its final path"


def range_start(seen: Seen) -> int:
    value = seen.header("Range")
    assert value is not None and value.startswith("bytes="), f"request {seen.number}: {value!r}"
    return int(value.removeprefix("bytes=").split("-", 1)[0])


def assert_resumed_after(server: FaultServer, path: str, broken: Seen) -> None:
    """The request after ``broken`` (one stream: the next by number) continues from where the
    broken one stopped, not from its segment's start."""
    following = [s for s in server.requests(path) if s.number == broken.number + 1]
    assert following, f"no request after the broken request {broken.number}"
    reached = range_start(broken) + broken.sent
    resumed = range_start(following[0])
    assert reached - LOST_PER_BREAK <= resumed <= reached, (
        f"request {broken.number} asked from {range_start(broken)} and got {broken.sent} bytes; "
        f"the next asked from {resumed}"
    )


# Transient failures: retried with backoff, keeping the bytes already received ---------------


@pytest.mark.parametrize("cut", [Reset, Close], ids=["reset", "clean-close"])
def test_connection_cut_mid_body_resumes_from_its_offset(
    server: FaultServer, tmp_path: Path, cut: type[Reset] | type[Close]
) -> None:
    # A reset (RST) or a clean close (FIN: the body is shorter than its Content-Length) twice,
    # on the first two requests: one connection asks for the whole file in its first one.
    served = server.add("/cut.bin", size=8 * MIB, faults=[cut(after=3 * MIB // 2, times=2)])
    outcome = fetch(tmp_path, [Entry(served, "cut.bin")], "--segments", "1", "--timeout", "5")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "cut.bin", served)
    broken = [s for s in server.requests("/cut.bin") if s.fault is not None]
    assert len(broken) == 2
    for seen in broken:
        assert_resumed_after(server, "/cut.bin", seen)
    assert server.body_bytes("/cut.bin") <= served.size + 2 * LOST_PER_BREAK


def test_reset_before_any_byte_gives_up_after_the_retries(
    server: FaultServer, tmp_path: Path
) -> None:
    dead = server.add("/dead.bin", size=2 * MIB, faults=[Reset(after=0)])
    outcome = fetch(tmp_path, [Entry(dead, "dead.bin")], "--retries", "2", "--timeout", "2")
    assert outcome.status == 2, outcome.describe()  # its only file failed
    error = outcome.error("dead.bin")
    assert error["code"] == "connection", error
    assert 2 <= server.count("/dead.bin") <= 2 + 2, server.count("/dead.bin")
    assert_absent(outcome, "dead.bin")


def first_cut(skip: int) -> list[Fault]:
    """Nothing, or a first request cut after 1 MiB: with one connection the whole file is one
    request, so a fault on request ``skip + 1 == 2`` then meets the retry from mid-file."""
    return [Close(after=MIB, times=1)] if skip else []


@pytest.mark.parametrize("skip", [0, 1], ids=["on-the-probe", "mid-file"])
def test_transient_statuses_are_retried(server: FaultServer, tmp_path: Path, skip: int) -> None:
    entries = [
        Entry(
            server.add(
                f"/s{code}.bin",
                size=3 * MIB,
                faults=[*first_cut(skip), Status(code=code, skip=skip, times=1)],
            ),
            f"s{code}.bin",
        )
        for code in TRANSIENT
    ]
    outcome = fetch(tmp_path, entries, "--segments", "1", "--concurrency", "6", "--timeout", "5")
    wrong = {
        e.name: outcome.file(e.name).get("error") or "bytes differ"
        for e in entries
        if outcome.file(e.name)["outcome"] != "downloaded"
        or outcome.landed(e.name).read_bytes() != e.served.data
    }
    assert wrong == {}, outcome.describe()
    assert outcome.status == 0
    for e in entries:
        path = e.served.path
        failed = next(s for s in server.requests(path) if isinstance(s.fault, Status))
        assert failed.status == int(path[2:5])
        if skip:
            # The retry asks for the same bytes again: nothing before them is fetched twice.
            after = next(s for s in server.requests(path) if s.number == failed.number + 1)
            assert range_start(after) == range_start(failed), path
        assert server.body_bytes(path) <= e.served.size + 4 * KIB, path


@pytest.mark.parametrize(
    ("code", "as_date", "skip"),
    [(503, False, 0), (429, True, 0), (503, False, 1)],
    # Retry-After 1 s (or an HTTP date 1 to 2 s ahead) is well above the first backoff.
    ids=["seconds-on-the-probe", "date-on-the-probe", "seconds-mid-file"],
)
def test_retry_after_is_honoured(
    server: FaultServer, tmp_path: Path, code: int, as_date: bool, skip: int
) -> None:
    served = server.add(
        "/later.bin",
        size=3 * MIB,
        faults=[
            *first_cut(skip),
            Status(code=code, retry_after=2 if as_date else 1, as_date=as_date, skip=skip, times=1),
        ],
    )
    outcome = fetch(tmp_path, [Entry(served, "later.bin")], "--segments", "1")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "later.bin", served)
    seen = server.requests("/later.bin")
    refused = next(s for s in seen if isinstance(s.fault, Status))
    retry = next(s for s in seen if s.number == refused.number + 1)
    asked = refused.response_headers["Retry-After"]
    if as_date:
        # Not before the date it named (HTTP dates have whole seconds).
        not_before = parsedate_to_datetime(asked).timestamp()
        assert retry.wall >= not_before - 0.05, (retry.wall, asked)
    else:
        assert retry.at - refused.at >= float(asked) - 0.05, retry.at - refused.at


def test_always_429_fails_that_file_without_a_storm(server: FaultServer, tmp_path: Path) -> None:
    limited = server.add("/limited.bin", size=2 * MIB, faults=[Status(code=429)])
    fine = server.add("/fine.bin", size=2 * MIB + 5)
    retries = 2
    outcome = fetch(
        tmp_path,
        [Entry(limited, "limited.bin"), Entry(fine, "fine.bin")],
        "--retries",
        str(retries),
    )
    assert outcome.status == 1, outcome.describe()
    error = outcome.error("limited.bin")
    assert error["code"] == "http_status" and "429" in error["message"], error
    asked = server.requests("/limited.bin")
    assert 2 <= len(asked) <= retries + 2, len(asked)
    # Backoff, not a burst: the attempts are spread out.
    assert asked[-1].at - asked[0].at >= 0.5, [s.at for s in asked]
    assert_absent(outcome, "limited.bin")
    assert_landed(outcome, "fine.bin", fine)


def test_other_4xx_fail_at_once(server: FaultServer, tmp_path: Path) -> None:
    codes = (400, 401, 403, 404, 410)
    refused = [
        Entry(server.add(f"/r{code}.bin", size=MIB, faults=[Status(code=code)]), f"r{code}.bin")
        for code in codes
    ]
    fine = server.add("/fine.bin", size=MIB)
    outcome = fetch(tmp_path, [*refused, Entry(fine, "fine.bin")], "--concurrency", "6")
    assert outcome.status == 1, outcome.describe()
    wrong = {}
    for code, entry in zip(codes, refused, strict=True):
        error = outcome.file(entry.name)["error"] or {}
        asked = server.count(entry.served.path)
        if error.get("code") != "http_status" or str(code) not in error.get("message", ""):
            wrong[code] = error
        elif asked != 1:
            wrong[code] = f"{asked} requests"
    assert wrong == {}, outcome.describe()
    for entry in refused:
        assert_absent(outcome, entry.name)
    assert_landed(outcome, "fine.bin", fine)


# Timeouts --------------------------------------------------------------------------------------


def test_idle_stall_is_abandoned_and_retried(server: FaultServer, tmp_path: Path) -> None:
    # Silence after 512 KiB for far longer than the run is given: a client without an idle
    # timeout would still be waiting when the run is ended, after 60 s.
    served = server.add(
        "/stall.bin", size=4 * MIB, faults=[Stall(after=512 * KIB, seconds=3600, times=1)]
    )
    outcome = fetch(tmp_path, [Entry(served, "stall.bin")], "--segments", "1", "--timeout", "1")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "stall.bin", served)
    stalled = next(s for s in server.requests("/stall.bin") if s.fault is not None)
    assert_resumed_after(server, "/stall.bin", stalled)


def test_slow_steady_stream_is_never_cut(server: FaultServer, tmp_path: Path) -> None:
    # 6 pieces, 0.35 s apart: 1.75 s in all, never more than 0.35 s of silence.
    served = server.add("/slow.bin", size=96 * KIB, faults=[Trickle(piece=16 * KIB, interval=0.35)])
    outcome = fetch(tmp_path, [Entry(served, "slow.bin")], "--timeout", "1")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "slow.bin", served)
    assert server.count("/slow.bin") == 1, [s.header("Range") for s in server.requests()]
    stream = server.requests("/slow.bin")[0]
    assert stream.done - stream.at > 1.5, "the stream did not outlast --timeout"
    assert server.body_bytes("/slow.bin") == served.size


# Server misbehaviour ------------------------------------------------------------------------


def test_range_answered_200_mid_file_still_completes(tmp_path: Path) -> None:
    # Ranges work for the probe, then the server forgets them and sends the whole file.
    # A small send buffer: a 200 the client drops on sight must not count the megabytes the
    # kernel would otherwise have taken in before the client closed.
    with FaultServer(send_buffer=64 * KIB) as server:
        served = server.add("/norange.bin", size=6 * MIB, faults=[IgnoreRange(skip=1)])
        outcome = fetch(tmp_path, [Entry(served, "norange.bin")], "--segments", "4")
        sent = [(s.header("Range"), s.status, s.sent) for s in server.requests()]
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "norange.bin", served)
    # One more pass over the file at most, not a whole file per segment or per retry.
    assert sum(n for _, _, n in sent) <= 2.5 * served.size, sent


@pytest.mark.parametrize("skip", [0, 1], ids=["on-the-probe", "mid-file"])
def test_wrong_content_range_fails_that_file(
    server: FaultServer, tmp_path: Path, skip: int
) -> None:
    served = server.add(
        "/shifted.bin",
        size=3 * MIB,
        faults=[*first_cut(skip), WrongRange(shift=4096, skip=skip, times=1)],
    )
    fine = server.add("/fine.bin", size=MIB)
    outcome = fetch(
        tmp_path, [Entry(served, "shifted.bin"), Entry(fine, "fine.bin")], "--segments", "1"
    )
    assert outcome.status == 1, outcome.describe()
    error = outcome.error("shifted.bin")
    assert error["code"] == "bad_range", error
    assert "Content-Range" in error["message"], error
    assert_absent(outcome, "shifted.bin")
    assert_landed(outcome, "fine.bin", fine)


def test_body_longer_than_promised_never_lands_a_wrong_byte(
    server: FaultServer, tmp_path: Path
) -> None:
    # Garbage after every body, on a kept-alive connection; no SHA256 in the manifest, so the
    # final check cannot be what keeps the garbage out.
    served = server.add("/long.bin", size=4 * MIB, faults=[LongBody(extra=8 * KIB)])
    outcome = fetch(
        tmp_path, [Entry(served, "long.bin", sha256=False)], "--segments", "2", "--retries", "2"
    )
    entry = outcome.file("long.bin")
    if entry["outcome"] == "downloaded":
        assert outcome.status == 0
        assert outcome.landed("long.bin").read_bytes() == served.data
    else:
        assert outcome.status == 2, outcome.describe()  # its only file failed
        assert entry["error"]["code"] != "internal", entry
        assert_absent(outcome, "long.bin")


def test_html_page_where_data_was_expected_fails_not_data(
    server: FaultServer, tmp_path: Path
) -> None:
    served = server.add("/recording.dat", size=2 * MIB, faults=[Html()])
    outcome = fetch(tmp_path, [Entry(served, "recording.dat")])
    assert outcome.status == 2, outcome.describe()  # its only file failed
    error = outcome.error("recording.dat")
    assert error["code"] == "not_data", error
    assert_absent(outcome, "recording.dat")


def test_redirect_loop_fails_with_too_many_redirects(server: FaultServer, tmp_path: Path) -> None:
    loop_url = server.url("/loop.bin")
    served = server.add("/loop.bin", size=MIB, faults=[Redirect(to=loop_url)])
    outcome = fetch(tmp_path, [Entry(served, "loop.bin")])
    assert outcome.status == 2, outcome.describe()  # its only file failed
    error = outcome.error("loop.bin")
    assert "too many redirects" in error["message"].lower(), error
    assert server.count("/loop.bin") <= 31, server.count("/loop.bin")
    assert_absent(outcome, "loop.bin")


def test_huge_response_header_is_a_clear_failure(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/huge.bin", size=MIB, faults=[HugeHeader(size=100 * KIB)])
    fine = server.add("/fine.bin", size=MIB)
    outcome = fetch(tmp_path, [Entry(served, "huge.bin"), Entry(fine, "fine.bin")])
    assert outcome.status == 1, outcome.describe()
    error = outcome.error("huge.bin")
    assert error["code"] != "internal", error
    assert "header" in error["message"].lower(), error
    assert_absent(outcome, "huge.bin")
    assert_landed(outcome, "fine.bin", fine)


def test_a_body_is_never_decoded(server: FaultServer, tmp_path: Path) -> None:
    # The server gzips every answer, whatever was asked. Bytes are stored as served, so the
    # manifest's size for the plain file refuses them, and nothing lands.
    served = server.add("/packed.bin", size=2 * MIB + 3, gzip="always")
    outcome = fetch(tmp_path, [Entry(served, "packed.bin")])
    assert outcome.status == 2, outcome.describe()  # its only file failed
    assert outcome.error("packed.bin")["code"] == "size_mismatch"
    assert_absent(outcome, "packed.bin")
    assert all(s.response_headers.get("Content-Encoding") == "gzip" for s in server.requests())
    assert all(s.header("Accept-Encoding") == "identity" for s in server.requests())


def test_range_requests_ask_for_identity(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/plain.bin", size=6 * MIB, gzip="negotiated")
    outcome = fetch(tmp_path, [Entry(served, "plain.bin")], "--segments", "4")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "plain.bin", served)
    ranged = [s for s in server.requests() if s.header("Range") is not None]
    assert ranged
    assert [s.header("Accept-Encoding") for s in ranged] == ["identity"] * len(ranged)


def test_credentials_are_not_sent_to_another_host(two_hosts: FaultServer, tmp_path: Path) -> None:
    server = two_hosts
    # 127.0.0.1/start sets a cookie and redirects to 127.0.0.1/hop (same host: the cookie goes
    # along), which redirects to 127.0.0.2/data: neither the URL's credentials nor the cookie
    # may follow.
    data = server.add("/data.bin", size=3 * MIB, host=OTHER_HOST)
    server.add("/hop", faults=[Redirect(to=data.url)])
    server.add("/start", faults=[Redirect(to=server.url("/hop"), set_cookie="sid=s3cret; Path=/")])
    url = server.url("/start", userinfo="user:pa55")
    outcome = fetch(tmp_path, [Entry(data, "data.bin", url=url)], "--segments", "2")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "data.bin", data)
    start = server.requests("/start")[0]
    basic = "Basic " + base64.b64encode(b"user:pa55").decode()
    assert start.header("Authorization") == basic, "the URL's credentials were never sent"
    hop = server.requests("/hop")[0]
    assert "sid=s3cret" in (hop.header("Cookie") or ""), "the cookie was never sent back"
    elsewhere = [s for s in server.requests() if s.host == OTHER_HOST]
    assert elsewhere
    leaked = [
        (s.number, s.header("Authorization"), s.header("Cookie"))
        for s in elsewhere
        if s.header("Authorization") or "s3cret" in (s.header("Cookie") or "")
    ]
    assert leaked == []


def test_server_closing_every_connection_after_256k(server: FaultServer, tmp_path: Path) -> None:
    # Every connection breaks after 256 KiB, for ever: only a budget that refills while bytes
    # flow gets 4 MiB through with 3 retries.
    served = server.add("/choppy.bin", size=4 * MIB, faults=[Close(after=256 * KIB)])
    outcome = fetch(tmp_path, [Entry(served, "choppy.bin")], "--retries", "3")
    assert outcome.status == 0, outcome.describe()
    assert_landed(outcome, "choppy.bin", served)
    assert server.count("/choppy.bin") >= 16
    breaks = server.count("/choppy.bin")
    assert server.body_bytes("/choppy.bin") <= served.size + breaks * LOST_PER_BREAK


# The fault server itself: what the tests above rely on ---------------------------------------


def raw_exchange(server: FaultServer, requests: Sequence[str]) -> tuple[bytes, str]:
    """Send ``requests`` (request heads) on one connection; everything received, and how the
    connection ended: ``eof`` (FIN) or ``reset`` (RST)."""
    host, port = server.url("/").removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall("".join(requests).encode("latin-1"))
        received = bytearray()
        try:
            while data := sock.recv(65536):
                received += data
        except ConnectionResetError:
            return bytes(received), "reset"
    return bytes(received), "eof"


def get(path: str, *headers: str, close: bool = True) -> str:
    lines = [f"GET {path} HTTP/1.1", "Host: test", *headers]
    if close:
        lines.append("Connection: close")
    return "\r\n".join(lines) + "\r\n\r\n"


def split_response(raw: bytes) -> tuple[str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


@pytest.mark.parametrize(
    ("fault", "ending"),
    [(Reset(after=70_000), "reset"), (Close(after=70_000), "eof")],
    ids=["reset", "clean-close"],
)
def test_server_cuts_after_exactly_k_bytes(
    server: FaultServer, fault: Reset | Close, ending: str
) -> None:
    served = server.add("/cut.bin", size=300_000, faults=[fault])
    raw, how = raw_exchange(server, [get("/cut.bin", close=False)])
    head, body = split_response(raw)
    assert head.startswith("HTTP/1.1 200 ") and "Content-Length: 300000" in head
    assert (body, how) == (served.data[:70_000], ending)
    assert server.body_bytes("/cut.bin") == 70_000


def test_server_ranges_validators_and_keep_alive(server: FaultServer) -> None:
    served = server.add("/r.bin", size=10_000)
    # Two requests on one connection: a range, then the same range with a stale validator.
    ranged = get("/r.bin", "Range: bytes=100-199", close=False)
    stale = get("/r.bin", "Range: bytes=100-199", 'If-Range: "stale"')
    raw, how = raw_exchange(server, [ranged, stale])
    assert how == "eof"
    head, rest = split_response(raw)
    assert head.startswith("HTTP/1.1 206 ") and "Content-Range: bytes 100-199/10000" in head
    assert rest[:100] == served.data[100:200]
    head, body = split_response(rest[100:])
    assert head.startswith("HTTP/1.1 200 ") and body == served.data
    assert [s.connection for s in server.requests("/r.bin")] == [1, 1]
    assert server.connections == 1
