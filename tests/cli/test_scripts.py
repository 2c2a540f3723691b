"""The console scripts pip installs, by both their names: ``evio-fetch`` and
``download-datasets``, one command. The design's command lines are run verbatim, and its exit
statuses checked: 0 all present, 1 partial success, 2 complete failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import leftovers, run_script, same_bytes, write_manifest

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread
from evio_fetch.engine.version import VERSION

Dataset = tuple[Path, list[DataFile]]
NAMES = ("evio-fetch", "download-datasets")


def default_manifest(here: Path, files: list[DataFile], server: ServerThread) -> None:
    """The manifest where the command looks without --manifest, its files under data/."""
    (here / "docs" / "data").mkdir(parents=True)
    entries = [(server.url_for(f.path), f"data/{f.path}", f) for f in files]
    write_manifest(here / "docs" / "data" / "datasets.json", entries)


def test_the_design_command_lines_work_verbatim(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    default_manifest(tmp_path, files, server)

    planned = run_script("download-datasets", "--dry-run", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert f"{len(files)} to fetch" in planned.stdout and planned.stderr == ""
    assert server.stats.requests == 0 and not (tmp_path / "data").exists()

    fetched = run_script("download-datasets", "--yes", "--quiet", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    lines = fetched.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{len(files)} downloaded · ")
    assert same_bytes(served, tmp_path / "data", files) and leftovers(tmp_path) == []

    server.stats.reset()
    for words in (["--verify"], ["--no-resume"]):
        again = run_script("download-datasets", *words, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert f"{len(files)} already present" in again.stderr, words
    assert server.stats.requests == 0

    for f in files:
        (tmp_path / "data" / f.path).unlink()
    wide = run_script("download-datasets", "--concurrency", "5", cwd=tmp_path)
    assert wide.returncode == 0, wide.stderr
    assert f"{len(files)} downloaded" in wide.stderr
    assert same_bytes(served, tmp_path / "data", files) and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", NAMES)
def test_usage_and_error_lines_name_the_command_typed(name: str, tmp_path: Path) -> None:
    shown = run_script(name, "--help", cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.startswith(f"usage: {name} ")
    help_text = " ".join(shown.stdout.split())
    assert f"`{name} manifest --help`" in help_text
    assert "2 complete failure" in help_text

    refused = run_script(name, "--segments", "0", cwd=tmp_path)
    assert refused.returncode == 2
    assert f"{name}: error: argument --segments" in refused.stderr

    no_manifest = run_script(name, cwd=tmp_path)
    assert no_manifest.returncode == 2
    assert no_manifest.stderr.startswith(f"{name}: error: docs/data/datasets.json")

    manifest_help = run_script(name, "manifest", "--help", cwd=tmp_path)
    assert manifest_help.stdout.startswith(f"usage: {name} manifest ")


@pytest.mark.parametrize("name", NAMES)
def test_the_version_names_the_product(name: str, tmp_path: Path) -> None:
    shown = run_script(name, "--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == f"evio-fetch {VERSION}"


def outcomes(result: object) -> list[str]:
    report = json.loads(getattr(result, "stdout", ""))
    return [f["outcome"] for f in report["files"]]


@pytest.mark.parametrize("name", NAMES)
def test_a_run_where_every_file_fails_exits_2(
    name: str, dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    entries = [(server.url_for(f"gone/{f.path}"), f"data/{f.path}", f) for f in files[1:3]]
    manifest = write_manifest(tmp_path / "m.json", entries)
    result = run_script(name, "--manifest", str(manifest), "--json", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert outcomes(result) == ["failed", "failed"]
    assert "404" in result.stderr and "Traceback" not in result.stderr


def test_a_partial_success_exits_1_and_so_does_its_rerun(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    good, lost = files[2], files[3]
    entries = [
        (server.url_for(good.path), f"data/{good.path}", good),
        (server.url_for("gone.bin"), f"data/{lost.path}", lost),
    ]
    manifest = write_manifest(tmp_path / "m.json", entries)
    first = run_script("download-datasets", "--manifest", str(manifest), "--json", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert outcomes(first) == ["downloaded", "failed"]
    assert same_bytes(served, tmp_path / "data", [good])
    # Only the lost file is attempted again, and fails; the one already present still counts.
    again = run_script("download-datasets", "--manifest", str(manifest), "--json", cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    assert outcomes(again) == ["present", "failed"]
