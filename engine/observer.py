"""What the runner tells whoever watches a run (the command line's display, a notebook's
callback). Calls arrive on the thread that called ``run``; they must return quickly."""

from __future__ import annotations

from typing import Protocol

from evio_fetch.engine.model import FileResult, FileSpec, PlanItem


class Observer(Protocol):
    def planned(self, plan: list[PlanItem]) -> None:
        """The whole plan, before any download starts. The list is the run's own, emptied
        once the run has taken its items over (so that each can go when its file is done):
        keep what is needed from it, not the list."""

    def started(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        """A file's download began; ``name`` is its final path, ``done`` bytes were resumed."""

    def advanced(self, spec: FileSpec, done: int) -> None:
        """``done`` bytes of the file are on disk (monotonic per file)."""

    def verifying(self, spec: FileSpec) -> None:
        """Every byte is on disk; the SHA256 check is finishing."""

    def warned(self, spec: FileSpec, message: str) -> None:
        """Something worth saying about the file that does not stop it."""

    def retrying(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        """A request of the file failed (``reason``, without the file's name) and is tried
        again in ``pause`` seconds: retry ``attempt`` of at most ``of`` in a row."""

    def finished(self, result: FileResult) -> None:
        """The file's final outcome. Called once per plan item, skipped ones included."""


class NullObserver:
    """Watches nothing."""

    def planned(self, plan: list[PlanItem]) -> None:
        return None

    def started(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        return None

    def advanced(self, spec: FileSpec, done: int) -> None:
        return None

    def verifying(self, spec: FileSpec) -> None:
        return None

    def warned(self, spec: FileSpec, message: str) -> None:
        return None

    def retrying(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        return None

    def finished(self, result: FileResult) -> None:
        return None
