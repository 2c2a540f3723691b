"""Directories made for files that then failed are removed when the run leaves them empty;
directories that were there before, and anything above the root, stay."""

from __future__ import annotations

from pathlib import Path

from support import MIB, run_cli, write_manifest

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

Dataset = tuple[Path, list[DataFile]]


def test_directories_made_for_failed_files_are_removed_if_empty(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    good = next(f for f in files if f.path == "small/a.dat")
    gone = server.url_for("no/such/file.bin")  # 404, after the partial file was created
    root = tmp_path / "root"
    (root / "kept").mkdir(parents=True)  # there before the run, empty: it stays
    manifest = write_manifest(
        tmp_path / "m.json",
        [
            (gone, "fresh/deep/a.bin", good),
            (gone, "kept/b.bin", good),
            (gone, "shared/c.bin", good),
            (server.url_for(good.path), "shared/ok.dat", good),
        ],
    )
    result = run_cli("--manifest", str(manifest), "--root", str(root), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert not (root / "fresh").exists()
    assert (root / "kept").is_dir() and list((root / "kept").iterdir()) == []
    assert [p.name for p in (root / "shared").iterdir()] == ["ok.dat"]
    assert (root / "shared" / "ok.dat").read_bytes() == (served / good.path).read_bytes()


def test_nothing_above_the_root_is_removed(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    big = next(f for f in files if f.size > MIB)  # its partial file is made, then the 404
    gone = server.url_for("no/such/file.bin")
    manifest = write_manifest(tmp_path / "m.json", [(gone, "sub/a.bin", big)])
    root = tmp_path / "made" / "root"  # neither exists: the run makes both
    result = run_cli("--manifest", str(manifest), "--root", str(root), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert not root.exists()  # the root this run made, left empty
    assert (tmp_path / "made").is_dir()  # above the root: kept


def test_a_small_file_that_fails_makes_no_directory(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    """A file that fits in the probe's answer is written only once it has all arrived and
    matched its SHA256: one that fails never made a directory."""
    _, files = dataset
    small = next(f for f in files if f.path == "one.bin")
    gone = server.url_for("no/such/file.bin")
    manifest = write_manifest(tmp_path / "m.json", [(gone, "sub/a.bin", small)])
    root = tmp_path / "made" / "root"
    result = run_cli("--manifest", str(manifest), "--root", str(root), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "made").exists()
