"""The command line's words: parsing and checking them, before anything else happens."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from evio_fetch.engine import spelling
from evio_fetch.engine.credentials import parse_headers
from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import DEFAULT_DRIVE_URL, Options
from evio_fetch.engine.option_checks import OptionRefused, check_option, checked_options, span
from evio_fetch.engine.ratelimit import parse_rate
from evio_fetch.engine.reach import checked_ca_bundle, checked_proxy
from evio_fetch.engine.redaction import redact_url
from evio_fetch.engine.request import AUTO, Request, check_request, chosen_shard
from evio_fetch.engine.sharding import parse_shard
from evio_fetch.engine.version import VERSION

DEFAULT_MANIFEST = Path("docs/data/datasets.json")
DRIVE_URL_ENV = "EVIO_FETCH_DRIVE_URL"
# The console scripts, one entry point: the first is the product's name, the second the
# command its design documents use.
COMMANDS = ("evio-fetch", "download-datasets")
# The options' defaults, as the engine declares them.
DEFAULTS = Options()


@dataclass(frozen=True)
class Args:
    # What to fetch (a manifest, SOURCEs or one state file), where, and which shard: the
    # engine's front door takes it as it is.
    request: Request
    # Whether --manifest was given (else the request's manifest is the default one).
    manifest_given: bool
    yes: bool
    dry_run: bool
    quiet: bool
    json: bool
    demo: Path | None
    demo_requested: bool
    options: Options


def _option(name: str, parse: Callable[[str], object], what: str) -> Callable[[str], object]:
    """The argparse type of an option of Options: its text parsed, then checked against the
    limits Options declares (the API checks its arguments against the same)."""

    def check(text: str) -> object:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        try:
            return check_option(name, value)
        except OptionRefused as refused:
            raise argparse.ArgumentTypeError(f"{value}: {refused}") from None

    return check


def _count(name: str) -> Callable[[str], object]:
    return _option(name, int, "a whole number")


def _shard(text: str) -> tuple[int, int] | str:
    if text.strip().lower() == AUTO:
        return AUTO  # read from the environment once the words are parsed, hint and all
    try:
        return parse_shard(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _rate(text: str) -> int:
    try:
        rate = parse_rate(text)
        return check_option("max_speed", rate)
    except ValueError as error:  # OptionRefused too: the rate parsed, but out of limits
        said = f"{text}: {error}" if isinstance(error, OptionRefused) else str(error)
        raise argparse.ArgumentTypeError(said) from None


def command_name() -> str:
    """The name the user typed, for usage and error lines; ``python -m`` and any other way in
    read as the product's name."""
    typed = Path(sys.argv[0]).name.removesuffix(".exe")
    return typed if typed in COMMANDS else COMMANDS[0]


def build_parser() -> argparse.ArgumentParser:
    prog = command_name()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Fetch every file of a dataset manifest, or the URLs and Google Drive links "
        "given, to its place: segmented, resumable, SHA256-verified.",
        epilog=f"Without SOURCE, the manifest is read. `{prog} manifest --help` shows how "
        "to write a manifest from a Drive folder or a list of URLs. Exit status: 0 all "
        "present and valid, 1 some files failed but others are present (or the plan was "
        "declined), 2 complete failure (bad arguments or manifest, a full disk, or every file "
        "attempted failed and none is present), 130 interrupted (re-run to resume).",
    )
    add = parser.add_argument
    add(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="an http(s) URL, a Google Drive share link, or a bare Drive file ID",
    )
    add(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="where SOURCE files land, named by the server; with a manifest, the same as "
        "--root (default: .)",
    )
    add(
        "--manifest",
        type=Path,
        metavar="PATH",
        help=f"the manifest to fetch (default: {DEFAULT_MANIFEST})",
    )
    add(
        "--root",
        type=Path,
        metavar="DIR",
        help="manifest paths are relative to this directory; with SOURCEs, the same as -o "
        "(default: .)",
    )
    add(
        "--segments",
        type=_count("segments"),
        default=None,
        metavar="N",
        help=f"byte-range connections per file, {span('segments')}; small files use fewer "
        "(default: each file starts with 2 and tries more, keeping as many as raise its rate, "
        "up to 16; 4 from Google Drive)",
    )
    add(
        "--concurrency",
        type=_count("concurrency"),
        default=DEFAULTS.concurrency,
        metavar="N",
        help=f"files downloading at once, across all workers, {span('concurrency')} "
        f"(default: {DEFAULTS.concurrency})",
    )
    add(
        "--workers",
        type=_count("workers"),
        default=DEFAULTS.workers,
        metavar="N",
        help=f"worker processes, {span('workers')} (default: the number of CPUs)",
    )
    add("-y", "--yes", action="store_true", help="do not ask for confirmation")
    add(
        "--verify",
        action="store_true",
        help="also check the SHA256 (and the manifest's checksum, e.g. MD5) of files already "
        "present before skipping them",
    )
    add(
        "--dry-run",
        action="store_true",
        help="print the plan on stdout, in JSON with --json (what would be fetched, resumed "
        "or skipped, and why); write nothing, request nothing",
    )
    add(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress display; only errors and the final summary",
    )
    add("--no-resume", action="store_true", help="discard partial downloads; fetch from zero")
    add(
        "--resume-state",
        type=Path,
        metavar="PATH",
        help="finish the one download described by this state file (T.evio-state); "
        "no manifest needed",
    )
    add(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="fetch only shard K of N (K counts from 1: 1/4 .. 4/4), a size-balanced share "
        "of the entries that is the same on every machine; for job arrays. 'auto' reads K "
        "and N from a Slurm job array (SLURM_ARRAY_TASK_ID, ..._COUNT, ..._MIN) or a "
        "Kubernetes indexed Job (JOB_COMPLETION_INDEX and EVIO_FETCH_SHARD_COUNT)",
    )
    add(
        "--retries",
        type=_count("retries"),
        default=DEFAULTS.retries,
        metavar="N",
        help=f"attempts per request for transient failures, {span('retries')} "
        f"(default: {DEFAULTS.retries})",
    )
    add(
        "--timeout",
        type=_option("timeout", float, "a number of seconds"),
        default=DEFAULTS.timeout,
        metavar="SECONDS",
        help="abandon a connection that receives nothing for this long, "
        f"{span('timeout')} (default: {DEFAULTS.timeout:g})",
    )
    add(
        "--max-speed",
        type=_rate,
        metavar="RATE",
        help="cap the total download rate across all connections and workers, in bytes "
        "per second: 500K, 20M, 20MiB/s, 1.5G (K, M, G, KiB, MiB, GiB: powers of 1024, as "
        "speeds are shown) or 20MB/s, 500kB (kB, KB, MB, GB: powers of 1000)",
    )
    add_reach_options(parser)
    add(
        "--json",
        action="store_true",
        help="print a JSON report of every file on stdout at the end, or the plan with --dry-run",
    )
    add(
        "--demo",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="download a generated dataset from a server on this machine (works offline); "
        "files land in DIR if given, else in a temporary directory removed afterwards",
    )
    add("--version", action="version", version=f"evio-fetch {VERSION}")
    return parser


