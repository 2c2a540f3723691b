"""The checkpoint keeper: a stopped keeper leaves no save running behind it."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import suppress
from pathlib import Path

from support import MIB

from evio_fetch.engine import state as state_file
from evio_fetch.engine.blocks import BLOCK_SIZE, BlockDigests
from evio_fetch.engine.checkpoint import Checkpoint
from evio_fetch.engine.segment_board import BoardShape, Segment, SegmentBoard
from evio_fetch.engine.state import SourceState, State
from evio_fetch.engine.storage import PartFile

SLOW_FLUSH = 0.3


class SlowFlush(Checkpoint):
    """A checkpoint on a disk whose flush takes a while, as a busy one's does."""

    started = threading.Event()
    saved = threading.Event()

    def _save_snapshot(self, snapshot: State) -> None:
        self.started.set()
        time.sleep(SLOW_FLUSH)  # the slow disk, not a synchronisation
        super()._save_snapshot(snapshot)
        self.saved.set()


async def test_a_stopped_keeper_waits_for_the_save_it_started(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    part = PartFile(tmp_path / "f.bin.evio-part")
    part.preallocate(MIB)
    template = State(label="f", target=str(target), size=MIB, block_size=BLOCK_SIZE, segments=[])
    board = SegmentBoard(MIB, BoardShape(1, MIB, MIB, BLOCK_SIZE, BLOCK_SIZE))
    board.segments[:] = [Segment(0, MIB, MIB // 2)]
    checkpoint = SlowFlush(tmp_path / "f.bin.evio-state", part, template, board, BlockDigests(MIB))
    keeper = asyncio.create_task(checkpoint.keep())
    try:
        assert await asyncio.to_thread(checkpoint.started.wait, 10)
        keeper.cancel()
        with suppress(asyncio.CancelledError):
            await keeper
        # Once the keeper has stopped, its save is over: nothing can write the state file
        # after the final save, the discard or the rename that follow.
        assert checkpoint.saved.is_set()
        assert state_file.load(checkpoint.path).segments[0].done == MIB // 2
    finally:
        checkpoint.discard()
        part.close()


def test_the_state_records_every_source_and_the_first_ones_validators(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    part = PartFile(tmp_path / "f.bin.evio-part")
    part.preallocate(MIB)
    template = State(label="f", target=str(target), size=MIB, block_size=BLOCK_SIZE, segments=[])
    board = SegmentBoard(MIB, BoardShape(1, MIB, MIB, BLOCK_SIZE, BLOCK_SIZE))
    known = [
        SourceState(url="https://a.org/f.bin", etag='"a1"', served=10),
        SourceState(url="https://mirror.org/f.bin", etag='"m1"', last_modified="x", served=5),
    ]
    checkpoint = Checkpoint(
        tmp_path / "f.bin.evio-state",
        part,
        template,
        board,
        BlockDigests(MIB),
        sources=lambda: known,
    )
    try:
        checkpoint.save()
        saved = state_file.load(checkpoint.path)
        assert saved.sources == known
        # A reader from before mirrors knows only the top-level fields: the first source's.
        assert (saved.etag, saved.last_modified) == ('"a1"', None)
    finally:
        checkpoint.discard()
        part.close()
