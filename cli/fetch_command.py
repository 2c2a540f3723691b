"""Fetching what the command line names: the engine's front door prepares the plan (the
manifest, sources or state file, the shard), then this shows the plan or asks, runs the plan
with the display, reports and chooses the exit status. No download logic lives here."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from evio_fetch.cli import confirm
from evio_fetch.cli.args import Args, command_name
from evio_fetch.cli.interrupts import sigterm_as_interrupt
from evio_fetch.cli.plan_json import plan_document
from evio_fetch.cli.plan_view import plan_lines, shard_line
from evio_fetch.cli.render import make_display
from evio_fetch.cli.report import (
    EXIT_DECLINED,
    EXIT_INTERRUPTED,
    exit_status,
    interrupted_lines,
    json_parts,
    summary_line,
)
from evio_fetch.cli.rerun import rerun_command
from evio_fetch.cli.stdout import write_lines, write_stdout
from evio_fetch.engine import front_door, runner, spelling
from evio_fetch.engine.errors import ManifestError
from evio_fetch.engine.pool import Launch
from evio_fetch.engine.version import VERSION


def fetch_all(
    args: Args, console: Console, launched: Launch | None = None, words: Sequence[str] = ()
) -> int:
    """Fetch what ``args`` name; ``words`` are the command line's, for the command an
    interrupted run shows to resume."""
    request = args.request
    if not args.manifest_given and request.manifest is not None and not request.manifest.exists():
        raise ManifestError(
            f"{request.manifest}: no manifest here, and no SOURCE was given",
            "run from the project's root, pass --manifest PATH, or give URLs; "
            "`evio-fetch --demo` tries it offline",
        )
    plan = front_door.prepare(request, args.options, spelling.CLI)
    for warning in plan.warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    header = [] if plan.shard is None else [shard_line(plan.shard, plan.specs, plan.entries)]
    if args.dry_run:
        # The plan is the output asked for: on stdout, for a pager, a file or a program.
        if args.json:
            write_stdout(plan_document(plan.items, VERSION, plan.shard))
        else:
            write_lines([*header, *plan_lines(plan.items)])
        return 0
    for line in header if not args.quiet else []:
        console.print(line, markup=False, soft_wrap=True)
    if confirm.needs_asking(plan.items, yes=args.yes) and not confirm.ask(console, plan.items):
        console.print("Nothing fetched.", markup=False)
        return EXIT_DECLINED
    with sigterm_as_interrupt(), make_display(console, quiet=args.quiet) as display:
        report = front_door.run(plan, display, launched=launched)
    return finish(args, console, report, words)


def finish(
    args: Args, console: Console, report: runner.RunReport, words: Sequence[str] = ()
) -> int:
    console.print(summary_line(report.results, report.seconds), markup=False, soft_wrap=True)
    if args.json:
        for part in json_parts(report.results, report.seconds, VERSION):
            write_stdout(part)
    if report.interrupted:
        command, hidden = rerun_command(command_name(), words)
        for line in interrupted_lines(report.results, command, hidden):
            console.print(line, markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    return exit_status(report.results)
