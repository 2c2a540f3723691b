"""The values the engine passes around: options, file specs, plans, results and the messages
between the parent and its worker processes. All are msgspec Structs, so they cross process
boundaries as msgpack and never as pickled exceptions."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import msgspec

from evio_fetch.engine.checksums import Algorithm, Checksum
from evio_fetch.engine.errors import EvioError
from evio_fetch.engine.ratelimit import MAX_RATE
from evio_fetch.engine.redaction import scrub_urls

DEFAULT_DRIVE_URL = "https://drive.google.com"
MIB = 1024 * 1024


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


# The limits of what a user may ask, declared here once: the command line and the API both
# check a value against them (engine.option_checks) and word a refusal from them.
Segments = Annotated[int, msgspec.Meta(ge=1, le=64)]
Concurrency = Annotated[int, msgspec.Meta(ge=1, le=256)]
Workers = Annotated[int, msgspec.Meta(ge=1, le=64)]
Retries = Annotated[int, msgspec.Meta(ge=0, le=1000)]
# Above 0; a day at most, which no server that still answers needs.
Timeout = Annotated[float, msgspec.Meta(gt=0, le=86_400)]
# Bytes per second; the ceiling keeps the token bucket's arithmetic exact.
MaxSpeed = Annotated[int, msgspec.Meta(ge=1, le=MAX_RATE)]


class Options(msgspec.Struct, frozen=True, kw_only=True):
    # Connections per file; None: as many as raise the rate (engine.connection_sizer).
    segments: Segments | None = None
    concurrency: Concurrency = 3
    workers: Workers = msgspec.field(default_factory=default_workers)
    retries: Retries = 5
    timeout: Timeout = 30.0
    verify: bool = False
    resume: bool = True
    max_speed: MaxSpeed | None = None
    drive_url: str = DEFAULT_DRIVE_URL
    # No segment is planned smaller than this: below it, an extra connection costs more
    # than it gains.
    min_segment: int = 2 * MIB
    # With several connections, a large file is taken in pieces of about this size, front to
    # back: big enough that a piece is one request, small enough that the hashed prefix
    # keeps up with the download.
    piece: int = 32 * MIB
    # The network around the server. Secrets live here (header values, a proxy's password):
    # Options travel to workers over a pipe and are never written to a file.
    # None: the environment's proxies (HTTP_PROXY, …); "": none; else every request's proxy.
    proxy: str | None = None
    # Sent to each source's own origin only (engine.credentials).
    headers: tuple[tuple[str, str], ...] = ()
    # A PEM file of CAs trusted besides the system's.
    ca_bundle: str | None = None


# A run keeps one FileSpec, PlanItem and FileResult per file until it ends (the report
# promises a record per file). They hold only strings, numbers and other such records, so
# they can never be part of a reference cycle: ``gc=False`` leaves them out of the cyclic
# garbage collector, which saves its 16-byte header on each and spares every full
# collection a walk over a hundred thousand of them.
class FileSpec(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One file to bring to its place.

    ``target`` is the absolute final path when it is known before any request (manifest
    entries); otherwise the server names the file inside ``output_dir``. ``output_dir`` is
    the directory the file lands under, and nothing is written outside it nor any directory
    made above it: the output directory, the root of a manifest's paths, or the directory of
    a state file resumed alone. ``checksum`` is a digest the file must have besides
    ``sha256``, in another algorithm (e.g. MD5).

    Its sources are ``url``, the Drive file ``drive_id`` and the ``mirrors`` (more URLs of the
    same bytes), tried in that order (``sources``).
    """

    index: int
    label: str
    url: str | None = None
    drive_id: str | None = None
    resource_key: str | None = None
    mirrors: tuple[str, ...] = ()
    target: str | None = None
    output_dir: str | None = None
    size: int | None = None
    sha256: str | None = None
    checksum: Checksum | None = None

    def sources(self) -> list[SourceId]:
        """Every source of the file, in the order they are tried."""
        found = [SourceId(self.url)] if self.url is not None else []
        if self.drive_id is not None:
            found.append(SourceId(self.drive_id, drive=True))
        found += [SourceId(m) for m in self.mirrors if m != self.url]
        return found


class SourceId(msgspec.Struct, frozen=True):
    """One source of a file: a URL as given, or (``drive``) a Google Drive file ID."""

    given: str
    drive: bool = False


class Failure(msgspec.Struct, frozen=True, gc=False):
    code: str
    message: str
    hint: str = ""
    exit_status: int = 1
    stops_run: bool = False


# What helps with a failure that is no one's fault but evio-fetch's.
BUG_HINT = "this is a bug in evio-fetch; please report it with the command you ran"


def to_failure(error: BaseException) -> Failure:
    if isinstance(error, EvioError):
        return Failure(error.code, error.message, error.hint, error.exit_status, error.stops_run)
    return Failure(
        "internal",
        scrub_urls(f"unexpected {type(error).__name__}: {error}"),
        BUG_HINT,
    )


Action = Literal["fetch", "resume", "skip"]


