"""Small files that arrived whole, landed in batches: each written once to its partial file
beside its target, then the batch's bytes made durable together, then each renamed into
place, then the renames made durable together. A flush per file (and one of its directory)
costs a journal commit each; a batch shares two.

The order keeps the crash promise: no final path ever names bytes that are not durable, for
a file is renamed only after its bytes are flushed; a file is reported landed only once its
rename is durable too. The partial files are opened as every other (engine.storage,
engine.safe_paths), each in its directory held open (engine.target_dir) until the flush
that makes its rename durable: locked, never through a planted link, and their path must
still name the file written when it is renamed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evio_fetch.engine import provenance
from evio_fetch.engine import state as state_file
from evio_fetch.engine.errors import EvioError
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.platform_io import PLATFORM, PlatformIO
from evio_fetch.engine.safe_paths import VerifiedDirectories
from evio_fetch.engine.sidecars import part_path, state_path
from evio_fetch.engine.storage import PartFile, disk_error
from evio_fetch.engine.target_dir import TargetDirectory

# At most this many files share one flush (and are open at once, their locks held).
MOST_PER_BATCH = 64
# At most this many bytes are written by one batch: a batch of larger files is flushed, and
# its bodies let go, sooner, while the next gathers.
MOST_BYTES_PER_BATCH = 16 * 1024 * 1024


@dataclass(slots=True, eq=False)
class _Landing:
    spec: FileSpec
    target: Path
    root: Path | None
    body: bytes
    done: asyncio.Future[None]
    part: PartFile | None = None
    error: BaseException | None = field(default=None)
    # A renamed file's directory, held until the flush that makes its rename durable.
    directory: TargetDirectory | None = None


class Lander:
    """Lands whole small files for one worker, in batches run on a thread: while one batch is
    flushed, the next gathers. One flush serves two batches: it makes the bytes of the
    batch just written durable, and with them the renames of the batch before, which are
    reported landed then; the new batch is renamed after it."""

    def __init__(self, platform: PlatformIO = PLATFORM) -> None:
        self._platform = platform
        self._directories = VerifiedDirectories()
        self._waiting: list[_Landing] = []
        self._running: asyncio.Task[None] | None = None

    def land(
        self, spec: FileSpec, target: Path, root: Path | None, body: bytes
    ) -> asyncio.Future[None]:
        """Queue ``body`` to be written to ``target`` durably; the future settles once its
        name is durable, or with our error. Await it shielded: a batch under way is not
        stopped, and the file may still land, whole and verified. The body is let go once
        written, so the caller should not hold it while it waits."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(_Landing(spec, target, root, body, done))
        if self._running is None:
            self._running = asyncio.create_task(self._run())
        return done

    def _next_batch(self) -> list[_Landing]:
        count, size = 0, 0
        for item in self._waiting[:MOST_PER_BATCH]:
            if count and size + len(item.body) > MOST_BYTES_PER_BATCH:
                break
            count, size = count + 1, size + len(item.body)
        batch = self._waiting[:count]
        del self._waiting[:count]
        return batch

    async def _run(self) -> None:
        renamed: list[_Landing] = []
        batch: list[_Landing] = []
        try:
            while self._waiting or renamed:
                batch = self._next_batch()
                args = (batch, renamed, self._platform, self._directories)
                landed, renamed = renamed, await asyncio.to_thread(land_batch, *args)
                # Only once the thread is done with them: it may still be writing them when
                # this task is cancelled.
                _let_go(batch)
                for item in landed:
                    _settle(item)  # the flush made its name durable, or it failed
                for item in batch:
                    if item.error is not None:
                        _settle(item)
        except Exception as error:  # noqa: BLE001  a bug: fail the files, never leave them waiting
            for item in [*renamed, *batch, *self._waiting]:
                item.error = item.error or error
                _settle(item)
            _let_go([*batch, *self._waiting])
            self._waiting.clear()
        finally:
            self._running = None


