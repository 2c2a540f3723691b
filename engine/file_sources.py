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


def _rank(error: EvioError) -> int:
    if isinstance(error, RemoteChangedError):
        return 0
    if isinstance(error, SizeMismatchError | SourceMismatchError):
        return 1
    if isinstance(error, LinkExpiredError):
        return 2
    return 4 if error.transient else 3
