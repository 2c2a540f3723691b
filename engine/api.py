"""The Python API: fetch a manifest, or URLs and Google Drive links, from a script or a
notebook with the same engine the command line uses.

    from evio_fetch.engine import fetch

    report = fetch(manifest="docs/data/datasets.json")
    if not report.ok:
        for result in report.failed:
            print(result.spec.label, result.failure)

Bad input (arguments, an unreadable or invalid manifest, a source that cannot be fetched as
given) raises an :class:`~evio_fetch.engine.errors.EvioError` before anything is downloaded.
A file that fails to download does not raise: it is in :attr:`Report.failed`, and the other
files are still fetched.

Worker processes are started with ``spawn``, without importing the caller's ``__main__`` again
(engine.hidden_main): a script, ``python -c`` or a notebook may call :func:`fetch` at its top
level, with no ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from evio_fetch.engine import front_door, runner, spelling
from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import FileResult, FileSpec, Options, PlanItem, default_workers
from evio_fetch.engine.option_checks import checked_options
from evio_fetch.engine.ratelimit import parse_rate
from evio_fetch.engine.reach import HeadersArgument, api_headers, checked_ca_bundle, checked_proxy
from evio_fetch.engine.request import Request, check_request, chosen_shard
from evio_fetch.engine.subjects import about
from evio_fetch.engine.totals import RunTotals

__all__ = ["Progress", "ProgressKind", "Report", "fetch", "fetch_async"]

StrPath = str | os.PathLike[str]

ProgressKind = Literal["planned", "progress", "finished"]
"""``planned``: once, before any download; ``progress``: bytes arrived (throttled);
``finished``: one file reached its final outcome (every file, never throttled)."""

# Progress calls while bytes flow: at most one per PROGRESS_INTERVAL seconds.
PROGRESS_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a run is, as given to the ``on_progress`` callback.

    Not to be confused with ``evio_fetch.engine.model.Progress``, the message a worker
    process sends its parent.
    """

    kind: ProgressKind
    """What happened: see :data:`ProgressKind`."""
    files_done: int
    """Files with a final outcome so far, whatever it was (failures included)."""
    files_total: int
    """Files in the run."""
    files_failed: int
    """Files among ``files_done`` that did not end in place."""
    bytes_done: int
    """Bytes on disk across all files, those already present and resumed ones included;
    never decreases."""
    bytes_total: int | None
    """The size of all files, or None while any file's size is unknown (a URL's size is
    known once its download starts). A file that fails leaves it with what it did not
    fetch, so ``bytes_done`` reaches it at the end."""
    label: str | None = None
    """The file the event is about (its manifest path or source); None for ``planned``."""
    result: FileResult | None = None
    """The file's final outcome, for ``finished`` events."""

    @property
    def fraction(self) -> float | None:
        """``bytes_done / bytes_total`` between 0 and 1, or None when the total is unknown
        or zero."""
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)


@dataclass(frozen=True, repr=False)
class Report:
    """The end of a run: one result per file, in input order."""

    results: tuple[FileResult, ...]
    """Per file: its spec, outcome (``downloaded``, ``present``, ``failed`` or ``skipped``),
    final path, bytes, seconds, SHA256, the manifest's other checksum (``checksum``) and,
    when it failed, a ``Failure`` with a stable ``code`` (docs/errors.md), a message and a
    hint."""
    seconds: float
    """How long the run took, planning included."""
    warnings: tuple[str, ...] = field(default=())
    """Things worth knowing that stopped no file (``label: message``), first those about the
    manifest (``path: datasets[3].sha265: unknown field, ignored; did you mean sha256?``)."""

    @property
    def ok(self) -> bool:
        """True when every file is in place (downloaded, or already present)."""
        return not self.failed

    @property
    def failed(self) -> list[FileResult]:
        """The files not in place: ``failed`` ones and ``skipped`` ones (not attempted, e.g.
        after the disk filled up)."""
        return [r for r in self.results if r.outcome not in ("downloaded", "present")]

    @property
    def paths(self) -> list[Path]:
        """The final paths of the files in place, in input order."""
        return [
            Path(r.target)
            for r in self.results
            if r.target is not None and r.outcome in ("downloaded", "present")
        ]

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        shown = ", ".join(f"{n} {outcome}" for outcome, n in counts.items()) or "no files"
        return f"<Report {shown} in {self.seconds:.1f} s>"


