"""The sidecar state file ``T.evio-state``: what a partial download of ``T`` has on disk, so a
later run (or ``--resume-state``) can finish it. Its format and invariants are documented in
docs/resume.md.

JSON, not msgpack: a person debugging a stuck download can read it, and at one small write a
second the size does not matter. Writes are durable and atomic: temporary file, fsync, rename,
fsync of the directory, all in the download's directory as held open (engine.target_dir).
The caller flushes the data it describes first."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import msgspec

from evio_fetch.engine.checksums import Checksum
from evio_fetch.engine.errors import EvioError, StateError, StateVersionError, UnsafePathError
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.platform_io import PLATFORM, PlatformIO
from evio_fetch.engine.redaction import redact_url
from evio_fetch.engine.safe_paths import check_regular_or_absent, open_regular
from evio_fetch.engine.sidecars import STATE_SUFFIX, part_path, state_path, temporary_path
from evio_fetch.engine.storage import disk_error
from evio_fetch.engine.target_dir import TargetDirectory

FORMAT = 1
# More than the state of any file (a digest per MiB of an 8 TB file is about 250 MB), but a
# bound on what a file planted under a state's name can make a reader take into memory.
MAX_BYTES = 256 * 1024 * 1024


class SegmentState(msgspec.Struct, array_like=True, frozen=True):
    """``[start, end)`` of the file; ``[start, done)`` was flushed to disk. ``tail``: the xxh3
    of the bytes from the start of ``done``'s block to ``done`` (None when ``done`` is on a
    block boundary, or in a state written before it was kept)."""

    start: int
    end: int
    done: int
    tail: int | None = None


class SourceState(msgspec.Struct, kw_only=True, frozen=True):
    """One source of the download (a URL as given, or a Drive file ID), the validators it gave
    (each source its own: two servers of the same bytes tag them differently) and the bytes it
    served."""

    url: str | None = None
    drive_id: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    served: int = 0


class State(msgspec.Struct, kw_only=True, frozen=True):
    format: int = FORMAT
    label: str
    url: str | None = None
    drive_id: str | None = None
    resource_key: str | None = None
    target: str
    size: int
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    checksum: Checksum | None = None
    block_size: int
    segments: list[SegmentState]
    # xxh3_64 of each completed block, by block index: [i * block_size, (i + 1) * block_size).
    blocks: dict[int, int] = msgspec.field(default_factory=dict)
    # Every source with what it said (the top-level url, drive_id, etag and last_modified
    # describe the first, as a state without this field does).
    sources: list[SourceState] = msgspec.field(default_factory=list)

    def recorded_sources(self) -> list[SourceState]:
        """The sources the state knows; one from before mirrors names its URL, else its Drive
        file, with the top-level validators."""
        if self.sources:
            return self.sources
        if self.url is not None:
            return [SourceState(url=self.url, etag=self.etag, last_modified=self.last_modified)]
        return [
            SourceState(drive_id=self.drive_id, etag=self.etag, last_modified=self.last_modified)
        ]


class _Header(msgspec.Struct):
    """Only the format number: read first, so a newer format gets a clear message instead of a
    decoding error about fields this version does not know."""

    format: int


_ENCODER = msgspec.json.Encoder()


# Owner only: the state keeps the source as given, credentials in the URL included, since a
# resume must ask for the same thing again.
MODE = 0o600


def save(
    path: Path,
    state: State,
    platform: PlatformIO = PLATFORM,
    directory: TargetDirectory | None = None,
) -> None:
    """Write ``state`` at ``path`` durably and atomically, in ``directory`` (the download's,
    held open: engine.target_dir), else in the directory ``path`` leads to now. A full
    device raises DeviceFullError, and the previous state stays as it was."""
    if directory is None:
        with TargetDirectory.of(path, platform) as held:
            save(path, state, platform, held)
        return
    temporary = temporary_path(path)
    try:
        _write_synced(directory, temporary, _ENCODER.encode(state), platform)
        directory.replace(temporary, path)
        directory.sync()
    except OSError as error:
        directory.unlink(temporary)
        raise disk_error(error, path, "saving the download's state") from None


def _write_synced(
    directory: TargetDirectory, path: Path, data: bytes, platform: PlatformIO
) -> None:
    # A fresh file every time (never one left behind with wider permissions, never through a
    # symlink: O_EXCL refuses any name that exists, a link included), so it is born with
    # MODE and the rename gives the state file the same.
    directory.unlink(path)
    fd = directory.create(path, os.O_WRONLY, MODE)
    try:
        view = memoryview(data)
        while view:  # a write to a nearly full device may be short
            view = view[os.write(fd, view) :]
        platform.flush_file(fd)
    finally:
        os.close(fd)


def load(path: Path, directory: TargetDirectory | None = None) -> State:
    """The state at ``path`` (in ``directory``, when the download holds it open). Raises
    StateError (with a reason a person can act on) when it cannot be used: unreadable,
    garbage, or written by a newer evio-fetch. Only a regular file of its own is read:
    anything else raises UnsafePathError, never followed."""
    try:
        data = _read(path, directory)
    except OSError as error:
        raise StateError(
            f"{path}: cannot read the state file ({error.strerror})",
            "make it readable, or run with --no-resume to start the download over",
        ) from None
    try:
        header = msgspec.json.decode(data, type=_Header)
        if header.format > FORMAT:
            raise StateVersionError(
                f"{path}: written by a newer evio-fetch (state format {header.format}; this "
                f"version reads up to {FORMAT})",
                "upgrade evio-fetch to resume it, or run with --no-resume to start over",
            )
        return msgspec.json.decode(data, type=State)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise StateError(f"{path}: the state file is damaged ({error})") from None


def kept_bytes(target: Path) -> int:
    """The bytes of a partial download of ``target`` that the state beside it vouches for,
    which a resume takes up; 0 when there is no usable state."""
    try:
        saved = load(state_path(target))
    except EvioError:
        return 0
    return sum(segment.done - segment.start for segment in saved.segments)


def _read(path: Path, directory: TargetDirectory | None) -> bytes:
    """The file's bytes, read as a regular file of its own: never through a planted link,
    never more than any state file holds."""
    if directory is not None:
        fd = directory.open_regular(path, os.O_RDONLY)
    else:
        fd = open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > MAX_BYTES:
            raise OSError(errno.EFBIG, "larger than any state file")
        return handle.read(MAX_BYTES + 1)


def discard(path: Path, directory: TargetDirectory | None = None) -> None:
    """Remove the state at ``path`` and its temporary, in ``directory`` as for ``save``."""
    if directory is None:
        with TargetDirectory.of(path) as held:
            discard(path, held)
        return
    directory.unlink(path)
    directory.unlink(temporary_path(path))


def target_of(state_file: Path) -> Path:
    """The download a state file belongs to: its own path without the suffix, so a directory
    that was moved as a whole still resumes."""
    if not state_file.name.endswith(STATE_SUFFIX):
        raise StateError(
            f"{state_file}: not an evio-fetch state file (its name ends in {STATE_SUFFIX})",
            f"give the T{STATE_SUFFIX} file that lies beside a partial download T",
        )
    name = state_file.name[: -len(STATE_SUFFIX)]
    if name in ("", ".", ".."):
        raise StateError(f"{state_file}: describes no file (nothing before {STATE_SUFFIX})")
    return state_file.with_name(name)


def spec_from_state(state_file: Path) -> FileSpec:
    """Everything needed to resume the download from its state file alone. The state file,
    and its target and partial file where they exist, must be regular files of their own:
    nothing planted beside them is followed."""
    target = target_of(state_file.absolute())
    try:
        state = load(state_file)
        for sibling in (target, part_path(target)):
            check_regular_or_absent(sibling)
    except UnsafePathError as error:
        raise StateError(error.message, error.hint) from None
    mirrors = [s.url for s in state.sources if s.url is not None and s.url != state.url]
    return FileSpec(
        index=0,
        # Hidden again: a state file written by an older evio-fetch kept the source as typed.
        label=redact_url(state.label),
        url=state.url,
        drive_id=state.drive_id,
        resource_key=state.resource_key,
        mirrors=tuple(mirrors),
        target=str(target),
        output_dir=str(target.parent),
        size=state.size,
        sha256=state.sha256,
        checksum=state.checksum,
    )
