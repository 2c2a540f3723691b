"""Fetching what the command line names: load the specs (manifest, sources or a state
file), take the shard, show the plan or ask, run the engine with the display, then report
and choose the exit status. No download logic lives here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
    json_document,
    summary_line,
)
from evio_fetch.cli.rerun import rerun_command
from evio_fetch.cli.stdout import write_lines, write_stdout
from evio_fetch.engine import planning, runner, sharding
from evio_fetch.engine.errors import ManifestError, StateError, UsageError
from evio_fetch.engine.manifest import load_manifest
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.netrc_file import load_logins
from evio_fetch.engine.pool import Launch
from evio_fetch.engine.sources import specs_from_sources
from evio_fetch.engine.state import spec_from_state
from evio_fetch.engine.version import VERSION

DRIVE_BURST_LIMIT = 5


def load_specs(args: Args) -> tuple[list[FileSpec], list[str]]:
    """The files to fetch, and warnings about what was given (a manifest's unknown fields)."""
    if args.resume_state is not None:
        if args.shard is not None:
            raise UsageError(
                "--shard cannot be combined with --resume-state",
                "--resume-state finishes one download; drop --shard, or drop --resume-state "
                "to fetch a shard of the manifest",
            )
        return [_spec_from_state(args.resume_state)], []
    if args.sources:
        return specs_from_sources(args.sources, args.directory.resolve()), []
    if not args.manifest.exists() and not args.manifest_given:
        raise ManifestError(
            f"{args.manifest}: no manifest here, and no SOURCE was given",
            "run from the project's root, pass --manifest PATH, or give URLs; "
            "`evio-fetch --demo` tries it offline",
        )
    manifest = load_manifest(args.manifest, args.directory.resolve())
    return manifest.entries, manifest.warnings


def _spec_from_state(path: Path) -> FileSpec:
    try:
        return spec_from_state(path)
    except StateError as error:
        raise UsageError(
            f"--resume-state: {error.message}",
            error.hint or "give the T.evio-state file that lies beside a partial download T",
        ) from None


def fetch_all(
    args: Args, console: Console, launched: Launch | None = None, words: Sequence[str] = ()
) -> int:
    """Fetch what ``args`` name; ``words`` are the command line's, for the command an
    interrupted run shows to resume."""
    specs, warnings = load_specs(args)
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    header: list[str] = []
    if args.shard is not None:
        total = len(specs)
        specs = sharding.shard(specs, *args.shard)
        header.append(shard_line(args.shard, specs, total))
    items = planning.plan(specs, args.options)
    if args.dry_run:
        # The plan is the output asked for: on stdout, for a pager, a file or a program.
        if args.json:
            write_stdout(plan_document(items, VERSION, args.shard))
        else:
            write_lines([*header, *plan_lines(items)])
        return 0
    for line in header if not args.quiet else []:
        console.print(line, markup=False, soft_wrap=True)
    if confirm.needs_asking(items, yes=args.yes) and not confirm.ask(console, items):
        console.print("Nothing fetched.", markup=False)
        return EXIT_DECLINED
    _warn_drive_bursts(args, specs, console)
    _warn_netrc(console)
    with sigterm_as_interrupt(), make_display(console, quiet=args.quiet) as display:
        report = runner.run(specs, args.options, display, planned=items, launched=launched)
    return finish(args, console, report, words)


def finish(
    args: Args, console: Console, report: runner.RunReport, words: Sequence[str] = ()
) -> int:
    console.print(summary_line(report.results, report.seconds), markup=False, soft_wrap=True)
    if args.json:
        write_stdout(json_document(report.results, report.seconds, VERSION))
    if report.interrupted:
        command, hidden = rerun_command(command_name(), words)
        for line in interrupted_lines(report.results, command, hidden):
            console.print(line, markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    return exit_status(report.results)


def _warn_drive_bursts(args: Args, specs: list[FileSpec], console: Console) -> None:
    drive = any(spec.drive_id and not spec.url for spec in specs)
    if drive and args.options.concurrency > DRIVE_BURST_LIMIT:
        console.print(
            f"warning: --concurrency {args.options.concurrency} against Google Drive: Drive "
            f"answers bursts with its quota page; {DRIVE_BURST_LIMIT} or fewer is safer",
            markup=False,
            soft_wrap=True,
        )


def _warn_netrc(console: Console) -> None:
    _, problem = load_logins()
    if problem is not None:
        console.print(f"warning: {problem}", markup=False, soft_wrap=True)
