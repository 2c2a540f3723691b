"""A file from more than one source, and links that expire: the real command in a subprocess
against the fault server of tests/faults.py (and the Drive emulator), each test asserting the
bytes that landed, what the server saw and the ``--json`` report."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from faults import MIB, Expires, FaultServer, Redirect, Reset, Served, Status, Validators
from support import leftovers, run_cli

from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread

DRIVE_ID = "1MirrorTestFileIdxxxxxxxxxxxxxxxx"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@dataclass
class Entry:
    url: str | None
    name: str
    served: Served
    mirrors: Sequence[str] = ()
    drive_id: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    status: int
    report: dict[str, Any]
    stderr: str

    def file(self, name: str) -> dict[str, Any]:
        return next(f for f in self.report["files"] if f["label"] == f"data/{name}")

    def describe(self) -> str:
        return f"exit {self.status}\nstderr: {self.stderr[-3000:]}"


def fetch(
    tmp_path: Path, entries: Sequence[Entry], *args: str, env: dict[str, str] | None = None
) -> Run:
    """The command on a manifest of ``entries`` (targets ``data/NAME``, with sizes and
    hashes)."""
    datasets = []
    for e in entries:
        item: dict[str, Any] = {"path": f"data/{e.name}", "size": e.served.size}
        item["sha256"] = e.served.sha256
        if e.url is not None:
            item["url"] = e.url
        if e.drive_id is not None:
            item["id"] = e.drive_id
        if e.mirrors:
            item["mirrors"] = list(e.mirrors)
        datasets.append(item)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"version": "1.0", "datasets": datasets}))
    args = ("--manifest", str(manifest), "--json", "--workers", "1", "--timeout", "5", *args)
    return parsed(run_cli(*args, cwd=tmp_path, env=env))


def parsed(result: Any) -> Run:
    assert "Traceback" not in result.stderr, result.stderr
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no --json document: exit {result.returncode}\n{result.stderr}")
    return Run(result.returncode, report, result.stderr)


def assert_landed(run: Run, tmp_path: Path, name: str, served: Served) -> None:
    entry = run.file(name)
    assert entry["outcome"] == "downloaded", f"{entry}\n{run.describe()}"
    assert (tmp_path / "data" / name).read_bytes() == served.data
    assert leftovers(tmp_path) == []


def served_ranges(server: FaultServer, path: str) -> int:
    """Body bytes ``path`` sent in ranged (206) answers."""
    return sum(s.sent for s in server.requests(path) if s.status == 206)


# Mirrors ------------------------------------------------------------------------------------


def test_a_primary_that_answers_404_falls_back_to_its_mirror(
    server: FaultServer, tmp_path: Path
) -> None:
    mirror = server.add("/mirror/a.bin", size=6 * MIB)
    gone = server.url("/gone/a.bin")  # nothing there: 404
    run = fetch(tmp_path, [Entry(gone, "a.bin", mirror, mirrors=[mirror.url])])
    assert run.status == 0, run.describe()
    assert_landed(run, tmp_path, "a.bin", mirror)
    assert run.file("a.bin")["sources_used"] == [mirror.url]
    assert server.count("/gone/a.bin") == 1  # dropped at its first answer, never asked again
    assert "404" in run.stderr  # the user hears why the primary was left


def test_a_primary_that_resets_every_connection_falls_back_to_its_mirror(
    server: FaultServer, tmp_path: Path
) -> None:
    primary = server.add("/a.bin", size=6 * MIB, faults=[Reset(after=0)])
    mirror = server.add("/mirror/a.bin", size=6 * MIB, mirror_of="/a.bin")
    entry = Entry(primary.url, "a.bin", primary, mirrors=[mirror.url])
    run = fetch(tmp_path, [entry], "--segments", "4", "--retries", "2")
    assert run.status == 0, run.describe()
    assert_landed(run, tmp_path, "a.bin", primary)
    assert run.file("a.bin")["sources_used"] == [mirror.url]
    # Dropped once it had failed more often in a row than a connection retries (2).
    assert server.count("/a.bin") <= 1 + 3 + 4, server.count("/a.bin")


def test_connections_are_spread_over_every_source(server: FaultServer, tmp_path: Path) -> None:
    primary = server.add("/a.bin", size=16 * MIB)
    mirror = server.add("/mirror/a.bin", size=16 * MIB, mirror_of="/a.bin")
    assert mirror.data == primary.data
    entry = Entry(primary.url, "a.bin", primary, mirrors=[mirror.url])
    run = fetch(tmp_path, [entry], "--segments", "4")
    assert run.status == 0, run.describe()
    assert_landed(run, tmp_path, "a.bin", primary)
    assert run.file("a.bin")["sources_used"] == [primary.url, mirror.url]
    from_primary, from_mirror = (
        served_ranges(server, "/a.bin"),
        served_ranges(server, "/mirror/a.bin"),
    )
    assert from_primary > 0 and from_mirror > 0
    # Each byte was asked of one source once, though the two tag their versions differently.
    assert from_primary + from_mirror == primary.size
    etags = {s.response_headers["ETag"] for s in server.requests() if s.status == 206}
    assert len(etags) == 2
    # Each source is asked under its own validator.
    for seen in server.requests():
        if_range = seen.header("If-Range")
        if if_range is not None and if_range.startswith('"'):
            assert if_range == seen.response_headers["ETag"]


def test_a_mirror_must_state_again_in_a_resume_the_validators_it_gave_before(
    server: FaultServer, tmp_path: Path
) -> None:
    """The first run stops with its progress kept, after both sources answered (each its own
    ETag). In the second, the mirror serves ranges but states no validator at all: silence is
    no proof of the version the state recorded, so it is dropped before any byte of it is
    written, and the file is finished by its URL."""
    primary = server.add("/a.bin", size=16 * MIB, faults=[Status(code=503, skip=2)])
    mirror = server.add(
        "/mirror/a.bin", size=16 * MIB, mirror_of="/a.bin", faults=[Status(code=503, skip=1)]
    )
    entry = Entry(primary.url, "a.bin", primary, mirrors=[mirror.url])
    first = fetch(tmp_path, [entry], "--segments", "4", "--retries", "0")
    assert first.status != 0, first.describe()
    state = json.loads((tmp_path / "data" / "a.bin.evio-state").read_bytes())
    assert [s["etag"] is not None for s in state["sources"]] == [True, True]

    server.add("/a.bin", size=16 * MIB)
    silent = Validators(etag="none", last_modified=False, if_range="ignore")
    server.add("/mirror/a.bin", size=16 * MIB, mirror_of="/a.bin", validators=silent)
    run = fetch(tmp_path, [entry], "--segments", "4")
    assert run.status == 0, run.describe()
    assert_landed(run, tmp_path, "a.bin", primary)
    assert server.count("/mirror/a.bin") > 0, "the mirror was never asked: the test proves nothing"
    assert "no longer states its ETag" in run.stderr, run.describe()


def test_an_entry_with_an_id_and_a_url_has_two_sources(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/a.bin", size=12 * MIB)
    on_disk = tmp_path / "drive-copy.bin"
    on_disk.write_bytes(served.data)
    with DriveEmulatorThread(prefix="/drive") as drive:
        drive.add(DRIVE_ID, on_disk, "a.bin", large=True)
        env = {"EVIO_FETCH_DRIVE_URL": drive.base_url}
        entry = Entry(served.url, "a.bin", served, drive_id=DRIVE_ID)
        run = fetch(tmp_path, [entry], "--segments", "4", env=env)
        assert run.status == 0, run.describe()
        assert_landed(run, tmp_path, "a.bin", served)
        assert run.file("a.bin")["sources_used"] == [served.url, DRIVE_ID]
        assert drive.stats.snapshot().count("ranged_bytes", DRIVE_ID) > 0
        assert served_ranges(server, "/a.bin") < served.size

        # Without its URL, the entry still has its Drive file.
        server.add("/a.bin", size=12 * MIB, faults=[Reset(after=0)])
        (tmp_path / "data" / "a.bin").unlink()
        run = fetch(tmp_path, [entry], "--segments", "2", "--retries", "1", env=env)
        assert run.status == 0, run.describe()
        assert_landed(run, tmp_path, "a.bin", served)
        assert run.file("a.bin")["sources_used"] == [DRIVE_ID]


# Signed links that expire -------------------------------------------------------------------


def test_a_signed_link_that_expires_mid_download_is_signed_again_through_its_redirect(
    server: FaultServer, tmp_path: Path
) -> None:
    # The repository's URL redirects to storage with a fresh signature each time; each
    # signature serves three requests, then answers 410.
    stored = server.add("/storage/a.bin", size=12 * MIB, faults=[Expires(uses=3)])
    server.add("/records/a.bin", faults=[Redirect(to=server.url("/storage/a.bin"), sign=True)])
    entry = Entry(server.url("/records/a.bin"), "a.bin", stored)
    run = fetch(tmp_path, [entry], "--segments", "4")
    assert run.status == 0, run.describe()
    assert_landed(run, tmp_path, "a.bin", stored)
    storage = server.requests("/storage/a.bin")
    assert any(s.status == 410 for s in storage), "no link expired: the test proves nothing"
    assert server.count("/records/a.bin") > 1  # asked again for a fresh link
    # Nothing was fetched twice: the ranges sent add up to the file, besides the one-byte
    # answers that proved each fresh link.
    renewals = [s for s in storage if s.header("Range") == "bytes=0-0"]
    assert renewals
    assert served_ranges(server, "/storage/a.bin") == stored.size + len(renewals)


def signed(server: FaultServer, path: str, signature: str) -> str:
    return f"{server.url(path)}?X-Amz-Signature={signature}"


def test_a_link_that_expired_fails_with_its_progress_kept_and_a_new_one_resumes(
    server: FaultServer, tmp_path: Path
) -> None:
    # One stream: its first request is cut after 5 MiB, and the link's next use is refused.
    served = server.add(
        "/a.bin", size=12 * MIB, faults=[Reset(after=5 * MIB, times=1), Expires(uses=1)]
    )
    old = signed(server, "/a.bin", "Zq7wFirst")
    run = fetch(tmp_path, [Entry(old, "a.bin", served)], "--segments", "1")
    error = run.file("a.bin")["error"]
    assert error["code"] == "link_expired", run.describe()
    assert "new link" in error["hint"]
    assert "Zq7wFirst" not in json.dumps(run.report) + run.stderr  # the signature is a secret
    assert (tmp_path / "data" / "a.bin.evio-state").exists()
    sent_before = server.body_bytes("/a.bin")

    renewed = Entry(signed(server, "/a.bin", "Zq7wSecond"), "a.bin", served)
    run = fetch(tmp_path, [renewed], "--segments", "1")
    assert run.status == 0, run.describe()
    assert_landed(run, tmp_path, "a.bin", served)
    assert "starting over" not in run.stderr
    assert server.body_bytes("/a.bin") - sent_before < served.size - 4 * MIB


def test_in_an_output_directory_a_link_signed_again_resumes_where_it_stopped(
    server: FaultServer, tmp_path: Path
) -> None:
    served = server.add(
        "/d/a.bin", size=12 * MIB, faults=[Reset(after=5 * MIB, times=1), Expires(uses=1)]
    )
    out = tmp_path / "out"
    common = ("--json", "--workers", "1", "--segments", "1", "--timeout", "5", "-o", str(out))
    first = parsed(run_cli(*common, signed(server, "/d/a.bin", "Zq7wFirst"), cwd=tmp_path))
    assert first.report["files"][0]["error"]["code"] == "link_expired", first.describe()
    count = server.count("/d/a.bin")

    second = parsed(run_cli(*common, signed(server, "/d/a.bin", "Zq7wSecond"), cwd=tmp_path))
    assert second.status == 0, second.describe()
    assert (out / "a.bin").read_bytes() == served.data
    # The partial download was found by the name the URL gives: the first request of this
    # run asked from where the last one stopped, not for the first block again.
    resumed = server.requests("/d/a.bin")[count]
    asked = resumed.header("Range") or ""
    assert asked.startswith("bytes=") and int(asked[6:].split("-")[0]) >= 4 * MIB, asked
    assert resumed.header("If-Range") is not None