def _let_go(items: list[_Landing]) -> None:
    """The bodies of ``items`` are written (or never will be): let them go now, rather than
    hold them until the next flush settles their files."""
    for item in items:
        item.body = b""


def _settle(item: _Landing) -> None:
    if item.directory is not None:
        item.directory.close()
        item.directory = None
    if item.done.done():
        return
    if item.error is not None:
        item.done.set_exception(item.error)
    else:
        item.done.set_result(None)


def land_batch(
    batch: list[_Landing],
    renamed: list[_Landing],
    platform: PlatformIO,
    directories: VerifiedDirectories,
) -> list[_Landing]:
    """Write every file of ``batch``, then make their bytes durable together with the names
    of ``renamed`` (the previous batch, renamed after its own flush), then rename the new
    ones into place; returns those renamed, whose names the next flush makes durable. Sets
    ``error`` on each file that fails. A file's descriptor (and lock) is held from its
    creation to its rename, no longer."""
    written = [item for item in batch if _write(item, platform, directories)]
    try:
        _flush(written, renamed, platform)
        return [item for item in written if _rename(item)]
    finally:
        for item in batch:
            _close(item)


def _flush(written: list[_Landing], renamed: list[_Landing], platform: PlatformIO) -> None:
    """One flush for the new bytes and the previous batch's names. When it fails, the names
    are flushed again alone, directory by directory: a failure to make new bytes durable
    says nothing of files already whole in place, and none of them fails for another's
    fault."""
    try:
        platform.flush_batch(_fds(written), _parents(renamed))
    except OSError as error:
        for item in written:
            item.error = item.error or disk_error(error, item.target, "flushing to disk")
        _step(renamed, "flushing to disk", lambda: _sync_directories(renamed, platform))


def _sync_directories(items: list[_Landing], platform: PlatformIO) -> None:
    for directory in dict.fromkeys(_parents(items)):
        platform.sync_directory(directory)


def _close(item: _Landing) -> None:
    if item.part is None:
        return
    if item.error is not None:
        item.part.discard()  # its part file, if it is still there; never its target
    elif item.directory is None:
        item.directory = item.part.directory.duplicate()  # renamed: flushed by the next batch
    item.part.close()


def _fds(items: list[_Landing]) -> list[int]:
    return [item.part.fd for item in items if item.part is not None and item.part.fd >= 0]


def _parents(items: list[_Landing]) -> list[Path | int]:
    return [item.directory.handle for item in items if item.directory is not None]


def _step(items: list[_Landing], doing: str, call: Callable[[], None]) -> None:
    """``call`` for the whole batch; when it fails, every file of it fails."""
    if not items:
        return
    try:
        call()
    except OSError as error:
        for item in items:
            if item.error is None:
                item.error = disk_error(error, item.target, doing)


def _write(item: _Landing, platform: PlatformIO, directories: VerifiedDirectories) -> bool:
    """Create the partial file, write the body at once and mark its source. A partial file a
    crashed run left there is taken over, and a state beside it removed: it cannot describe
    a file this small (a state that is no regular file of its own is refused by name)."""

    def write() -> None:
        part = item.part = PartFile(part_path(item.target), item.root, platform, directories)
        state = state_path(item.target)
        if part.directory.is_regular(state) or not part.created:
            state_file.discard(state, part.directory)
        if not part.created:
            part.truncate(len(item.body))
        part.write_at(item.body, 0)
        provenance.mark(part.fd, item.spec)

    return _one(item, "writing", write)


def _rename(item: _Landing) -> bool:
    part = item.part
    assert part is not None, "only written files are renamed"
    if item.error is not None:
        return False
    return _one(
        item, "moving the finished file into place", lambda: part.rename_into_place(item.target)
    )


def _one(item: _Landing, doing: str, call: Callable[[], None]) -> bool:
    """``call`` for one file; False, with the file's ``error`` set, when it fails."""
    try:
        call()
    except EvioError as error:
        item.error = error
        return False
    except OSError as error:
        item.error = disk_error(error, item.target, doing)
        return False
    return True