def add_reach_options(parser: argparse.ArgumentParser) -> None:
    """--proxy, --header and --ca-bundle: how requests reach the servers."""
    add = parser.add_argument
    add(
        "--proxy",
        metavar="URL",
        help="send every request through this HTTP proxy, http://[USER:PASSWORD@]HOST:PORT "
        "(HTTPS through CONNECT), instead of HTTP_PROXY, HTTPS_PROXY and ALL_PROXY; NO_PROXY "
        "still applies; --proxy '' connects directly",
    )
    add(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="send this header (repeatable) on every request to each source's own host "
        "(scheme, host and port), never to another host a redirect leads to; ~/.netrc (or "
        "$NETRC) credentials follow the same rule",
    )
    add(
        "--ca-bundle",
        metavar="PATH",
        help="also trust the CA certificates in this PEM file (as SSL_CERT_FILE does)",
    )


class ReachOptions(TypedDict):
    proxy: str | None
    headers: tuple[tuple[str, str], ...]
    ca_bundle: str | None


def reach_options(ns: argparse.Namespace) -> ReachOptions:
    """The Options fields of add_reach_options' words, checked (UsageError otherwise)."""
    return {
        "proxy": checked_proxy(ns.proxy),
        "headers": parse_headers(ns.header),
        "ca_bundle": checked_ca_bundle(ns.ca_bundle, "--ca-bundle"),
    }


def parse(argv: Sequence[str] | None = None) -> Args:
    """The command line's words as Args. Raises UsageError for words that parse but cannot
    go together, before anything is started or written."""
    ns = build_parser().parse_args(argv)
    if ns.demo is not None:
        _check_demo_alone(ns)
    fetching_a_manifest = not ns.sources and ns.resume_state is None
    request = Request(
        sources=ns.sources or None,
        manifest=ns.manifest or (DEFAULT_MANIFEST if fetching_a_manifest else None),
        resume_state=ns.resume_state,
        output_dir=ns.output_dir,
        root=ns.root,
        shard=chosen_shard(ns.shard),
    )
    check_request(request, spelling.CLI)
    values = {
        "segments": ns.segments,
        "concurrency": ns.concurrency,
        "workers": ns.workers,
        "retries": ns.retries,
        "timeout": ns.timeout,
        "verify": ns.verify,
        "resume": not ns.no_resume,
        "max_speed": ns.max_speed,
        "drive_url": os.environ.get(DRIVE_URL_ENV) or DEFAULT_DRIVE_URL,
        **reach_options(ns),
    }
    return Args(
        request=request,
        manifest_given=ns.manifest is not None,
        yes=ns.yes,
        dry_run=ns.dry_run,
        quiet=ns.quiet,
        json=ns.json,
        demo=Path(ns.demo) if ns.demo else None,
        demo_requested=ns.demo is not None,
        options=checked_options(values, spelling.CLI),
    )


# A scheme and a colon: what a URL starts with, and no directory name a person means to make.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(//|/)|(https?|ftps?|file):", re.ASCII)


def _check_demo_alone(ns: argparse.Namespace) -> None:
    """The demo fetches its own dataset: a URL given as its directory, or anything that says
    what else to fetch, is a mistake to point out rather than a directory ``http:/`` to make."""
    if _URL_START.match(ns.demo):
        raise UsageError(
            f"--demo {redact_url(ns.demo)}: --demo takes a directory to download the demo "
            "dataset into, not a URL",
            f"to fetch the URL, give it without --demo: {command_name()} URL",
        )
    given = (
        ("SOURCE", bool(ns.sources)),
        ("--manifest", ns.manifest is not None),
        ("--resume-state", ns.resume_state is not None),
        ("--shard", ns.shard is not None),
        ("-o", ns.output_dir is not None),
        ("--root", ns.root is not None),
        ("--dry-run", ns.dry_run),
        ("--json", ns.json),
    )
    ignored = [flag for flag, present in given if present]
    if ignored:
        raise UsageError(
            f"--demo cannot be combined with {', '.join(ignored)}",
            "the demo downloads a generated dataset from a server of its own, into --demo DIR "
            f"if given; drop {' and '.join(ignored)}, or drop --demo",
        )
