"""A download cancelled while its partial file is being opened (the run stopping, say) leaves
nothing behind it: the thread that opens the file goes on after the cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evio_fetch.engine.storage import PartFile


async def cancel_while_opening(path: Path) -> None:
    opening = asyncio.create_task(PartFile.acquire(path, path.parent))
    await asyncio.sleep(0)  # the thread is on its way
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    # Every thread the loop started is done: whatever it would have left is there now.
    await asyncio.get_running_loop().shutdown_default_executor()


async def test_a_part_file_made_by_a_cancelled_acquire_is_removed(tmp_path: Path) -> None:
    await cancel_while_opening(tmp_path / "t.bin.evio-part")
    assert list(tmp_path.iterdir()) == []


async def test_a_part_file_found_by_a_cancelled_acquire_is_kept_and_free(tmp_path: Path) -> None:
    part = tmp_path / "t.bin.evio-part"
    part.write_bytes(b"progress of an earlier run")
    await cancel_while_opening(part)
    assert part.read_bytes() == b"progress of an earlier run"
    PartFile(part).close()  # not left locked by an open descriptor
