"""The engine end to end: worker processes, segmented ranged downloads, verification."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from faults import KIB, FaultServer, Hold
from msgspec.structs import replace
from support import MIB, leftovers, same_bytes, specs_for, wait_until

from evio_fetch.engine import runner
from evio_fetch.engine.blocks import BLOCK_SIZE
from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread
from evio_fetch.engine.model import FileSpec, Options
from evio_fetch.engine.observer import NullObserver
from evio_fetch.engine.segment_board import BoardShape, SegmentBoard

Dataset = tuple[Path, list[DataFile]]


def fetch(specs: list[FileSpec], **options: object) -> runner.RunReport:
    return runner.run(specs, Options(**options), NullObserver())  # type: ignore[arg-type]


@pytest.mark.parametrize(("segments", "workers"), [(1, 1), (4, 1), (4, 2), (16, 2)])
def test_manifest_lands_byte_identical(
    dataset: Dataset, server: ServerThread, tmp_path: Path, segments: int, workers: int
) -> None:
    served, files = dataset
    report = fetch(
        specs_for(files, server, tmp_path), segments=segments, workers=workers, min_segment=MIB
    )
    assert [r.outcome for r in report.results] == ["downloaded"] * len(files)
    assert [r.sha256 for r in report.results] == [f.sha256 for f in files]
    assert same_bytes(served, tmp_path, files)
    assert leftovers(tmp_path) == []


def test_large_file_uses_concurrent_range_requests(dataset: Dataset, tmp_path: Path) -> None:
    served, files = dataset
    big = [f for f in files if f.path == "big/c.dat"]
    # A capped server keeps every connection busy long enough to be seen at once.
    with ServerThread(served, ServerConfig(rate_per_connection=8 * MIB)) as capped:
        report = fetch(specs_for(big, capped, tmp_path), segments=4, min_segment=MIB)
        assert report.results[0].outcome == "downloaded"
        assert capped.stats.max_streaming_by_path["big/c.dat"] >= 4
        assert capped.stats.range_gets >= 4
        # Every byte was sent about once: rebalancing splits ranges, it does not repeat them.
        assert capped.stats.bytes_sent < big[0].size * 1.1
    assert same_bytes(served, tmp_path, big)


def test_pieces_are_taken_front_to_back(dataset: Dataset, tmp_path: Path) -> None:
    served, files = dataset
    big = [f for f in files if f.path == "big/c.dat"]
    options = {"segments": 2, "piece": 4 * MIB, "min_segment": MIB}
    starts = piece_starts(big[0].size, BoardShape(2, 4 * MIB, MIB, BLOCK_SIZE, BLOCK_SIZE))
    count = len(starts)
    with ServerThread(served, ServerConfig(rate_per_connection=8 * MIB)) as capped:
        report = fetch(specs_for(big, capped, tmp_path), **options)
        requested = capped.stats.range_starts
    assert report.results[0].outcome == "downloaded"
    # The order in which pieces were first asked for: with two connections, piece i is
    # asked for before piece i + 2, so the complete prefix grows as the file arrives.
    order = [starts.index(s) for s in dict.fromkeys(requested) if s in starts]
    assert sorted(order) == list(range(count))
    assert all(piece < position + 2 for position, piece in enumerate(order)), order
    assert same_bytes(served, tmp_path, big)


def piece_starts(size: int, shape: BoardShape) -> list[int]:
    """Where the pieces of a file begin, in the order a board hands them out."""
    board, starts = SegmentBoard(size, shape), []
    while (segment := board.claim()) is not None:
        starts.append(segment.start)
        board.advance(segment, segment.remaining)
        board.release(segment)
    return starts


def test_concurrency_bounds_the_files_downloading_at_once(tmp_path: Path) -> None:
    with FaultServer() as server:
        # Each file's answer waits after its first bytes until released: the first three
        # cannot end before all three are under way, whichever worker starts first.
        files = [
            server.add(f"/s{n:02}.bin", size=256 * KIB, faults=[Hold(after=64 * KIB, times=1)])
            for n in range(12)
        ]
        specs = [
            FileSpec(
                index=i,
                label=f.path,
                url=f.url,
                target=str(tmp_path / f.path.lstrip("/")),
                size=f.size,
                sha256=f.sha256,
            )
            for i, f in enumerate(files)
        ]
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(fetch, specs, concurrency=3, workers=2)
            try:
                wait_until(lambda: server.held() >= 3, 60, "three files downloading at once")
            finally:
                server.release()
            report = run.result(timeout=120)
        most = server.most_at_once()
    assert [r.outcome for r in report.results] == ["downloaded"] * len(files)
    # Files finishing (hash, flush, rename) make room for the next, but never more than
    # three answers are under way, counted by the server.
    assert most == 3


def test_server_that_ignores_ranges(dataset: Dataset, tmp_path: Path) -> None:
    served, files = dataset
    with ServerThread(served, ServerConfig(ignore_ranges=True)) as plain:
        report = fetch(specs_for(files, plain, tmp_path), segments=4, min_segment=MIB)
        assert plain.stats.requests == len(files)  # one stream each, no wasted requests
    assert [r.outcome for r in report.results] == ["downloaded"] * len(files)
    assert same_bytes(served, tmp_path, files)


def test_unknown_sizes_and_no_content_length(dataset: Dataset, tmp_path: Path) -> None:
    served, files = dataset
    config = ServerConfig(ignore_ranges=True, omit_content_length=True)
    with ServerThread(served, config) as chunked:
        report = fetch(specs_for(files, chunked, tmp_path, sizes=False), min_segment=MIB)
    assert [r.outcome for r in report.results] == ["downloaded"] * len(files)
    assert [r.bytes for r in report.results] == [f.size for f in files]
    assert same_bytes(served, tmp_path, files)


def test_present_files_cost_no_request(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    specs = specs_for(files, server, tmp_path)
    assert all(r.outcome == "downloaded" for r in fetch(specs).results)
    server.stats.reset()
    again = fetch(specs, verify=True)
    assert [r.outcome for r in again.results] == ["present"] * len(files)
    assert server.stats.requests == 0


def test_wrong_size_on_disk_is_fetched_again(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    specs = specs_for(files, server, tmp_path)
    fetch(specs)
    truncated = tmp_path / "big/b.raw"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    report = fetch(specs)
    assert [r.outcome for r in report.results].count("downloaded") == 1
    assert same_bytes(served, tmp_path, files)


def test_checksum_mismatch_fails_that_file_only(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    specs = specs_for(files, server, tmp_path)
    specs[3] = replace(specs[3], sha256="0" * 64)
    report = fetch(specs, min_segment=MIB)
    outcomes = [r.outcome for r in report.results]
    assert outcomes == ["downloaded"] * 3 + ["failed", "downloaded"]
    failure = report.results[3].failure
    assert failure is not None and failure.code == "checksum_mismatch"
    assert not (tmp_path / files[3].path).exists()
    assert leftovers(tmp_path) == []


def test_size_mismatch_and_missing_file_fail_without_touching_others(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    specs = specs_for(files[:3], server, tmp_path)
    specs[1] = replace(specs[1], size=5)
    specs.append(
        FileSpec(
            index=3, label="gone", url=server.url_for("gone.bin"), target=str(tmp_path / "gone.bin")
        )
    )
    report = fetch(specs)
    codes = [r.failure.code if r.failure else r.outcome for r in report.results]
    assert codes == ["downloaded", "size_mismatch", "downloaded", "http_status"]
    assert not (tmp_path / "one.bin").exists() and not (tmp_path / "gone.bin").exists()


def test_sources_are_named_by_the_server(tmp_path: Path) -> None:
    served = tmp_path / "served"
    generate(served, [("dir/real-name.bin", 32 * MIB)], seed=3)
    out = tmp_path / "out"
    with ServerThread(served, ServerConfig(content_disposition=True)) as named:
        spec = FileSpec(
            index=0, label="x", url=named.url_for("dir/real-name.bin"), output_dir=str(out)
        )
        report = fetch([spec], min_segment=MIB)
        assert report.results[0].outcome == "downloaded"
        assert (out / "real-name.bin").read_bytes() == (served / "dir/real-name.bin").read_bytes()
        named.stats.reset()
        again = fetch([spec])
    # Already there with the server's size: the probe's connection is dropped at once, so
    # only what filled the socket buffers was sent, not the body.
    assert again.results[0].outcome == "present"
    assert named.stats.bytes_sent < 8 * MIB
