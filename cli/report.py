"""The end of a run: the summary line, the ``--json`` document and the exit status (SPEC §2, §7)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import msgspec

from evio_fetch.cli.units import human_bytes, human_duration, human_rate
from evio_fetch.engine.model import BUG_HINT, FileResult, Outcome
from evio_fetch.engine.redaction import HIDDEN, redact_url

EXIT_INTERRUPTED = 130
# Not one file is there: every one attempted failed (the design's "complete failure").
EXIT_COMPLETE_FAILURE = 2
# Declining the plan is not a failure of any file, but the files are not there either.
EXIT_DECLINED = 1

# The order categories are read in: what happened first, what needs attention last. A file
# the run stopped in flight is interrupted, not failed: what it has is kept for a resume.
_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("downloaded", "downloaded"),
    ("present", "already present"),
    ("interrupted", "interrupted"),
    ("skipped", "skipped"),
    ("failed", "failed"),
)
# Said of a run with no file at all.
_EMPTY = ("downloaded", "present", "skipped", "failed")
INTERRUPTED = "interrupted"


def is_interrupted(result: FileResult) -> bool:
    return result.failure is not None and result.failure.code == INTERRUPTED


def _category(result: FileResult) -> str:
    return INTERRUPTED if is_interrupted(result) else result.outcome


def _downloaded_bytes(results: Sequence[FileResult]) -> int:
    # Only bytes that crossed the network: files already present cost nothing and would
    # inflate the average speed.
    return sum(r.bytes for r in results if r.outcome == "downloaded")


def _fetched_bytes(result: FileResult) -> int:
    """The bytes of ``result`` that this run fetched and kept: not those an earlier run left."""
    if result.outcome == "downloaded":
        return max(0, result.bytes - result.resumed)
    return max(0, result.kept - result.resumed) if result.kept else 0


def summary_line(results: Sequence[FileResult], elapsed: float) -> str:
    """``3 downloaded, 1 already present, 1 failed · 1.40 GiB in 21.3 s (67.2 MiB/s)``: the
    bytes and the speed are this run's own, what earlier runs left is said apart."""
    counts = Counter(_category(r) for r in results)
    shown = [(c, w) for c, w in _CATEGORIES if counts[c]]
    shown = shown or [(c, w) for c, w in _CATEGORIES if c in _EMPTY]
    parts = ", ".join(f"{counts[c]} {w}" for c, w in shown)
    nbytes = sum(_fetched_bytes(r) for r in results)
    line = f"{parts} · {human_bytes(nbytes)} in {human_duration(elapsed, precise=True)}"
    if nbytes > 0 and elapsed > 0:
        line += f" ({human_rate(nbytes / elapsed)})"
    resumed = sum(r.resumed for r in results if r.outcome == "downloaded" or is_interrupted(r))
    if resumed:
        line += f" · {human_bytes(resumed)} resumed from an earlier run"
    unverified = sum(1 for r in results if r.outcome == "downloaded" and not r.size_verified)
    if unverified:
        files = "file" if unverified == 1 else "files"
        line += f" · size of {unverified} {files} not verified (the server did not say it)"
    return line


def interrupted_lines(results: Sequence[FileResult], command: str, hidden: bool) -> list[str]:
    """What an interrupted run leaves behind and the command that takes it up again:

    ``interrupted: 90.2 MiB kept in 1 partial file; run the same command again to resume:``
    then the command, indented."""
    partial = [r for r in results if r.kept > 0]
    if partial:
        files = "file" if len(partial) == 1 else "files"
        kept = human_bytes(sum(r.kept for r in partial))
        said = f"interrupted: {kept} kept in {len(partial)} partial {files}; run the same "
        said += "command again to resume:"
    else:
        said = "interrupted before anything was kept; run the same command again to start:"
    lines = [said, f"  {command}"]
    if hidden:
        lines.append(f"  ({HIDDEN} stands for what is not shown: type it as you did)")
    return lines


# --json schema 1. Field order here is key order in the document; renaming or removing a
# field is a schema change, adding one is not.


class JsonError(msgspec.Struct, frozen=True):
    code: str
    message: str
    hint: str


