"""Saving a download's progress so that a crash loses only its unflushed tail: about once a
second while bytes flow, and on every way out. Order matters: the data is flushed before the
state that describes it is written, and the state describes only bytes written before the
flush began."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import msgspec

from evio_fetch.engine import state as state_file
from evio_fetch.engine.blocks import BlockDigests
from evio_fetch.engine.segment_board import SegmentBoard
from evio_fetch.engine.state import SegmentState, SourceState, State
from evio_fetch.engine.storage import PartFile

SAVE_INTERVAL = 1.0
# The first saves come sooner, so a run killed in its first second still keeps what it fetched.
FIRST_SAVE = 0.25


class Checkpoint:
    def __init__(
        self,
        path: Path,
        part: PartFile,
        template: State,
        board: SegmentBoard,
        digests: BlockDigests,
        *,
        sources: Callable[[], list[SourceState]] | None = None,
    ) -> None:
        """``template``: the state but for the progress; ``sources``: what is known of each
        source now (its first is the one the template's validators describe)."""
        self.path = path
        self._part = part
        self._template = template
        self._board = board
        self._digests = digests
        self._sources = sources
        self._saved: State | None = None
        # A save in a thread and the final save on the way out must never interleave.
        self._lock = threading.Lock()

    def snapshot(self) -> State:
        template = self._template
        sources = self._sources() if self._sources is not None else template.sources
        first = sources[0] if sources else None
        return msgspec.structs.replace(
            template,
            etag=first.etag if first is not None else template.etag,
            last_modified=first.last_modified if first is not None else template.last_modified,
            segments=[
                SegmentState(s.start, s.end, s.pos, self._digests.partial(s.pos))
                for s in self._board.segments
            ],
            blocks=self._digests.completed(),
            sources=sources,
        )

    def save(self) -> None:
        """Flush the data, then record what was written before the flush."""
        with self._lock:
            self._write(self.snapshot())

    def _write(self, snapshot: State) -> None:
        if snapshot == self._saved:
            return
        self._part.sync()
        state_file.save(self.path, snapshot, self._part.platform, self._part.directory)
        self._saved = snapshot

    def _save_snapshot(self, snapshot: State) -> None:
        with self._lock:
            self._write(snapshot)

    async def keep(self) -> None:
        """Save about once a second until cancelled; the flush runs off the event loop."""
        interval = FIRST_SAVE
        while True:
            await asyncio.sleep(interval)
            interval = min(2 * interval, SAVE_INTERVAL)
            # Taken on the loop, so it covers only bytes already handed to the kernel.
            snapshot = self.snapshot()
            saving = asyncio.ensure_future(asyncio.to_thread(self._save_snapshot, snapshot))
            try:
                await asyncio.shield(saving)
            except asyncio.CancelledError:
                # Cancelling does not stop the thread: wait for it, so no save of this older
                # snapshot lands after the final save, the discard or the rename.
                await saving
                raise

    def discard(self) -> None:
        with self._lock:
            state_file.discard(self.path, self._part.directory)
