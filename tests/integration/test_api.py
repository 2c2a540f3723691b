"""The Python API (evio_fetch.engine.fetch, fetch_async) against the loopback server."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
import time
from pathlib import Path

import pytest
from support import MIB, leftovers, same_bytes, write_manifest

from evio_fetch.engine import (
    EvioError,
    ManifestError,
    Progress,
    Report,
    UsageError,
    fetch,
    fetch_async,
)
from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

Dataset = tuple[Path, list[DataFile]]


def check_progress(events: list[Progress], files: int, total_bytes: int) -> None:
    """Monotone counts, a plan first, one finish per file, and totals that add up."""
    assert events[0].kind == "planned"
    assert events[0].files_total == files
    assert [e.kind for e in events].count("planned") == 1
    assert [e.kind for e in events].count("finished") == files
    for before, after in itertools.pairwise(events):
        assert after.files_done >= before.files_done
        assert after.bytes_done >= before.bytes_done
    last = events[-1]
    assert last.kind == "finished" and last.result is not None
    assert last.files_done == files
    assert last.bytes_done == total_bytes
    assert all(e.files_total == files for e in events)
    assert all(e.label is not None for e in events[1:])


def test_fetch_a_manifest_then_again(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    manifest = write_manifest(
        tmp_path / "datasets.json", [(server.url_for(f.path), f.path, f) for f in files]
    )
    out = tmp_path / "root"
    events: list[Progress] = []
    stamps: list[float] = []

    def on_progress(progress: Progress) -> None:
        events.append(progress)
        stamps.append(time.monotonic())

    report = fetch(manifest=manifest, root=out, workers=2, on_progress=on_progress)

    assert isinstance(report, Report) and report.ok and report.failed == []
    assert [r.outcome for r in report.results] == ["downloaded"] * len(files)
    assert [r.sha256 for r in report.results] == [f.sha256 for f in files]
    assert report.paths == [out / f.path for f in files]
    assert same_bytes(served, out, files) and leftovers(out) == []
    total = sum(f.size for f in files)
    check_progress(events, len(files), total)
    assert events[0].bytes_total is None  # size 0 in a manifest means unknown (empty.bin)
    assert events[-1].bytes_total == total
    assert events[-1].fraction == 1.0
    # Throttled: a "progress" call comes at least 0.1 s after the call before it.
    for n, event in enumerate(events[1:], 1):
        if event.kind == "progress":
            assert stamps[n] - stamps[n - 1] >= 0.09

    server.stats.reset()
    again: list[Progress] = []
    second = fetch(manifest=str(manifest), root=str(out), on_progress=again.append)
    assert [r.outcome for r in second.results] == ["present"] * len(files)
    assert second.ok and server.stats.requests == 0
    check_progress(again, len(files), total)


def test_fetch_urls_named_by_the_server(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    chosen = [f for f in files if f.path in ("one.bin", "small/a.dat")]
    events: list[Progress] = []
    report = fetch(
        [server.url_for(f.path) for f in chosen],
        output_dir=tmp_path / "out",
        on_progress=events.append,
    )
    assert report.ok
    assert report.paths == [tmp_path / "out" / Path(f.path).name for f in chosen]
    assert [p.read_bytes() for p in report.paths] == [
        (served / f.path).read_bytes() for f in chosen
    ]
    assert events[0].bytes_total is None  # no size is known before the servers answer
    check_progress(events, len(chosen), sum(f.size for f in chosen))
    assert events[-1].bytes_total == sum(f.size for f in chosen)


def test_one_url_as_a_string(dataset: Dataset, server: ServerThread, tmp_path: Path) -> None:
    report = fetch(server.url_for("one.bin"), output_dir=tmp_path)
    assert report.ok and report.paths == [tmp_path / "one.bin"]


def test_output_dir_is_the_manifest_root_and_root_where_sources_land(
    dataset: Dataset, server: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # what lands in "." by mistake lands here
    _, files = dataset
    one = next(f for f in files if f.path == "one.bin")
    manifest = write_manifest(tmp_path / "m.json", [(server.url_for("one.bin"), "x/one.bin", one)])
    by_manifest = fetch(manifest=manifest, output_dir=tmp_path / "data")
    assert by_manifest.paths == [tmp_path / "data" / "x" / "one.bin"]
    by_source = fetch(server.url_for("one.bin"), root=tmp_path / "out")
    assert by_source.paths == [tmp_path / "out" / "one.bin"]


@pytest.mark.parametrize(
    ("placement", "words"),
    [
        ({"output_dir": "a", "root": "b"}, "output_dir='a' and root='b' name different"),
        ({"output_dir": "file.bin"}, "output_dir='file.bin' is not a directory"),
        ({"root": "file.bin/sub"}, "root='file.bin/sub': file.bin is not a directory"),
    ],
)
def test_placement_is_refused_before_anything_is_written(
    server: ServerThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    placement: dict[str, str],
    words: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(UsageError, match=re.escape(words)):
        fetch(server.url_for("one.bin"), **placement)  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
    assert server.stats.requests == 0


def test_a_failing_file_is_reported_not_raised(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    events: list[Progress] = []
    report = fetch(
        [server.url_for("one.bin"), server.url_for("gone.bin")],
        output_dir=tmp_path,
        retries=0,
        on_progress=events.append,
    )
    assert not report.ok
    assert [r.outcome for r in report.results] == ["downloaded", "failed"]
    (failed,) = report.failed
    assert failed.failure is not None and failed.failure.code == "http_status"
    assert failed.spec.label.endswith("gone.bin")
    assert events[-1].files_done == 2 and events[-1].files_failed == 1
    assert "1 downloaded, 1 failed" in repr(report)


def test_manifest_warnings_and_checksums_reach_the_report(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    f = files[2]
    md5 = hashlib.md5((served / f.path).read_bytes()).hexdigest()
    entry = {"url": server.url_for(f.path), "path": f.path, "checksum": f"md5:{md5}", "sizes": 1}
    manifest = tmp_path / "datasets.json"
    manifest.write_text(json.dumps({"datasets": [entry]}))
    report = fetch(manifest=manifest, root=tmp_path / "root")
    assert report.ok
    assert report.warnings == (
        f"{manifest}: datasets[0].sizes: unknown field, ignored; did you mean size?",
    )
    (result,) = report.results
    assert str(result.checksum) == f"md5:{md5}" and result.sha256 == f.sha256


async def test_fetch_async_leaves_the_loop_free(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    loop_thread = threading.get_ident()
    threads: set[int] = set()
    events: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        threads.add(threading.get_ident())
        events.append(progress)

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    manifest = write_manifest(
        tmp_path / "m.json", [(server.url_for(f.path), f.path, f) for f in files]
    )
    report = await fetch_async(manifest=manifest, root=tmp_path, on_progress=on_progress)
    ticker.cancel()
    assert report.ok and same_bytes(served, tmp_path, files)
    assert ticks > 5  # the loop ran while the files were fetched
    assert threads == {loop_thread}  # the callback ran on the loop's thread
    check_progress(events, len(files), sum(f.size for f in files))


async def test_cancelling_fetch_async_stops_and_keeps_progress(
    dataset: Dataset, tmp_path: Path
) -> None:
    served, files = dataset
    big = next(f for f in files if f.path == "big/c.dat")
    # So slow that the file would take minutes: a cancel that waited for it would not end
    # within the deadline below.
    with ServerThread(served, ServerConfig(rate_per_connection=64 * 1024)) as slow:
        manifest = write_manifest(tmp_path / "m.json", [(slow.url_for(big.path), big.path, big)])
        out = tmp_path / "root"
        moving = asyncio.Event()
        totals: list[int | None] = []

        def on_progress(progress: Progress) -> None:
            totals.append(progress.bytes_total)
            if progress.bytes_done > 0:
                moving.set()

        task = asyncio.create_task(
            fetch_async(manifest=manifest, root=out, on_progress=on_progress)
        )
        await asyncio.wait_for(moving.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(60):  # a TimeoutError instead fails the test
                await task
        assert slow.stats.bytes_sent < big.size
        assert set(totals) == {big.size}  # the manifest gives the size before any request
        assert not (out / big.path).exists()
        assert leftovers(out)  # the part file and its state, for a resume

        slow.set_config(ServerConfig())
        report = await fetch_async(manifest=manifest, root=out)
    assert report.ok and report.results[0].outcome == "downloaded"
    assert same_bytes(served, out, [big]) and leftovers(out) == []


def test_a_failing_callback_stops_the_run(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    def on_progress(progress: Progress) -> None:
        if progress.kind != "planned":
            raise RuntimeError("callback broke")

    manifest = write_manifest(
        tmp_path / "m.json", [(server.url_for(f.path), f.path, f) for f in dataset[1]]
    )
    with pytest.raises(RuntimeError, match="callback broke"):
        fetch(manifest=manifest, root=tmp_path / "root", on_progress=on_progress)


def test_ctrl_c_stops_the_run_and_is_raised_again(dataset: Dataset, tmp_path: Path) -> None:
    served, files = dataset
    big = next(f for f in files if f.path == "big/c.dat")

    def on_progress(progress: Progress) -> None:
        if progress.bytes_done > 0:
            raise KeyboardInterrupt  # as if Ctrl-C came while the callback ran

    slow = ServerThread(served, ServerConfig(rate_per_connection=2 * MIB))
    with slow, pytest.raises(KeyboardInterrupt):
        fetch(slow.url_for(big.path), output_dir=tmp_path, on_progress=on_progress)
    assert not (tmp_path / "c.dat").exists()
    assert leftovers(tmp_path)  # kept for a resume


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({}, "either sources or manifest"),
        ({"sources": ["http://x/a"], "manifest": "m.json"}, "not both"),
        ({"sources": ["http://x/a"], "segments": 0}, "segments=0"),
        ({"sources": ["http://x/a"], "concurrency": 2.5}, "concurrency=2.5"),
        ({"sources": ["http://x/a"], "workers": 65}, "workers=65"),
        ({"sources": ["http://x/a"], "retries": -1}, "retries=-1"),
        ({"sources": ["http://x/a"], "timeout": 0}, "timeout=0"),
        ({"sources": ["http://x/a"], "segments": True}, "segments=True"),
        ({"sources": ["http://x/a", 7]}, "sources[1] is 7"),
        ({"sources": ["ftp://x/a"]}, "ftp://x/a"),
        ({"sources": ["http://x/a"], "max_speed": "fast"}, "max_speed='fast'"),
        ({"sources": ["http://x/a"], "max_speed": 0}, "max_speed=0"),
        ({"sources": ["http://x/a"], "max_speed": "20Mb"}, "max_speed='20Mb'.*bits"),
    ],
)
async def test_bad_arguments_raise_before_anything_runs(
    arguments: dict[str, object], words: str, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=words.replace("[", r"\[")) as raised:
        fetch(output_dir=tmp_path, **arguments)  # type: ignore[arg-type]
    assert raised.value.code == "usage" and isinstance(raised.value, EvioError)
    with pytest.raises(UsageError):
        await fetch_async(output_dir=tmp_path, **arguments)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


async def test_bad_manifests_raise(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        fetch(manifest=tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"datasets": [{"path": "a.bin"}]}')
    with pytest.raises(ManifestError, match=r"datasets\[0\]"):
        await fetch_async(manifest=broken, root=tmp_path)


def test_an_empty_source_list_is_an_empty_report(tmp_path: Path) -> None:
    report = fetch([], output_dir=tmp_path)
    assert report.ok and report.results == () and report.paths == []
