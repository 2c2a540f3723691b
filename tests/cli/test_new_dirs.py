"""Directories made for files that then failed are removed when the run leaves them empty;
directories that were there before, and anything above the root, stay."""

from __future__ import annotations

from pathlib import Path

from support import run_cli, write_manifest

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
    gone = server.url_for("no/such/file.bin")
    manifest = write_manifest(tmp_path / "m.json", [(gone, "sub/a.bin", files[1])])
    root = tmp_path / "made" / "root"  # neither exists: the run makes both
    result = run_cli("--manifest", str(manifest), "--root", str(root), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert not root.exists()  # the root this run made, left empty
    assert (tmp_path / "made").is_dir()  # above the root: kept
