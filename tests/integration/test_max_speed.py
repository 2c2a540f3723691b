"""``--max-speed`` is one cap for the whole run: measured at the server, across several files,
connections and worker processes, no five seconds carry more than the cap allows (plus 10 %),
and the busiest five carry at least half of it: paced, not starved."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, run_cli, same_bytes, write_manifest

from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

CAP = 6 * MIB
WINDOW = 5.0
FILES = [(f"rec/{i}.dat", 12 * MIB) for i in range(3)]


class Sampler:
    """The server's byte count, read every few milliseconds from a thread of the test."""

    def __init__(self, server: ServerThread) -> None:
        self.samples: list[tuple[float, int]] = []
        self._server = server
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.monotonic(), self._server.stats.bytes_sent))
            self._done.wait(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def busiest_window(self, seconds: float) -> int:
        """The most bytes sent in any span of ``seconds`` while the run lasted."""
        best, j = 0, 0
        for i, (start, sent) in enumerate(self.samples):
            j = max(j, i)
            while j + 1 < len(self.samples) and self.samples[j + 1][0] <= start + seconds:
                j += 1
            best = max(best, self.samples[j][1] - sent)
        return best


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, list[DataFile]]:
    root = tmp_path / "served"
    return root, generate(root, FILES, seed=21)


@pytest.fixture
def server(served: tuple[Path, list[DataFile]]) -> Iterator[ServerThread]:
    # A small send buffer, so the bytes counted at the server are the bytes the client took.
    with ServerThread(served[0], ServerConfig(send_buffer=16 * 1024)) as running:
        yield running


def test_one_cap_across_files_connections_and_workers(
    tmp_path: Path, served: tuple[Path, list[DataFile]], server: ServerThread
) -> None:
    root, files = served
    manifest = write_manifest(
        tmp_path / "m.json", [(server.url_for(f.path), f.path, f) for f in files]
    )
    out = tmp_path / "out"
    options = ["--segments", "4", "--concurrency", "3", "--workers", "2", "--root", str(out)]
    with Sampler(server) as sampler:
        result = run_cli(
            "--manifest", str(manifest), *options, "--max-speed", "6M", "--quiet", cwd=tmp_path
        )
    assert result.returncode == 0, result.stderr
    assert same_bytes(root, out, files)
    busiest = sampler.busiest_window(WINDOW)
    rate = f"{busiest / WINDOW / MIB:.2f} MiB/s over {WINDOW} s"
    assert busiest <= 1.10 * CAP * WINDOW, rate
    # Paced, not starved: the steady part of the run (start-up aside, however long a loaded
    # machine makes it) comes near the cap; half of it is a fraction of what loopback moves.
    assert busiest >= 0.5 * CAP * WINDOW, rate
