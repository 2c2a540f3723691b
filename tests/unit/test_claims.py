"""Where server-named files land: one name per file of a run, never over another file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evio_fetch.engine.claims import MAX_NUMBER, NameClaims
from evio_fetch.engine.errors import UnsafeNameError
from evio_fetch.engine.naming import numbered, safe_name


def test_two_files_of_one_name_in_a_run_land_apart(tmp_path: Path) -> None:
    claims = NameClaims()
    assert claims.claim(tmp_path, "x.bin", 10, b"s") == (tmp_path / "x.bin", False)
    assert claims.claim(tmp_path, "x.bin", 10, b"s") == (tmp_path / "x (1).bin", False)
    assert claims.claim(tmp_path, "x.bin", None, b"s") == (tmp_path / "x (2).bin", False)


def test_names_of_one_run_differ_by_more_than_case(tmp_path: Path) -> None:
    """On macOS and Windows ``Data.bin`` and ``data.bin`` are one file."""
    claims = NameClaims()
    assert claims.claim(tmp_path, "Data.bin", 10, b"s") == (tmp_path / "Data.bin", False)
    assert claims.claim(tmp_path, "data.bin", 10, b"s") == (tmp_path / "data (1).bin", False)
    assert claims.claim(tmp_path, "DATA.BIN", 10, b"s") == (tmp_path / "DATA (2).BIN", False)


def test_an_existing_file_of_another_size_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"mine")
    assert NameClaims().claim(tmp_path, "x.bin", 10, b"s") == (tmp_path / "x (1).bin", False)


def test_an_existing_file_of_the_same_size_is_already_there(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"0123456789")
    assert NameClaims().claim(tmp_path, "x.bin", 10, b"s") == (tmp_path / "x.bin", True)
    # Without a size from the server, nothing can say it is the same file.
    assert NameClaims().claim(tmp_path, "x.bin", None, b"s") == (tmp_path / "x (1).bin", False)


def test_a_symlink_is_never_the_file_and_never_replaced(tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"0123456789")
    os.symlink(outside, tmp_path / "x.bin")
    assert NameClaims().claim(tmp_path, "x.bin", 10, b"s") == (tmp_path / "x (1).bin", False)


def test_names_run_out(tmp_path: Path) -> None:
    claims = NameClaims()
    for _ in range(MAX_NUMBER):
        claims.claim(tmp_path, "x.bin", None, b"s")
    with pytest.raises(UnsafeNameError):
        claims.claim(tmp_path, "x.bin", None, b"s")


@pytest.mark.parametrize(
    ("name", "number", "expected"),
    [
        ("data.bin", 0, "data.bin"),
        ("data.bin", 1, "data (1).bin"),
        ("data.tar.gz", 2, "data (2).tar.gz"),
        ("README", 3, "README (3)"),
        (".hidden", 1, ".hidden (1)"),
    ],
)
def test_numbered_names(name: str, number: int, expected: str) -> None:
    assert numbered(name, number) == expected


def test_a_numbered_name_keeps_within_the_length_a_name_may_have() -> None:
    long = safe_name("a" * 400 + ".bin")
    assert len(numbered(long, 999).encode()) <= len(long.encode())
    assert numbered(long, 999).endswith(" (999).bin")


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        ("x.bin.evio-part", "x.bin_evio-part"),
        ("x.bin.evio-state", "x.bin_evio-state"),
        ("x.bin.evio-state.tmp", "x.bin_evio-state.tmp"),
        ("X.BIN.EVIO-PART", "X.BIN_EVIO-PART"),
        ("x.evio-partial", "x.evio-partial"),
    ],
)
def test_a_server_name_never_ends_like_a_sidecar(offered: str, expected: str) -> None:
    assert safe_name(offered) == expected


def test_a_file_another_source_landed_is_never_this_one(tmp_path: Path) -> None:
    landed = tmp_path / "x.bin"
    landed.write_bytes(b"0123456789")
    os.setxattr(landed, "user.evio-fetch.source", b"other")
    assert NameClaims().claim(tmp_path, "x.bin", 10, b"mine") == (tmp_path / "x (1).bin", False)
    assert NameClaims().claim(tmp_path, "x.bin", 10, b"other") == (tmp_path / "x.bin", True)
