"""The displays that only print lines: one per finished file for a log or a pipe, and
failures only with ``--quiet``. Progress is not shown; warnings print one line each."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.text import Text

from evio_fetch.cli.finished_lines import plain_line
from evio_fetch.cli.units import human_bytes, human_duration
from evio_fetch.engine.model import FileResult, FileSpec
from evio_fetch.engine.observer import NullObserver
from evio_fetch.engine.subjects import about


def print_plain(console: Console, line: str, style: str = "") -> None:
    # soft_wrap: a log line stays one line whatever the console thinks its width is, so
    # grep finds it whole and a URL in it stays copyable.
    console.print(Text(line, style=style), soft_wrap=True)


class _LineDisplay(NullObserver):
    def __init__(self, console: Console) -> None:
        self._console = console

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def warned(self, spec: FileSpec, message: str) -> None:
        print_plain(self._console, f"warning: {about(spec.label, message)}", "yellow")


class PlainDisplay(_LineDisplay):
    """No animation: one line per finished or failed file, for logs and pipes, and one for
    each retry and each download taken up again."""

    def started(self, spec: FileSpec, name: str, size: int | None, done: int) -> None:
        if done:
            print_plain(self._console, resuming_line(spec, done, size))

    def retrying(self, spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> None:
        print_plain(self._console, retrying_line(spec, attempt, of, reason, pause), "yellow")

    def finished(self, result: FileResult) -> None:
        line = plain_line(result)
        if line is not None:
            print_plain(self._console, line, "red" if result.outcome == "failed" else "")


class QuietDisplay(_LineDisplay):
    """``--quiet``: failures and warnings only, one line each."""

    def finished(self, result: FileResult) -> None:
        if result.outcome == "failed":
            print_plain(self._console, plain_line(result) or "", "red")


def retrying_line(spec: FileSpec, attempt: int, of: int, reason: str, pause: float) -> str:
    """``retrying data/a.bin (2/5, in 3.0 s): the server answered HTTP 503``."""
    return f"retrying {spec.label} ({attempt}/{of}, in {human_duration(pause)}): {reason}"


def resuming_line(spec: FileSpec, done: int, size: int | None) -> str:
    """``resuming data/a.bin from 90.2 MiB of 100.0 MiB``."""
    of = f" of {human_bytes(size)}" if size is not None else ""
    return f"resuming {spec.label} from {human_bytes(done)}{of}"
