"""The sources of one file while it downloads: its URL, its Google Drive file and its mirrors,
each with where its link leads now, the version it serves and the bytes it served. Connections
are spread over the healthy ones in turn; a source that fails, or serves something else than
the others, is dropped for the file, and the file fails when none is left, with the most
telling of their failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from evio_fetch.engine.drive_gate import DriveGate
from evio_fetch.engine.errors import (
    EvioError,
    LinkExpiredError,
    RemoteChangedError,
    SizeMismatchError,
    SourceMismatchError,
)
from evio_fetch.engine.model import SourceId
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.resume import recorded, saved_version
from evio_fetch.engine.state import SourceState, State
from evio_fetch.engine.transport import Reply

# Asks a source from what was given (``headers`` sent with every request on the way): its URL,
# redirects followed, or Google Drive's flow for its ID.
Opener = Callable[[Mapping[str, str]], AbstractAsyncContextManager[Reply]]


@dataclass(eq=False, slots=True)
class Source:
    id: SourceId
    # The URL with its secrets hidden, or the Drive file ID: for messages and --json.
    label: str
    open: Opener
    # The URL whose origin gets the user's headers and credentials (the given link; for a
    # Drive file, its download URL), wherever ``url`` leads.
    home: str
    # Google Drive's budget for this machine, for a Drive source.
    gate: DriveGate | None = None
    # What connections ask: where the given link led (None: a Drive file not resolved yet).
    url: str | None = None
    # The version this source serves, from its first answer (or the state of a resumed
    # download); each source has its own validators, and all must state the file's size.
    representation: Representation | None = None
    # Whether ``representation`` is what a previous run recorded, not yet stated again in
    # this one: the first answer checked against it must state its validators again.
    restored: bool = False
    served: int = 0
    # Why the source was dropped for this file; None while it is asked.
    failure: EvioError | None = None
    # Transient failures since it last served a byte, while other sources could serve instead.
    strikes: int = 0
    renewals: int = 0
    served_at_renewal: int = 0
    renewing: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Whether a connection is asking the source its first question. Its answer fixes the
    # source's version, so the others wait for it: two first answers could be two versions.
    introducing: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def healthy(self) -> bool:
        return self.failure is None

    @property
    def renewable(self) -> bool:
        """Whether an expired link can be replaced by asking again: Drive's always, a URL's
        when it led elsewhere (a redirect to a signed link, which the given URL signs anew)."""
        return self.id.drive or (self.url is not None and self.url != self.id.given)

    def reset(self) -> None:
        """Forget what the last attempt learnt: the next one starts from the given link."""
        self.url = None if self.id.drive else self.id.given
        self.representation, self.restored = None, False
        self.served = self.strikes = self.renewals = self.served_at_renewal = 0
        self.introducing, self.settled = False, asyncio.Event()

    async def introduce(self) -> bool:
        """Wait until the source's version is known, or nobody is asking for it; True when the
        caller's request is the one to fix it (``settle`` once its answer is checked, or has
        failed). False too when the source was dropped meanwhile."""
        while self.representation is None and self.introducing and self.healthy:
            await self.settled.wait()
        if self.representation is not None or not self.healthy:
            return False
        self.introducing, self.settled = True, asyncio.Event()
        return True

    def settle(self) -> None:
        self.introducing = False
        self.settled.set()

    def wrote(self, count: int) -> None:
        self.served += count
        self.strikes = 0


class FileSources:
    """The sources of one file, in the order they are tried."""

    def __init__(self, sources: Sequence[Source], warn: Callable[[str], None]) -> None:
        self.all = list(sources)
        self._warn = warn

    def healthy(self) -> list[Source]:
        return [s for s in self.all if s.healthy]

    def spread(self, lead: Source, count: int) -> list[Source]:
        """Sources for ``count`` connections that start together: ``lead`` (whose answer is
        open), then the healthy ones in turn."""
        chosen = [lead][:count]
        while len(chosen) < count:
            following = self.after(chosen[-1])
            chosen.append(following if following is not None else lead)
        return chosen

    def after(self, source: Source) -> Source | None:
        """The next healthy source after ``source`` (in order, round the end); ``source`` itself
        only when it is the one healthy source."""
        start = self.all.index(source)
        turn = self.all[start + 1 :] + self.all[: start + 1]
        return next((s for s in turn if s.healthy), None)

    def others(self, source: Source) -> bool:
        return any(s.healthy and s is not source for s in self.all)

    def drop(self, source: Source, error: EvioError) -> Source:
        """Stop asking ``source`` for this file, because of ``error``; the source to ask
        instead. When no other is left, raises the most telling failure of them all instead
        (and the last source stays: a file that starts over starts with it)."""
        if not source.healthy:  # another connection dropped it first
            following = self.after(source)
            if following is None:
                raise self.most_telling(error)
            return following
        if not self.others(source):
            raise self.most_telling(error)
        if isinstance(error, RemoteChangedError):
            # This source changed, not the file: the others still serve what was fetched.
            error = SourceMismatchError(error.message, error.hint)
        source.failure = error
        source.settled.set()  # no connection waits for its first answer any more
        self._warn(f"{error.message}; going on with the file's other sources")
        following = self.after(source)
        assert following is not None, "another source is healthy"
        return following

    def most_telling(self, *errors: EvioError) -> EvioError:
        """Of the failures of the dropped sources and ``errors``, the one that says most: a
        change of the file (of its last source), then a source that serves something else, an
        expired link, a permanent refusal, and last a failure that might have passed; the
        first source's among equals."""
        found = [s.failure for s in self.all if s.failure is not None]
        return min([*found, *errors], key=_rank)

    def used(self) -> tuple[str, ...]:
        """The sources that served bytes of the file."""
        return tuple(s.label for s in self.all if s.served > 0)

    def keep_only(self, lead: Source, label: str, judge: str) -> str | None:
        """After a mismatch of the file's ``judge`` (its SHA256, or another checksum): when
        bytes of several sources failed it together, which one serves other bytes cannot be
        told, so the file is to be fetched again from ``lead`` (the source its download
        started with; the busiest healthy one if ``lead`` was dropped) alone, and the others
        are dropped. What to tell the user; None when one source served it all (the mismatch
        is the file's)."""
        used = len(self.used())
        if used < 2:
            return None
        keep = lead if lead.healthy else max(self.healthy(), key=lambda s: s.served)
        message = (
            f"{label}: the bytes of {used} sources together failed the {judge}; fetching it "
            f"again from {keep.label} alone"
        )
        for source in self.all:
            if source is not keep and source.healthy:
                source.failure = SourceMismatchError(message)
        return message

    def recorded(self) -> list[SourceState]:
        """Every source as the state records it: the link as given (a resume asks it again),
        the validators it gave, the bytes it served."""
        return [_record(source) for source in self.all]

    def restore(self, state: State, lead: Source) -> None:
        """What a previous run learnt of each source: the version it served (its answers are
        checked against it) and the bytes it served. ``lead``, whose answer the probe of this
        run is, keeps what it said now."""
        for source in self.all:
            found = recorded(state, source.id)
            if found is None:
                continue
            saved = found[0]
            source.served += saved.served
            answered = saved.etag or saved.last_modified or saved.served
            if source is not lead and answered:
                source.representation = saved_version(state, source.id)
                source.restored = True


def _record(source: Source) -> SourceState:
    version = source.representation or Representation(None, None, None)
    given = source.id.given
    return SourceState(
        url=None if source.id.drive else given,
        drive_id=given if source.id.drive else None,
        etag=version.etag,
        last_modified=version.last_modified,
        served=source.served,
    )


def _rank(error: EvioError) -> int:
    if isinstance(error, RemoteChangedError):
        return 0
    if isinstance(error, SizeMismatchError | SourceMismatchError):
        return 1
    if isinstance(error, LinkExpiredError):
        return 2
    return 4 if error.transient else 3
