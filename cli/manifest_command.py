"""``evio-fetch manifest``: write a manifest from a public Drive folder link, or from URLs and
Drive file links; with ``--hash``, SHA256 from the files already at their paths."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from evio_fetch.cli.args import DRIVE_URL_ENV, add_reach_options, command_name, reach_options
from evio_fetch.engine.manifest_builder import build, encode, with_hashes
from evio_fetch.engine.model import DEFAULT_DRIVE_URL, Options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{command_name()} manifest",
        description="Write a manifest (JSON, to stdout or -o FILE) listing the files of a "
        "public Google Drive folder (sub-folders included, paths mirroring the folder tree), "
        "or of the URLs and Drive file links given; sizes come from the server.",
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a Drive folder link, a Drive file link or ID, or an http(s) URL",
    )
    parser.add_argument(
        "--prefix",
        default="",
        metavar="DIR",
        help="put every path under this directory, e.g. evio/data",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="paths are relative to this directory (default: .)",
    )
    parser.add_argument(
        "--hash",
        action="store_true",
        help="fill in sha256 from files already present at the paths (not from a file whose "
        "size differs from the server's: that one is named in a warning)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="requests at once while learning sizes (default: 4)",
    )
    add_reach_options(parser)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the manifest here instead of stdout",
    )
    return parser


def run(argv: Sequence[str], console: Console) -> int:
    args = build_parser().parse_args(argv)
    options = Options(
        concurrency=max(1, args.concurrency),
        drive_url=os.environ.get(DRIVE_URL_ENV) or DEFAULT_DRIVE_URL,
        **reach_options(args),
    )
    warnings: list[str] = []
    prefix = args.prefix.strip("/")
    document = asyncio.run(build(args.sources, prefix, options, warnings))
    if args.hash:
        document = with_hashes(document, args.root, warnings)
    data = encode(document, args.root.resolve())
    for warning in warnings:
        console.print(f"warning: {warning}", markup=False, soft_wrap=True)
    if args.output is not None:
        args.output.write_bytes(data)
        console.print(f"wrote {args.output}: {len(document.datasets)} files", markup=False)
    else:
        sys.stdout.buffer.write(data)
    return 0
