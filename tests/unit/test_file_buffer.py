"""Reading a file into memory of its own: the same bytes as reading it whole."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import require

from evio_fetch.engine.file_buffer import file_buffer


@pytest.mark.parametrize("size", [1, 4095, 4096, 200_003])
def test_holds_the_whole_file(tmp_path: Path, size: int) -> None:
    path = tmp_path / "m.json"
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path.write_bytes(body)
    with file_buffer(path) as data:
        assert bytes(data) == body


def test_an_empty_file_is_no_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"")
    with file_buffer(path) as data:
        assert bytes(data) == b""


def test_a_file_said_empty_is_read_to_its_end() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("/proc, whose files say they are empty, is Linux's")
    status = Path("/proc/self/status")
    require(status.exists(), "/proc mounted")
    with file_buffer(status) as data:
        assert b"VmRSS" in bytes(data)


def test_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), file_buffer(tmp_path / "absent.json"):
        pass


def test_a_file_shorter_than_it_says_is_its_bytes_alone() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("/sys, whose files say they are a page long, is Linux's")
    online = Path("/sys/devices/system/cpu/online")
    require(online.exists(), "/sys mounted")
    held = online.read_bytes()
    require(0 < len(held) < online.stat().st_size, "a /sys file longer in its size than in bytes")
    with file_buffer(online) as data:
        assert bytes(data) == held, "the mapping's unfilled tail was handed on"
