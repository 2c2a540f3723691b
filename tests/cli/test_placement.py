"""Where files land: -o and --root name one directory, honoured with a manifest and with
sources alike; words that cannot go together are refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_cli, same_bytes, write_manifest

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

Dataset = tuple[Path, list[DataFile]]
Tree = dict[str, tuple[bool, int, int]]


def tree(root: Path) -> Tree:
    """Every path under ``root`` with what would show a write: kind, size, modification."""
    found: Tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        found[str(path.relative_to(root))] = (path.is_dir(), info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture
def workdir(dataset: Dataset, server: ServerThread, tmp_path: Path) -> Path:
    """A manifest of the small files, a regular file and an empty directory to aim at."""
    _, files = dataset
    small = [f for f in files if f.size < 2 * 1024 * 1024]
    write_manifest(tmp_path / "m.json", [(server.url_for(f.path), f.path, f) for f in small])
    (tmp_path / "file.bin").write_bytes(b"not a directory")
    (tmp_path / "empty").mkdir()
    return tmp_path


REFUSED = [
    (["--manifest", "m.json", "{url}"], "give either a manifest or sources"),
    (["--manifest", "m.json", "-o", "a", "--root", "b"], "-o a and --root b name different"),
    (["-o", "empty", "--root", "elsewhere", "{url}"], "-o empty and --root elsewhere name"),
    (["-o", "file.bin", "{url}"], "-o file.bin is not a directory"),
    (["--output-dir", "file.bin/sub", "{url}"], "-o file.bin/sub: file.bin is not a directory"),
    (["--manifest", "m.json", "--root", "file.bin"], "--root file.bin is not a directory"),
    (["--manifest", "m.json", "-o", "file.bin"], "-o file.bin is not a directory"),
    (["--resume-state", "empty/x.evio-state", "{url}"], "combined with SOURCE"),
    (["--resume-state", "empty/x.evio-state", "-o", "empty"], "combined with -o"),
]


@pytest.mark.parametrize(("words", "message"), REFUSED)
def test_refused_before_anything_is_written(
    workdir: Path, server: ServerThread, words: list[str], message: str
) -> None:
    before = tree(workdir)
    args = [word.format(url=server.url_for("one.bin")) for word in words]
    result = run_cli(*args, "--json", cwd=workdir)
    assert result.returncode == 2, result.stderr
    error, hint = result.stderr.splitlines()
    assert error.startswith("evio-fetch: error: ") and message in error
    assert hint.startswith("  hint: ")
    assert result.stdout == ""
    assert tree(workdir) == before
    assert server.stats.requests == 0


def test_output_dir_is_the_manifest_root(
    dataset: Dataset, server: ServerThread, workdir: Path
) -> None:
    served, files = dataset
    result = run_cli("--manifest", "m.json", "-o", "data", cwd=workdir)
    assert result.returncode == 0, result.stderr
    landed = [f for f in files if f.size < 2 * 1024 * 1024]
    assert same_bytes(served, workdir / "data", landed)
    assert not any((workdir / f.path).exists() for f in landed)
    again = run_cli("--manifest", "m.json", "--root", "data", "-o", "./data/", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "already present" in again.stderr


def test_root_is_where_sources_land(dataset: Dataset, server: ServerThread, workdir: Path) -> None:
    served, files = dataset
    one = next(f for f in files if f.path == "one.bin")
    result = run_cli("--root", "out", server.url_for("one.bin"), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert same_bytes(served, workdir / "out", [one])
