"""The invariant itself, on hand-made reports and files: each promise it checks is shown
broken once, so a check that passes means something. No server, no command."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from invariant import Expect, check, snapshot

V1 = bytes(range(256)) * 2048  # 512 KiB
V2 = bytes(reversed(range(256))) * 2048


def downloaded(path: Path, data: bytes | None = None) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes() if data is None else data).hexdigest()
    return {"label": "f", "path": str(path), "outcome": "downloaded", "sha256": digest}


def run_check(tmp_path: Path, item: dict[str, Any], expect: Expect) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    check({"files": [item]}, tmp_path / "root", {"f": expect}, outside, snapshot(outside))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def test_one_whole_version_passes(tmp_path: Path, root: Path) -> None:
    (root / "f").write_bytes(V2)
    run_check(tmp_path, downloaded(root / "f"), Expect([V1, V2], root / "f", size=len(V2)))


def test_a_splice_is_named_piece_by_piece(tmp_path: Path, root: Path) -> None:
    half = len(V1) // 2
    (root / "f").write_bytes(V1[:half] + V2[half:])
    with pytest.raises(AssertionError, match=r"\[0, 262144\) v1, \[262144, 524288\) v2"):
        run_check(tmp_path, downloaded(root / "f"), Expect([V1, V2]))


def test_a_reported_sha256_that_is_not_the_files(tmp_path: Path, root: Path) -> None:
    (root / "f").write_bytes(V1)
    with pytest.raises(AssertionError, match="reported sha256"):
        run_check(tmp_path, downloaded(root / "f", V2), Expect([V1]))


def test_a_path_through_a_symlink(tmp_path: Path, root: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_bytes(V1)
    (root / "d").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AssertionError, match="is a symlink"):
        run_check(tmp_path, downloaded(root / "d" / "f"), Expect([V1]))


def test_a_path_outside_the_root(tmp_path: Path, root: Path) -> None:
    (tmp_path / "f").write_bytes(V1)
    with pytest.raises(AssertionError, match="outside the root"):
        run_check(tmp_path, downloaded(tmp_path / "f"), Expect([V1]))


def test_a_sidecar_left_beside_the_file(tmp_path: Path, root: Path) -> None:
    (root / "f").write_bytes(V1)
    (root / "f.evio-state").write_bytes(b"{}")
    with pytest.raises(AssertionError, match=r"f\.evio-state is left beside"):
        run_check(tmp_path, downloaded(root / "f"), Expect([V1]))


def test_a_failed_file_with_something_at_its_target(tmp_path: Path, root: Path) -> None:
    (root / "f").symlink_to("nowhere")
    failed = {"label": "f", "path": None, "outcome": "failed", "error": {"code": "x"}}
    with pytest.raises(AssertionError, match="failed"):
        run_check(tmp_path, failed, Expect([V1], root / "f"))


def test_an_unverified_size_must_be_said(tmp_path: Path, root: Path) -> None:
    (root / "f").write_bytes(V1)
    item = {**downloaded(root / "f"), "size_verified": True}
    with pytest.raises(AssertionError, match="size_verified"):
        run_check(tmp_path, item, Expect([V1], size_known=False))


@pytest.mark.parametrize("change", ["bytes", "mode", "link", "added"])
def test_any_change_beside_the_root(tmp_path: Path, root: Path, change: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a").write_bytes(b"a")
    (outside / "l").symlink_to("a")
    before = snapshot(outside)
    if change == "bytes":
        (outside / "a").write_bytes(b"b")
    elif change == "mode":
        (outside / "a").chmod(0o600)
    elif change == "link":
        os.unlink(outside / "l")
        (outside / "l").symlink_to("b")
    else:
        (outside / "new").mkdir()
    with pytest.raises(AssertionError, match="outside/"):
        check(None, root, {}, outside, before)
