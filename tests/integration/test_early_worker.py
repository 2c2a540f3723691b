"""The worker started before the command line is read (engine.early_worker): used for the run
it was started for, ended unused when the options turn out not to want it, and replaced when
the run needs a budget it was started without."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import MIB, leftovers, same_bytes, specs_for

from evio_fetch.engine import runner
from evio_fetch.engine.early_worker import start_early, wanted
from evio_fetch.engine.loopback.dataset import generate
from evio_fetch.engine.loopback.server import ServerThread
from evio_fetch.engine.model import FileSpec, Options
from evio_fetch.engine.observer import NullObserver
from evio_fetch.engine.pool import for_run, launch_with


@pytest.mark.parametrize(
    ("words", "interactive", "expected"),
    [
        (["https://example.org/a.bin", "--yes"], True, True),
        (["https://example.org/a.bin", "-y"], True, True),
        (["https://example.org/a.bin"], False, True),
        (["https://example.org/a.bin"], True, False),  # a person is asked first
        (["--dry-run", "https://example.org/a.bin"], False, False),
        (["--dry", "https://example.org/a.bin"], False, False),  # argparse's abbreviation
        (["--demo"], False, False),
        (["--help"], False, False),
        (["-h"], False, False),
        (["--version"], False, False),
        (["--max-speed", "1M", "https://example.org/a.bin"], False, False),
    ],
)
def test_only_words_that_ask_for_a_download_start_a_worker(
    words: list[str], interactive: bool, expected: bool
) -> None:
    assert wanted(words, interactive) is expected


def test_a_worker_not_wanted_is_ended_unused() -> None:
    early = start_early()
    early.discard()
    assert not early.process.is_alive()
    assert early.process.exitcode is not None


def test_the_early_worker_fetches_and_the_parent_verifies(tmp_path: Path) -> None:
    served, out = tmp_path / "served", tmp_path / "out"
    files = generate(served, [("a.bin", MIB), ("d/b.bin", 3 * MIB)], seed=14)
    early = start_early()  # first, as the command does, before any thread of the server
    with ServerThread(served) as server:
        options = Options(workers=1, concurrency=2)
        launched = launch_with(early, options)
        report = runner.run(specs_for(files, server, out), options, NullObserver(), None, launched)  # type: ignore[arg-type]
    assert [r.outcome for r in report.results] == ["downloaded", "downloaded"]
    assert [r.sha256 for r in report.results] == [f.sha256 for f in files]
    assert same_bytes(served, out, files) and not leftovers(out)
    assert not early.process.is_alive()


def test_a_run_of_drive_files_replaces_the_early_worker(tmp_path: Path) -> None:
    options = Options(workers=1)
    launched = launch_with(start_early(), options)
    (early,) = launched.workers
    assert launched.budgets.drive is None
    spec = FileSpec(index=0, label="x", drive_id="1abcDEF", target=str(tmp_path / "x"))
    run_launch = for_run(launched, options, [spec])
    assert run_launch.budgets.drive is not None and run_launch.workers == []
    assert not early.process.is_alive()


def test_a_run_without_drive_files_keeps_the_early_worker(tmp_path: Path) -> None:
    options = Options(workers=1)
    launched = launch_with(start_early(), options)
    spec = FileSpec(index=0, label="x", url="http://127.0.0.1:9/x", target=str(tmp_path / "x"))
    try:
        assert for_run(launched, options, [spec]) is launched
    finally:
        launched.release()