def fetch(
    sources: str | Iterable[str] | None = None,
    *,
    manifest: StrPath | None = None,
    root: StrPath | None = None,
    output_dir: StrPath | None = None,
    segments: int | None = None,
    concurrency: int = 3,
    workers: int | None = None,
    retries: int = 5,
    timeout: float = 30.0,
    verify: bool = False,
    resume: bool = True,
    max_speed: int | str | None = None,
    proxy: str | None = None,
    headers: HeadersArgument = None,
    ca_bundle: StrPath | None = None,
    shard: str | tuple[int, int] | None = None,
    resume_state: StrPath | None = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> Report:
    """Fetch every file of a manifest, or the given sources, and return when all are done.

    Args:
        sources: http(s) URLs, Google Drive share links or bare Drive file IDs (one string
            is one source). Each file lands in ``output_dir`` under the name the server
            gives it.
        manifest: a manifest's path (docs/manifest.md); each entry lands at its path under
            ``root``. Give exactly one of ``sources`` and ``manifest``.
        root: the directory manifest paths are relative to (default: the current one).
        output_dir: where sources land (created if missing). ``root`` and ``output_dir`` are
            one directory under two names: give either; both must name the same one.
        segments: byte-range connections per file, 1 to 64; small files use fewer. None
            (the default): each file starts with two and tries more, keeping as many as
            raise its rate, up to 16 (4 from Google Drive).
        concurrency: files downloading at once, 1 to 256.
        workers: worker processes, 1 to 64 (default: the number of CPUs).
        retries: attempts per request for transient failures, 0 to 1000.
        timeout: seconds without receiving anything before a connection is abandoned.
        verify: also check the SHA256 (and the manifest's other checksum) of files already
            present before skipping them.
        resume: continue partial downloads (False: discard them and start from zero).
        max_speed: one cap on the total rate, in bytes per second or as the command line
            writes it: ``"20M"``, ``"20MiB/s"`` (powers of 1024), ``"20MB/s"`` (of 1000).
        proxy: an HTTP proxy for every request, ``"http://[USER:PASSWORD@]HOST:PORT"``;
            ``""`` for none; None (the default) reads ``HTTP_PROXY``, ``HTTPS_PROXY``,
            ``ALL_PROXY`` as curl does. ``NO_PROXY`` applies either way.
        headers: sent on every request to each source's own origin (scheme, host and port),
            never where a redirect leads elsewhere: a dict ``{"Authorization": "Bearer T"}``
            or ``"Name: value"`` strings. Credentials from ``~/.netrc`` (or ``$NETRC``)
            follow the same rule.
        ca_bundle: a PEM file of CA certificates to trust besides the system's.
        shard: fetch only shard K of N of the entries (K counts from 1), as ``"2/4"`` or
            ``(2, 4)``; ``"auto"`` reads K and N from a Slurm job array or a Kubernetes
            indexed Job (docs/shards.md). Every machine given the same manifest gets a
            disjoint, size-balanced share.
        resume_state: a state file ``T.evio-state``: finish the one download it describes,
            beside it (no ``sources``, ``manifest``, ``root``, ``output_dir`` or ``shard``).
        on_progress: called with a :class:`Progress` on the calling thread: once when the
            plan is made, at most about ten times a second while bytes arrive, and once per
            finished file. It must return quickly; if it raises, the run stops (progress is
            kept for a later resume) and the exception propagates.

    Returns:
        A :class:`Report`. Files that failed are in it; they do not raise.

    Raises:
        UsageError: bad arguments (``root`` and ``output_dir`` naming different
            directories, or a file; a shard that is not K/N; a ``resume_state`` that is not
            a state file), or a source that cannot be fetched as given.
        ManifestError: the manifest cannot be read or is invalid.
        KeyboardInterrupt: on Ctrl-C, once the workers have stopped and saved their
            progress; calling again with the same arguments resumes.
    """
    call = _Call.prepare(
        sources,
        manifest=manifest,
        root=root,
        output_dir=output_dir,
        resume_state=resume_state,
        shard=shard,
        options=_options(
            segments=segments,
            concurrency=concurrency,
            workers=workers,
            retries=retries,
            timeout=timeout,
            verify=verify,
            resume=resume,
            max_speed=max_speed,
            proxy=proxy,
            headers=headers,
            ca_bundle=ca_bundle,
        ),
    )
    watcher = _Watcher(on_progress, None)
    return watcher.outcome(call.run(watcher))


async def fetch_async(
    sources: str | Iterable[str] | None = None,
    *,
    manifest: StrPath | None = None,
    root: StrPath | None = None,
    output_dir: StrPath | None = None,
    segments: int | None = None,
    concurrency: int = 3,
    workers: int | None = None,
    retries: int = 5,
    timeout: float = 30.0,
    verify: bool = False,
    resume: bool = True,
    max_speed: int | str | None = None,
    proxy: str | None = None,
    headers: HeadersArgument = None,
    ca_bundle: StrPath | None = None,
    shard: str | tuple[int, int] | None = None,
    resume_state: StrPath | None = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> Report:
    """:func:`fetch` for a running event loop (a notebook's, or an asyncio program's): the
    run happens in a thread, and the loop stays free meanwhile.

    The arguments, the result and the errors are those of :func:`fetch`, with two
    differences:

    - ``on_progress`` is called on the event loop's thread; every call is made before the
      awaited result is returned.
    - Cancelling the task stops the run: workers are asked to stop, save their progress and
      exit, and ``CancelledError`` is raised once they have. The stop takes effect at the next
      event from a worker: within a fraction of a second while bytes arrive, but a stalled
      connection can delay it until its ``timeout``.
    """
    call = _Call.prepare(
        sources,
        manifest=manifest,
        root=root,
        output_dir=output_dir,
        resume_state=resume_state,
        shard=shard,
        options=_options(
            segments=segments,
            concurrency=concurrency,
            workers=workers,
            retries=retries,
            timeout=timeout,
            verify=verify,
            resume=resume,
            max_speed=max_speed,
            proxy=proxy,
            headers=headers,
            ca_bundle=ca_bundle,
        ),
    )
    loop = asyncio.get_running_loop()
    watcher = _Watcher(on_progress, loop)
    task = asyncio.ensure_future(asyncio.to_thread(call.run, watcher))
    try:
        report = await asyncio.shield(task)
    except asyncio.CancelledError:
        watcher.stop.set()
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # the run's own end no longer matters: mark it seen
        raise
    return watcher.outcome(report)


# Arguments --------------------------------------------------------------------------------


def _options(
    *,
    segments: int | None,
    concurrency: int,
    workers: int | None,
    retries: int,
    timeout: float,
    verify: bool,
    resume: bool,
    max_speed: int | str | None,
    proxy: str | None,
    headers: HeadersArgument,
    ca_bundle: StrPath | None,
) -> Options:
    values = {
        "segments": segments,
        "concurrency": concurrency,
        "workers": default_workers() if workers is None else workers,
        "retries": retries,
        "timeout": timeout,
        "verify": bool(verify),
        "resume": bool(resume),
        "max_speed": _rate(max_speed),
        "proxy": checked_proxy(proxy, "proxy="),
        "headers": api_headers(headers),
        "ca_bundle": checked_ca_bundle(ca_bundle, "ca_bundle="),
    }
    return checked_options(values, spelling.API)


def _rate(max_speed: int | str | None) -> int | str | None:
    """A rate's text as bytes per second; a number as it is, checked with the others."""
    if not isinstance(max_speed, str):
        return max_speed
    try:
        return parse_rate(max_speed)
    except ValueError as error:
        raise UsageError(f"max_speed={max_speed!r}: {error}", "e.g. max_speed='20M'") from None


def _path(value: StrPath | None) -> Path | None:
    return None if value is None else Path(value)


def _sources(sources: str | Iterable[str]) -> list[str]:
    given = [sources] if isinstance(sources, str) else list(sources)
    for n, source in enumerate(given):
        if not isinstance(source, str):
            raise UsageError(
                f"sources[{n}] is {source!r}, not a string",
                "give each URL, Drive link or Drive file ID as a str",
            )
    return given


@dataclass(frozen=True)
class _Call:
    """One checked call: what it asks for and its options. The plan is made in the run's
    thread, since reading a large manifest takes a moment."""

    request: Request
    options: Options

    @staticmethod
    def prepare(
        sources: str | Iterable[str] | None,
        *,
        manifest: StrPath | None,
        root: StrPath | None,
        output_dir: StrPath | None,
        resume_state: StrPath | None,
        shard: str | tuple[int, int] | None,
        options: Options,
    ) -> _Call:
        request = Request(
            sources=None if sources is None else _sources(sources),
            manifest=_path(manifest),
            resume_state=_path(resume_state),
            output_dir=_path(output_dir),
            root=_path(root),
            shard=chosen_shard(shard),
        )
        check_request(request, spelling.API)
        return _Call(request, options)

    def run(self, watcher: _Watcher) -> runner.RunReport:
        plan = front_door.prepare(self.request, self.options, spelling.API)
        watcher.warnings.extend(plan.warnings)
        if watcher.stop.is_set():
            return runner.RunReport([], interrupted=True, seconds=0.0)
        try:
            return front_door.run(plan, watcher)
        except KeyboardInterrupt:
            # The watcher's own stop, come at a moment the runner does not catch it: the
            # run is over either way; a real Ctrl-C goes on up.
            if not watcher.stop.is_set():
                raise
            return runner.RunReport([], interrupted=True, seconds=0.0)


# Watching a run ---------------------------------------------------------------------------


class _Watcher:
    """The Observer behind ``on_progress``: follows the run's totals (engine.totals),
    throttles, and stops the run when asked (a cancelled task, a failing callback).

    The runner stops cleanly when KeyboardInterrupt arrives while it follows its workers;
    the watcher raises it from the calls made there, never from ``planned`` or from the
    ``finished`` calls of files skipped by the plan, which come before that.
    """

    def __init__(
        self,
        callback: Callable[[Progress], object] | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self._callback = callback
        self._loop = loop
        self.stop = threading.Event()
        self.error: Exception | None = None
        self.warnings: list[str] = []
        self._totals = RunTotals()
        self._skipped: set[int] = set()
        self._last = 0.0

    def outcome(self, report: runner.RunReport) -> Report:
        """The caller's result: the callback's error or an interrupt raised, else the report."""
        if self.error is not None:
            raise self.error
        if report.interrupted:
            raise KeyboardInterrupt
        return self.report(report)

    def report(self, report: runner.RunReport) -> Report:
        return Report(tuple(report.results), report.seconds, tuple(self.warnings))

    # Observer ------------------------------------------------------------------------------

    def planned(self, plan: list[PlanItem]) -> None:
        self._totals.planned(plan)
        self._skipped = {item.spec.index for item in plan if item.action == "skip"}
        self._emit("planned", None, None)

    def started(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        self._check_stop()
        self._totals.started(spec, size, done)
        self._throttled(spec.label)

    def advanced(self, spec: FileSpec, done: int) -> None:
        self._check_stop()
        self._totals.advanced(spec, done)
        self._throttled(spec.label)

    def verifying(self, spec: FileSpec) -> None:
        self._check_stop()

    def warned(self, spec: FileSpec, message: str) -> None:
        self.warnings.append(about(spec.label, message))
        self._check_stop()

    def retrying(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        self._check_stop()

    def finished(self, result: FileResult) -> None:
        self._totals.finished(result)
        self._emit("finished", result.spec.label, result)
        if result.spec.index not in self._skipped:
            self._check_stop()

    # Calls ---------------------------------------------------------------------------------

    def _throttled(self, label: str) -> None:
        if time.monotonic() - self._last >= PROGRESS_INTERVAL:
            self._emit("progress", label, None)

    def _emit(self, kind: ProgressKind, label: str | None, result: FileResult | None) -> None:
        if self._callback is None:
            return
        self._last = time.monotonic()
        totals = self._totals
        progress = Progress(
            kind=kind,
            files_done=totals.files_done,
            files_total=totals.files_total,
            files_failed=totals.files_failed,
            bytes_done=totals.bytes_done,
            bytes_total=totals.bytes_total,
            label=label,
            result=result,
        )
        if self._loop is None:
            self._deliver(progress)
        else:
            self._loop.call_soon_threadsafe(self._deliver, progress)

    def _deliver(self, progress: Progress) -> None:
        if self.stop.is_set() or self._callback is None:
            return  # stopped (cancelled, or the callback failed): no more calls
        try:
            self._callback(progress)
        except Exception as error:  # noqa: BLE001  raised again once the run has stopped
            self.error = error
            self.stop.set()

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
