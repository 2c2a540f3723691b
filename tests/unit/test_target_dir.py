"""A download's directory held open: files beside a target are reached through it, so a
directory swapped for a symlink after it was reached leads nowhere else."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from evio_fetch.engine import state as state_file
from evio_fetch.engine.errors import UnsafePathError
from evio_fetch.engine.platform_io import PLATFORM, PlatformIO
from evio_fetch.engine.state import SegmentState, State
from evio_fetch.engine.storage import PartFile
from evio_fetch.engine.target_dir import TargetDirectory

HELD = pytest.mark.skipif(
    not PLATFORM.hold_directories, reason="directories cannot be held open here"
)
BY_PATH = dataclasses.replace(PLATFORM, hold_directories=False)


def a_state(target: Path) -> State:
    return State(
        label="t",
        url="http://127.0.0.1/t",
        target=str(target),
        size=10,
        block_size=1 << 20,
        segments=[SegmentState(0, 10, 0)],
    )


def swap_for_link(directory: Path, elsewhere: Path) -> Path:
    """Move ``directory`` aside and put a symlink to ``elsewhere`` in its place."""
    moved = directory.with_name(directory.name + "-moved")
    directory.rename(moved)
    directory.symlink_to(elsewhere, target_is_directory=True)
    return moved


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    where = tmp_path / "elsewhere"
    where.mkdir()
    for name in ("t.evio-part", "t.evio-state", "t.evio-state.tmp"):
        (where / name).write_bytes(b"not yours")
    return where


@pytest.mark.parametrize("platform", [PLATFORM, BY_PATH], ids=["held", "by-path"])
def test_missing_levels_are_made_and_a_link_on_the_way_refused(
    tmp_path: Path, elsewhere: Path, platform: PlatformIO
) -> None:
    root = tmp_path / "root"
    with TargetDirectory.open(root, root / "a" / "b", platform) as made:
        assert made.path == root / "a" / "b"
    assert (root / "a" / "b").is_dir()
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="link"):
        TargetDirectory.open(root, root / "link" / "c", platform)
    assert not (elsewhere / "c").exists()


def test_a_directory_outside_the_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="not inside"):
        TargetDirectory.open(tmp_path / "root", tmp_path / "other")


@HELD
def test_after_a_swap_the_state_is_saved_and_removed_in_the_directory_held(
    tmp_path: Path, elsewhere: Path
) -> None:
    """The state's temporary, its rename and its removal all stay in the directory that was
    reached, wherever it was moved; the files under the link's target are untouched."""
    root = tmp_path / "root"
    target = root / "data" / "t"
    part = PartFile(target.with_name("t.evio-part"), root)
    try:
        moved = swap_for_link(root / "data", elsewhere)
        state = target.with_name("t.evio-state")
        state_file.save(state, a_state(target), part.platform, part.directory)
        assert state_file.load(state, part.directory) == a_state(target)
        assert (moved / "t.evio-state").is_file()
        state_file.discard(state, part.directory)
        part.discard()
        assert sorted(os.listdir(moved)) == []
    finally:
        part.close()
    assert all((elsewhere / n).read_bytes() == b"not yours" for n in os.listdir(elsewhere))


@HELD
def test_a_file_whose_directory_was_swapped_is_refused_its_rename_and_cleaned_up_there(
    tmp_path: Path, elsewhere: Path
) -> None:
    """The move into place is refused (the directory is no longer where the target's path
    leads); the caller's cleanup then reaches the part through the directory held, never
    through the path that now leads to a link."""
    root = tmp_path / "root"
    target = root / "data" / "t"
    part = PartFile(target.with_name("t.evio-part"), root)
    try:
        part.write_at(b"bytes", 0)
        moved = swap_for_link(root / "data", elsewhere)
        with pytest.raises(UnsafePathError, match="moved or replaced"):
            part.move_into_place(target)
        assert (moved / "t.evio-part").read_bytes() == b"bytes"
        assert not (elsewhere / "t").exists()
        part.discard()
        assert os.listdir(moved) == []
    finally:
        part.close()
    assert all((elsewhere / n).read_bytes() == b"not yours" for n in os.listdir(elsewhere))


@HELD
def test_a_directory_let_go_is_never_named_by_its_path_instead(tmp_path: Path) -> None:
    directory = TargetDirectory.open(tmp_path, tmp_path / "d")
    (tmp_path / "d" / "x").write_bytes(b"kept")
    directory.close()
    with pytest.raises(OSError, match="no longer held"):
        directory.unlink(tmp_path / "d" / "x")
    assert (tmp_path / "d" / "x").read_bytes() == b"kept"


@HELD
def test_a_directory_moved_back_in_place_takes_the_file(tmp_path: Path) -> None:
    """The check is of where the path leads when the file is renamed, not of how it got
    there: the same directory, moved away and back, is still the one held."""
    root = tmp_path / "root"
    target = root / "data" / "t"
    part = PartFile(target.with_name("t.evio-part"), root)
    part.write_at(b"bytes", 0)
    (root / "data").rename(root / "away")
    (root / "away").rename(root / "data")
    part.move_into_place(target)
    part.close()
    assert target.read_bytes() == b"bytes"