class PlanItem(msgspec.Struct, frozen=True, gc=False):
    """What a run will do with one file, as far as the local disk tells before any request."""

    spec: FileSpec
    action: Action
    reason: str
    # Where the file lands: its target; for a file the server names, the path the URL's
    # name suggests (``guessed``), None when nothing suggests one (a Drive file).
    path: str | None = None
    guessed: bool = False
    # The file's size when known: the manifest's, else the one a partial download's state
    # records.
    size: int | None = None
    # The bytes a partial download already holds (its state's completed ranges).
    partial: int | None = None
    # The directories the file's download would create (none existed when the plan was
    # made), shallowest first, from the output directory or root down: those left empty
    # after the run are removed.
    new_dirs: tuple[str, ...] = ()


Outcome = Literal["downloaded", "present", "failed", "skipped"]


class FileResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    spec: FileSpec
    outcome: Outcome
    target: str | None
    bytes: int = 0
    seconds: float = 0.0
    sha256: str | None = None
    # The spec's checksum as found in the bytes (present files: as the spec gives it).
    checksum: Checksum | None = None
    failure: Failure | None = None
    # See Done.size_verified.
    size_verified: bool = True
    # Bytes an earlier run had left on disk, taken up by this one: of ``bytes``, only
    # ``bytes - resumed`` were fetched in this run (and over ``seconds``).
    resumed: int = 0
    # For a file not finished when the run stopped: the bytes of its partial download kept
    # beside the target, which the same command takes up again.
    kept: int = 0
    # See Done.sources.
    sources_used: tuple[str, ...] = ()


# Worker → parent -------------------------------------------------------------------------


class Started(msgspec.Struct, frozen=True, tag=True):
    """The probe answered: the file has a name, a size (if the server told) and a part file."""

    file: int
    target: str
    part: str
    size: int | None
    connections: int
    done: int = 0
    # The whole file came in the probe's answer and the worker hashes it from memory: the
    # parent reads nothing, and Done carries the digests.
    whole: bool = False
    # The part file's device and inode: the parent hashes that file and no other, whatever
    # its path leads to by the time it opens it.
    part_id: tuple[int, int] | None = None


class Progress(msgspec.Struct, frozen=True, tag=True):
    """``done`` bytes are on disk; the first ``prefix`` of them are contiguous from 0."""

    file: int
    done: int
    prefix: int


class Named(msgspec.Struct, frozen=True, tag=True):
    """The server named a file whose name was not known before: where may it land? The
    parent answers with Placed. ``size``: what the server says, if it does."""

    file: int
    name: str
    size: int | None


class Written(msgspec.Struct, frozen=True, tag=True):
    """Every byte is on disk and flushed; the worker waits for the parent's verdict. For a
    file that came ``whole``: every byte is in the worker's memory and matches the
    manifest's digests; no verdict is awaited, and the file lands with its batch."""

    file: int
    size: int


class Done(msgspec.Struct, frozen=True, tag=True):
    """The file is at its final path (``present``: it already was, no body was fetched)."""

    file: int
    outcome: Literal["downloaded", "present"]
    target: str
    size: int
    # False when nothing (manifest, Content-Length, Content-Range) stated the size, so the
    # bytes are whatever arrived before the server closed the connection.
    size_verified: bool = True
    # The sources that served its bytes (a URL with its secrets hidden, or a Drive file ID).
    sources: tuple[str, ...] = ()
    # Of a file that came whole: its digests, by algorithm, as the worker computed them.
    digests: dict[Algorithm, str] | None = None


class Warned(msgspec.Struct, frozen=True, tag=True):
    """Something the user should know that does not stop the file (e.g. a damaged state file
    was set aside and the download starts over)."""

    file: int
    message: str


class Retrying(msgspec.Struct, frozen=True, tag=True):
    """A request of the file failed and is tried again in ``pause`` seconds: retry number
    ``attempt`` of at most ``of`` in a row. ``reason`` says what happened, without naming
    the file (the display does)."""

    file: int
    attempt: int
    of: int
    reason: str
    pause: float


class Failed(msgspec.Struct, frozen=True, tag=True):
    file: int
    failure: Failure


Event = Named | Started | Progress | Written | Done | Warned | Retrying | Failed


class Batch(msgspec.Struct, frozen=True, tag=True):
    events: list[Event]


# Parent → worker -------------------------------------------------------------------------


class Job(msgspec.Struct, frozen=True, tag=True):
    """Files for the worker to download: every one handed to it at once, in one message."""

    specs: list[FileSpec]


class Verdict(msgspec.Struct, frozen=True, tag=True):
    """The parent's word on a written file: rename it into place, or discard it."""

    file: int
    failure: Failure | None = None


class Placed(msgspec.Struct, frozen=True, tag=True):
    """The parent's answer to Named: the file's final path, and whether the file there is
    already the one the server has (so nothing is fetched)."""

    file: int
    target: str
    present: bool = False
    # Set when no name could be given: the file fails for this reason.
    failure: Failure | None = None


class Stop(msgspec.Struct, frozen=True, tag=True):
    """Stop every download now, keep what was written, and exit."""


Command = Job | Verdict | Placed | Stop
