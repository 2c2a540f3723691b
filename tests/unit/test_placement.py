"""-o and --root (output_dir= and root=) name one directory, which must be one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.placement import landing_directory


@pytest.fixture(autouse=True)
def _inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("dir").mkdir()
    Path("file.bin").write_bytes(b"x")
    os.symlink("dir", "link")


CHOSEN = [
    (None, None, "."),
    ("dir", None, "dir"),
    (None, "dir", "dir"),
    ("dir", "./dir/", "dir"),
    ("link", "dir", "link"),  # a symlink to the same directory is the same directory
    ("missing/deeper", None, "missing/deeper"),  # made with the first file
    (None, "dir/new", "dir/new"),
]


@pytest.mark.parametrize(("output_dir", "root", "chosen"), CHOSEN)
def test_the_directory_named(output_dir: str | None, root: str | None, chosen: str) -> None:
    given = landing_directory(
        ("-o", None if output_dir is None else Path(output_dir)),
        ("--root", None if root is None else Path(root)),
    )
    assert given == Path(chosen)


REFUSED = [
    ("dir", "other", "-o dir and --root other name different directories"),
    ("file.bin", None, "-o file.bin is not a directory"),
    (None, "file.bin", "--root file.bin is not a directory"),
    ("file.bin/sub/x", None, "-o file.bin/sub/x: file.bin is not a directory"),
    ("file.bin", "file.bin", "-o file.bin is not a directory"),
]


@pytest.mark.parametrize(("output_dir", "root", "message"), REFUSED)
def test_refused(output_dir: str | None, root: str | None, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        landing_directory(
            ("-o", None if output_dir is None else Path(output_dir)),
            ("--root", None if root is None else Path(root)),
        )
    assert caught.value.message == message and caught.value.hint
    assert caught.value.exit_status == 2


def test_keyword_arguments_are_named_as_written_in_python() -> None:
    with pytest.raises(UsageError) as caught:
        landing_directory(("output_dir=", Path("dir")), ("root=", Path("file.bin")))
    assert caught.value.message == "output_dir='dir' and root='file.bin' name different directories"
    assert "output_dir and root are one directory" in caught.value.hint
