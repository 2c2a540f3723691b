"""Which directories a run may remove at its end, on a real file system."""

from __future__ import annotations

from pathlib import Path

from evio_fetch.engine.new_dirs import missing_directories, remove_empty


def test_missing_directories_go_from_the_floor_down(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    deep = root / "a" / "b" / "c"
    assert missing_directories(str(deep), str(root)) == (str(root / "a" / "b"), str(deep))
    assert missing_directories(str(root / "a"), str(root)) == ()
    assert missing_directories(str(deep), str(tmp_path / "elsewhere")) == ()
    # A floor that does not exist is the highest directory named, never what is above it.
    new_root = tmp_path / "x" / "y"
    assert missing_directories(str(new_root / "z"), str(new_root)) == (
        str(new_root),
        str(new_root / "z"),
    )


def test_only_empty_directories_are_removed_deepest_first(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    chains = [
        missing_directories(str(root / "a" / "b" / "c"), str(root)),
        missing_directories(str(root / "a" / "d"), str(root)),
        missing_directories(str(root / "full" / "e"), str(root)),
    ]
    for chain in chains:
        Path(chain[-1]).mkdir(parents=True)
    (root / "full" / "e" / "kept.bin").write_bytes(b"x")
    remove_empty(chains)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "full",
        "full/e",
        "full/e/kept.bin",
    ]


def test_no_directory_is_reached_through_a_symlink(tmp_path: Path) -> None:
    """A directory the run made is swapped for a symlink to another tree while the run goes
    on: the empty directory of the same name at the far end is not removed."""
    root, other = tmp_path / "root", tmp_path / "other"
    (other / "b").mkdir(parents=True)
    root.mkdir()
    chain = missing_directories(str(root / "a" / "b"), str(root))
    (root / "a").symlink_to(other)
    remove_empty([chain])
    assert (other / "b").is_dir() and (root / "a").is_symlink()
