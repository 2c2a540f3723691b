"""``evio-fetch``, also installed as ``download-datasets``: parse the command line, dispatch
to the command asked for, and turn our errors into one line and an exit status.

The first worker process is started before anything else is imported, when the words ask
for a download (engine.early_worker): the parser, the display and the rest of the parent
are imported while it starts, so the two start-ups overlap. For the same reason this module
imports almost nothing itself: a worker process imports it again as it starts."""

from __future__ import annotations

import atexit
import os
import sys

from evio_fetch.cli.tty import is_interactive

# Not typing's: importing typing would delay the first worker's start (and a worker imports
# this module again as it starts).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rich.console import Console

    from evio_fetch.cli.args import Args
    from evio_fetch.engine.early_worker import EarlyWorker
    from evio_fetch.engine.errors import EvioError
    from evio_fetch.engine.pool import Launch


# The status the command leaves with; an error that escapes main leaves with 1, as Python's.
_status = [1]


def console() -> None:
    """The installed commands' entry: ``main``, then an exit without the interpreter's
    teardown (see _leave_now)."""
    atexit.register(_leave_now)  # registered first, so it runs after every other handler
    try:
        _status[0] = main()
    except SystemExit as leaving:  # --help, --version, argparse's usage errors
        code = leaving.code
        _status[0] = code if isinstance(code, int) else 0 if code is None else 1
        raise
    sys.exit(_status[0])


def _leave_now() -> None:
    """The last exit handler: the workers are joined, shared memory and semaphores released
    and logs flushed by the handlers before it, so all that remains of an exit is freeing the
    interpreter's objects one by one, 30 to 80 ms of a one-file run that the system does at
    once."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed reader or stream: Python's own status for it
        os._exit(120)
    os._exit(_status[0])


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(words)
    except KeyboardInterrupt:  # before the console exists, or while stopping the workers
        from evio_fetch.cli.report import EXIT_INTERRUPTED  # noqa: PLC0415

        sys.stderr.write("Interrupted.\n")
        return EXIT_INTERRUPTED


def _run(words: list[str]) -> int:
    if words[:1] == ["manifest"]:
        from evio_fetch.cli import manifest_command  # noqa: PLC0415  (imported when used)

        console = _console()
        return _guarded(console, lambda: manifest_command.run(words[1:], console))
    early = _start_early(words)
    launched = None
    try:
        from evio_fetch.cli.args import parse  # noqa: PLC0415  (once the worker is starting)
        from evio_fetch.engine.errors import EvioError  # noqa: PLC0415

        try:
            args = parse(words)
        except EvioError as error:  # words that parse but cannot go together
            print_error(_console(), error)
            return error.exit_status
        launched, early = _launch_early(args, early), None
        console = _console()
        return _guarded(console, lambda: _fetch_or_demo(args, console, launched, words))
    finally:
        if early is not None:  # the words did not parse
            early.discard()
        if launched is not None:
            launched.release()


def _start_early(words: list[str]) -> EarlyWorker | None:
    from evio_fetch.engine import early_worker  # noqa: PLC0415  (the first import of a run)

    if not early_worker.wanted(words, is_interactive()):
        return None
    return early_worker.start_early()


def _console() -> Console:
    from rich.console import Console  # noqa: PLC0415  (imported once a worker is starting)

    return Console(stderr=True, highlight=False)


def _fetch_or_demo(args: Args, console: Console, launched: Launch | None, words: list[str]) -> int:
    if args.demo_requested:
        from evio_fetch.cli import demo  # noqa: PLC0415  (its server is needed only here)

        return demo.run_demo(args, console)
    from evio_fetch.cli import fetch_command  # noqa: PLC0415  (while the worker starts)

    return fetch_command.fetch_all(args, console, launched, words)


def _launch_early(args: Args, early: EarlyWorker | None) -> Launch | None:
    """The first worker, started early (or now): it imports its HTTP client while this
    process imports the rest of itself, loads the manifest and plans. Not when nothing may
    be fetched (--dry-run) or a person will be asked first."""
    from evio_fetch.engine.pool import launch_with  # noqa: PLC0415  (after the early start)

    if args.demo_requested or args.dry_run or (not args.yes and is_interactive()):
        if early is not None:
            early.discard()
        return None
    return launch_with(early, args.options)


def _guarded(console: Console, work: Callable[[], int]) -> int:
    """Our errors become one line and an exit status; an interrupt before any download, 130."""
    from evio_fetch.cli.report import EXIT_INTERRUPTED  # noqa: PLC0415  (imported when used)
    from evio_fetch.engine.errors import EvioError  # noqa: PLC0415

    try:
        return work()
    except EvioError as error:
        print_error(console, error)
        return error.exit_status
    except KeyboardInterrupt:
        console.print("Interrupted.", markup=False)
        return EXIT_INTERRUPTED


def print_error(console: Console, error: EvioError) -> None:
    from rich.text import Text  # noqa: PLC0415  (only when there is an error to show)

    # A Text, never markup: messages carry names from the network.
    from evio_fetch.cli.args import command_name  # noqa: PLC0415

    prefix = f"{command_name()}: error: "
    console.print(Text.assemble((prefix, "bold red"), error.message), soft_wrap=True)
    if error.hint:
        console.print(f"  hint: {error.hint}", soft_wrap=True, markup=False)