class JsonFile(msgspec.Struct, frozen=True):
    label: str
    path: str | None
    source: str | None
    outcome: Outcome
    bytes: int
    seconds: float
    sha256: str | None
    error: JsonError | None
    # False when nothing stated the size of a downloaded file (docs/json.md).
    size_verified: bool
    # "md5:…": the manifest's checksum other than SHA256, as found (docs/json.md).
    checksum: str | None
    # Of ``bytes``, those an earlier run had left (docs/json.md).
    resumed_bytes: int
    # Of a file not finished, the bytes kept for a resume (docs/json.md).
    kept_bytes: int
    # Which of the file's sources (URL, Drive file, mirrors) served its bytes, secrets hidden.
    sources_used: list[str]


class JsonSummary(msgspec.Struct, frozen=True):
    downloaded: int
    present: int
    failed: int
    skipped: int
    bytes: int


class JsonDocument(msgspec.Struct, frozen=True):
    schema: int
    evio_fetch: str
    elapsed_seconds: float
    summary: JsonSummary
    files: list[JsonFile]


SCHEMA = 1
_ENCODER = msgspec.json.Encoder()


def _json_file(result: FileResult) -> JsonFile:
    spec = result.spec
    failure = result.failure
    error = None
    if result.outcome == "failed":
        error = (
            JsonError(failure.code, failure.message, failure.hint)
            if failure is not None
            else JsonError("internal", "failed without a reason", BUG_HINT)
        )
    return JsonFile(
        label=spec.label,
        # Only a file that is really there has a path: a failed one has nothing at its target.
        path=result.target if result.outcome in ("downloaded", "present") else None,
        source=redact_url(spec.url) if spec.url is not None else spec.drive_id,
        outcome=result.outcome,
        bytes=result.bytes,
        seconds=round(result.seconds, 3),
        sha256=result.sha256,
        error=error,
        size_verified=result.size_verified,
        checksum=None if result.checksum is None else str(result.checksum),
        resumed_bytes=result.resumed,
        kept_bytes=result.kept,
        # Hidden where the worker made them; again here, where they leave the program.
        sources_used=[redact_url(label) for label in result.sources_used],
    )


def json_document(results: Sequence[FileResult], elapsed: float, version: str) -> bytes:
    """The ``--json`` document, one file entry per result in input order, ending in a newline."""
    return b"".join(json_parts(results, elapsed, version))


def json_parts(
    results: Sequence[FileResult], elapsed: float, version: str, files_per_part: int = 1000
) -> Iterator[bytes]:
    """The ``--json`` document in parts, to be written as they come: a run of a hundred
    thousand files never holds their entries all at once, as objects or as bytes."""
    counts = Counter(r.outcome for r in results)
    document = JsonDocument(
        schema=SCHEMA,
        evio_fetch=version,
        elapsed_seconds=round(elapsed, 3),
        summary=JsonSummary(
            downloaded=counts["downloaded"],
            present=counts["present"],
            failed=counts["failed"],
            skipped=counts["skipped"],
            bytes=_downloaded_bytes(results),
        ),
        files=[],
    )
    empty = _ENCODER.encode(document)
    assert empty.endswith(b"[]}"), "files is the document's last field"
    yield empty[:-2]
    for start in range(0, len(results), files_per_part):
        part = results[start : start + files_per_part]
        entries = b",".join(_ENCODER.encode(_json_file(r)) for r in part)
        yield entries if start == 0 else b"," + entries
    yield b"]}\n"


def exit_status(results: Sequence[FileResult]) -> int:
    """0 when nothing failed; else the gravest failure's status (1 per file, 2 e.g. disk
    full), raised to 2 when no file is there at all: every file attempted failed, and none
    was already present. Skipped files (the run stopped first) are not there."""
    statuses = [
        r.failure.exit_status if r.failure is not None else 1
        for r in results
        if r.outcome == "failed"
    ]
    if statuses and not any(r.outcome in ("downloaded", "present") for r in results):
        statuses.append(EXIT_COMPLETE_FAILURE)
    return max(statuses, default=0)
