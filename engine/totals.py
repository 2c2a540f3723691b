"""A run's running totals, kept once for whoever shows them: the command line's board and the
API's ``on_progress`` read the same sums, fed by the same Observer calls.

Sums are updated per event, never recomputed by walking the plan: a run may have many
thousands of files, and a display reads the totals several times a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from evio_fetch.engine.model import FileResult, FileSpec, PlanItem


@dataclass
class ByteSums:
    """Bytes on disk and bytes in all, over a set of files."""

    done: int = 0
    known_total: int = 0
    # Files of the set whose size is not known yet.
    unknown: int = 0

    @property
    def total(self) -> int | None:
        """The size of every file of the set, or None while any is unknown."""
        return None if self.unknown else self.known_total


class RunTotals:
    """Files and bytes of a run so far.

    A file's bytes are the most it ever had on disk (a file that starts over does not pull
    the total back). A file that fails leaves the total with what it did not fetch, so at
    the end every byte counted is done. ``every`` counts all the files of the plan;
    ``fetched`` leaves out those the plan found in place, for a display of what this run
    fetches.
    """

    def __init__(self) -> None:
        self.files_total = 0
        self.files_done = 0
        self.files_failed = 0
        self.every = ByteSums()
        self.fetched = ByteSums()
        self._sizes: dict[int, int | None] = {}
        self._done: dict[int, int] = {}
        self._present: set[int] = set()

    @property
    def bytes_done(self) -> int:
        return self.every.done

    @property
    def bytes_total(self) -> int | None:
        return self.every.total

    def planned(self, plan: list[PlanItem]) -> None:
        self.files_total = len(plan)
        for item in plan:
            index = item.spec.index
            if item.action == "skip":
                self._present.add(index)
            self._done[index] = 0
            self._sizes[index] = None
            for sums in self._sums(index):
                sums.unknown += 1
            if item.spec.size is not None:
                self._set_size(index, item.spec.size)

    def started(self, spec: FileSpec, size: int | None, done: int) -> None:
        """``done`` bytes were on disk as the download began: resumed, not moved."""
        if size is not None:
            self._set_size(spec.index, size)
        self._reach(spec.index, done)

    def advanced(self, spec: FileSpec, done: int) -> int:
        """Returns the bytes that arrived, for speeds: 0 while a file that started over is
        below its best, and never the bytes an earlier run left (those come with started)."""
        return self._reach(spec.index, done)

    def finished(self, result: FileResult) -> None:
        index = result.spec.index
        self.files_done += 1
        self.files_total = max(self.files_total, self.files_done)
        if result.outcome in ("downloaded", "present"):
            self._set_size(index, result.bytes)
            self._reach(index, result.bytes)
        else:
            self.files_failed += 1
            self._set_size(index, self._done.get(index, 0))

    def _sums(self, index: int) -> tuple[ByteSums, ...]:
        return (self.every,) if index in self._present else (self.every, self.fetched)

    def _set_size(self, index: int, size: int) -> None:
        if index not in self._sizes:  # a file the plan did not name: count it as it comes
            self._sizes[index] = None
            for sums in self._sums(index):
                sums.unknown += 1
        old = self._sizes[index]
        for sums in self._sums(index):
            if old is None:
                sums.unknown -= 1
            else:
                sums.known_total -= old
            sums.known_total += size
        self._sizes[index] = size

    def _reach(self, index: int, done: int) -> int:
        old = self._done.get(index, 0)
        if done <= old:
            return 0
        self._done[index] = done
        for sums in self._sums(index):
            sums.done += done - old
        return done - old
