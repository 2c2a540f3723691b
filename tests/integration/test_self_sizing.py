"""Without --segments, a file's connections size themselves: counted at the server, they grow
past the first two where each connection is capped, stay few where the link is full, and back
off when the server answers 503."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import MIB, leftovers, same_bytes, specs_for

from evio_fetch.engine import runner
from evio_fetch.engine.connection_sizer import CEILING
from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread, StatsSnapshot
from evio_fetch.engine.model import Options
from evio_fetch.engine.observer import NullObserver

Dataset = tuple[Path, list[DataFile]]
NAME = "sized.bin"
SIZE = 24 * MIB
# 1 MiB pieces: enough of them that every connection the sizer may want finds work.
OPTIONS = Options(min_segment=MIB, workers=1, retries=2)


@pytest.fixture(scope="module")
def sized(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    root = tmp_path_factory.mktemp("sized")
    return root, generate(root, [(NAME, SIZE)], seed=14)


def download(
    data: Dataset, config: ServerConfig, out: Path, options: Options
) -> tuple[ServerThread, list[StatsSnapshot]]:
    """Fetch the file from a server set up as ``config``; the server, to read its counts, and
    its counts as they were while the download ran."""
    served, files = data
    seen: list[StatsSnapshot] = []
    with ServerThread(served, config) as server, ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.run, specs_for(files, server, out), options, NullObserver())
        while not running.done():
            seen.append(server.stats.snapshot())
            time.sleep(0.005)  # sampling the server, not waiting for it
        report = running.result()
    assert [r.outcome for r in report.results] == ["downloaded"]
    assert same_bytes(served, out, files)
    assert leftovers(out) == []
    return server, seen


def test_a_cap_per_connection_brings_more_connections(sized: Dataset, tmp_path: Path) -> None:
    config = ServerConfig(rate_per_connection=3 * MIB)
    server, _ = download(sized, config, tmp_path, OPTIONS)
    # Started with two; every connection added raised the rate, so more were added.
    assert server.stats.max_streaming_by_path[NAME] > 2


def test_a_full_link_keeps_connections_few(sized: Dataset, tmp_path: Path) -> None:
    # One cap for all connections together: a second one, or a fourth, brings nothing.
    config = ServerConfig(rate_total=12 * MIB)
    _, seen = download(sized, config, tmp_path, OPTIONS)
    # It tried the ceiling, found nothing like the eightfold gain capped connections give,
    # and went back: through the second half of the file, few stream. Not always two: a
    # tenth of a second's sample on a loaded machine can show a gain of a few percent, and
    # the count it implies is then three; more than four would take a gain over 100 %.
    late = [s.streaming for s in seen if s.bytes_sent > SIZE // 2]
    assert late, "the download's second half was never sampled"
    assert max(late) <= 4 < CEILING


def test_segments_still_forces_the_count(sized: Dataset, tmp_path: Path) -> None:
    config = ServerConfig(rate_total=12 * MIB)
    forced = Options(segments=8, min_segment=MIB, workers=1)
    server, _ = download(sized, config, tmp_path, forced)
    assert server.stats.max_streaming_by_path[NAME] == 8


def test_a_busy_server_makes_them_back_off(sized: Dataset, tmp_path: Path) -> None:
    # Each connection capped, so the sizer wants more; the server serves three at once and
    # refuses the rest with 503.
    config = ServerConfig(rate_per_connection=3 * MIB, max_streams=3)
    server, _ = download(sized, config, tmp_path, OPTIONS)
    assert server.stats.max_streaming_by_path[NAME] == 3
    # Each connection refused left at once: at most one 503 for each the sizer added, never
    # one per retry.
    assert 1 <= server.stats.refused <= CEILING - 2
