"""What evio-fetch writes is never reached through anything planted on the way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evio_fetch.engine.errors import UnsafePathError
from evio_fetch.engine.safe_paths import (
    check_regular_or_absent,
    check_same_file,
    make_directories,
    open_regular,
)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"keep me")
    return victim


def test_a_symlink_is_refused_by_name(tmp_path: Path, outside: Path) -> None:
    planted = tmp_path / "t.evio-part"
    os.symlink(outside, planted)
    with pytest.raises(UnsafePathError, match=r"t\.evio-part: is a symbolic link"):
        open_regular(planted, os.O_RDWR | os.O_CREAT)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        check_regular_or_absent(planted)
    assert outside.read_bytes() == b"keep me"


def test_a_hard_link_is_refused(tmp_path: Path, outside: Path) -> None:
    planted = tmp_path / "t.evio-part"
    os.link(outside, planted)
    with pytest.raises(UnsafePathError, match="hard link"):
        open_regular(planted, os.O_RDWR | os.O_CREAT)


@pytest.mark.posix
def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    planted = tmp_path / "t.evio-part"
    os.mkfifo(planted)
    with pytest.raises(UnsafePathError, match="FIFO"):
        open_regular(planted, os.O_RDONLY)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.evio-part").mkdir()
    with pytest.raises(UnsafePathError, match="directory"):
        open_regular(tmp_path / "t.evio-part", os.O_RDWR | os.O_CREAT)


def test_a_new_file_is_made_and_opened(tmp_path: Path) -> None:
    fd = open_regular(tmp_path / "new", os.O_RDWR | os.O_CREAT)
    try:
        assert os.get_blocking(fd)
        check_same_file(tmp_path / "new", fd)
    finally:
        os.close(fd)
    assert check_regular_or_absent(tmp_path / "new")
    assert not check_regular_or_absent(tmp_path / "absent")


def test_a_file_replaced_under_its_name_is_noticed(tmp_path: Path) -> None:
    fd = open_regular(tmp_path / "part", os.O_RDWR | os.O_CREAT)
    try:
        (tmp_path / "other").write_bytes(b"hostile")
        os.replace(tmp_path / "other", tmp_path / "part")
        with pytest.raises(UnsafePathError, match="replaced"):
            check_same_file(tmp_path / "part", fd)
    finally:
        os.close(fd)


def test_directories_are_made_below_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_directories(root, root / "a" / "b")
    assert (root / "a" / "b").is_dir()


def test_a_symlinked_directory_leading_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside.parent, root / "a")
    with pytest.raises(UnsafePathError, match="leads outside"):
        make_directories(root, root / "a" / "b" / "c")
    assert sorted(p.name for p in outside.parent.iterdir()) == ["victim.txt"]


def test_a_symlinked_directory_inside_the_root_is_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    os.symlink(root / "real", root / "alias")
    make_directories(root, root / "alias" / "b")
    assert (root / "real" / "b").is_dir()
