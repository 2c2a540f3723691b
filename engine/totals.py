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


# What the plan said of a file, by its index: one byte per file for the whole run.
_UNPLANNED, _FETCH, _PRESENT = 0, 1, 2


class RunTotals:
    """Files and bytes of a run so far.

    A file's bytes are the most it ever had on disk (a file that starts over does not pull
    the total back). A file that fails leaves the total with what it did not fetch, so at
    the end every byte counted is done. ``every`` counts all the files of the plan;
    ``fetched`` leaves out those the plan found in place, for a display of what this run
    fetches.

    Only files in flight have an entry of their own (their size as now known, their most
    bytes): a file not yet started counts with its planned size and no bytes, and a
    finished one only in the sums, so the memory kept stays flat in the number of files.
    """

    def __init__(self) -> None:
        self.files_total = 0
        self.files_done = 0
        self.files_failed = 0
        self.every = ByteSums()
        self.fetched = ByteSums()
        self._planned = bytearray()
        self._sizes: dict[int, int | None] = {}
        self._done: dict[int, int] = {}

    @property
    def bytes_done(self) -> int:
        return self.every.done

    @property
    def bytes_total(self) -> int | None:
        return self.every.total

    @property
    def files_in_flight(self) -> int:
        """Files started and not finished: those with an entry of their own."""
        return len(self._done)

    def planned(self, plan: list[PlanItem]) -> None:
        self.files_total = len(plan)
        self._planned = bytearray(max((item.spec.index for item in plan), default=-1) + 1)
        for item in plan:
            index, size = item.spec.index, item.spec.size
            self._planned[index] = _PRESENT if item.action == "skip" else _FETCH
            for sums in self._sums(index):
                if size is None:
                    sums.unknown += 1
                else:
                    sums.known_total += size

    def started(self, spec: FileSpec, size: int | None, done: int) -> None:
        """``done`` bytes were on disk as the download began: resumed, not moved."""
        self._enter(spec)
        if size is not None:
            self._set_size(spec.index, size)
        self._reach(spec.index, done)

    def advanced(self, spec: FileSpec, done: int) -> int:
        """Returns the bytes that arrived, for speeds: 0 while a file that started over is
        below its best, and never the bytes an earlier run left (those come with started)."""
        self._enter(spec)
        return self._reach(spec.index, done)

    def finished(self, result: FileResult) -> None:
        index = result.spec.index
        self.files_done += 1
        self.files_total = max(self.files_total, self.files_done)
        self._enter(result.spec)
        if result.outcome in ("downloaded", "present"):
            self._set_size(index, result.bytes)
            self._reach(index, result.bytes)
        else:
            self.files_failed += 1
            self._set_size(index, self._done[index])
        del self._sizes[index], self._done[index]

    def _enter(self, spec: FileSpec) -> None:
        """Give the file its own entry on its first event: its planned size and no bytes."""
        index = spec.index
        if index in self._done:
            return
        self._done[index] = 0
        if self._kind(index) != _UNPLANNED:
            self._sizes[index] = spec.size
            return
        self._sizes[index] = None  # a file the plan did not name: count it as it comes
        for sums in self._sums(index):
            sums.unknown += 1

    def _kind(self, index: int) -> int:
        return self._planned[index] if 0 <= index < len(self._planned) else _UNPLANNED

    def _sums(self, index: int) -> tuple[ByteSums, ...]:
        present = self._kind(index) == _PRESENT
        return (self.every,) if present else (self.every, self.fetched)

    def _set_size(self, index: int, size: int) -> None:
        old = self._sizes[index]
        for sums in self._sums(index):
            if old is None:
                sums.unknown -= 1
            else:
                sums.known_total -= old
            sums.known_total += size
        self._sizes[index] = size

    def _reach(self, index: int, done: int) -> int:
        old = self._done[index]
        if done <= old:
            return 0
        self._done[index] = done
        for sums in self._sums(index):
            sums.done += done - old
        return done - old
