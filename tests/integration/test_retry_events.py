"""Retries reach whoever watches a run: the engine tells its Observer each retry, from the
file's own loop (the probe) and from a connection's (one segment), and the Python API's
watcher takes them in stride."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import MIB, FaultServer, Status

from evio_fetch.engine import fetch, runner
from evio_fetch.engine.model import FileSpec, Options
from evio_fetch.engine.observer import NullObserver

Retry = tuple[int, int, str, float]


class Retries(NullObserver):
    def __init__(self) -> None:
        self.seen: list[Retry] = []
        self.started_after: list[int] = []

    def retrying(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        self.seen.append((attempt, of, reason, pause))

    def started(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        self.started_after.append(len(self.seen))


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.mark.parametrize(
    ("skip", "times", "segments", "before_start"),
    [(0, 2, 1, 2), (1, 1, 4, 0)],
    # The probe refused twice, before the download starts; or, after it, one segment's
    # request, retried by that connection alone while the others go on.
    ids=["probe", "segment"],
)
def test_each_retry_reaches_the_observer(
    server: FaultServer, tmp_path: Path, skip: int, times: int, segments: int, before_start: int
) -> None:
    served = server.add(
        "/a.bin", size=8 * MIB, faults=[Status(code=503, retry_after=1, skip=skip, times=times)]
    )
    spec = FileSpec(index=0, label="a.bin", url=served.url, target=str(tmp_path / "a.bin"))
    watcher = Retries()
    report = runner.run([spec], Options(segments=segments, retries=3, workers=1), watcher)
    assert report.results[0].outcome == "downloaded"
    reason = "the server answered HTTP 503"  # the file's name and URL are the display's to say
    assert [(a, o, r) for a, o, r, _ in watcher.seen] == [
        (n, 3, reason) for n in range(1, times + 1)
    ]
    assert all(pause >= 1.0 for *_, pause in watcher.seen)  # the server's Retry-After
    assert watcher.started_after == [before_start]


def test_the_api_watches_a_retried_run(server: FaultServer, tmp_path: Path) -> None:
    served = server.add("/a.bin", size=MIB, faults=[Status(code=503, retry_after=1, times=1)])
    report = fetch(served.url, output_dir=tmp_path, workers=1, on_progress=lambda _: None)
    assert report.ok, report.results
