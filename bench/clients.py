"""Who downloads: evio-fetch and the usual tools, each variant as the command line that fetches
a job's files into its output directory. Every tool gets the options a careful user would
give it for the same job (keep-alive, creating folders, overwriting, no progress bar)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from measure import evio_fetch
from scenarios import Shape

# evio-fetch without --segments: each file's connections size themselves.
AUTO = "evio auto"


@dataclass(frozen=True)
class Entry:
    url: str
    path: str  # relative to the job's output directory, "/"-separated
    size: int
    sha256: str


@dataclass(frozen=True)
class Job:
    entries: list[Entry]
    out: Path  # downloads land here
    scratch: Path  # manifests and input files, outside ``out``


@dataclass(frozen=True)
class Client:
    name: str
    family: str  # evio-fetch, curl, aria2c or wget
    options: tuple[str, ...]  # what distinguishes this variant, for the results
    build: Callable[[Job], list[str]]
    # evio-fetch checks each SHA256 given in its manifest; the others need a hash afterwards.
    verifies: bool = False
    fetches: bool = True  # False for a --dry-run: no file is expected afterwards


def evio(name: str, *options: str, sha256: bool = True, fetches: bool = True) -> Client:
    def build(job: Job) -> list[str]:
        manifest = job.scratch / "manifest.json"
        entries = [
            {"url": e.url, "path": e.path, "size": e.size}
            | ({"sha256": e.sha256} if sha256 else {})
            for e in job.entries
        ]
        manifest.write_text(json.dumps({"datasets": entries}))
        return evio_fetch(manifest, job.out, "--yes", *options)

    shown = options if sha256 else (*options, "(manifest without sha256)")
    return Client(name, "evio-fetch", shown, build, verifies=sha256, fetches=fetches)


def curl(name: str, *options: str) -> Client:
    def build(job: Job) -> list[str]:
        # One invocation for the whole job, so curl keeps its connection alive between files.
        config = job.scratch / "curl.cfg"
        config.write_text(
            "".join(f'url = "{e.url}"\noutput = "{job.out / e.path}"\n' for e in job.entries)
        )
        return ["curl", "--silent", "--show-error", "--fail", "--create-dirs", *options,
                "--config", str(config)]  # fmt: skip

    return Client(name, "curl", options, build)


def aria2c(name: str, *options: str) -> Client:
    def build(job: Job) -> list[str]:
        listing = job.scratch / "aria2c.txt"
        listing.write_text(
            "".join(f"{e.url}\n  dir={job.out}\n  out={e.path}\n" for e in job.entries)
        )
        # falloc reserves space with posix_fallocate, as evio-fetch does; aria2c's default
        # (prealloc) writes zeros first, which would be an unfair handicap.
        common = ["-q", "--allow-overwrite=true", "--auto-file-renaming=false",
                  "--file-allocation=falloc", "--summary-interval=0"]  # fmt: skip
        return ["aria2c", *common, *options, "--input-file", str(listing)]

    return Client(name, "aria2c", options, build)


def wget(name: str) -> Client:
    def build(job: Job) -> list[str]:
        listing = job.scratch / "wget.txt"
        listing.write_text("".join(f"{e.url}\n" for e in job.entries))
        # URLs are http://host/<scenario key>/<path>: drop host and key, keep the path.
        return ["wget", "--quiet", "--force-directories", "--no-host-directories",
                "--cut-dirs=1", "--directory-prefix", str(job.out),
                "--input-file", str(listing)]  # fmt: skip

    return Client(name, "wget", (), build)


def _one_file(with_nosha: bool) -> list[Client]:
    nosha = [evio("evio seg4 nosha", "--segments", "4", sha256=False)] if with_nosha else []
    return [
        evio("evio seg1", "--segments", "1"),
        evio("evio seg4", "--segments", "4"),
        evio("evio seg16", "--segments", "16"),
        evio(AUTO),
        *nosha,
        curl("curl"),
        aria2c("aria2c x1", "-x1"),
        aria2c("aria2c x4", "-x4", "-s4", "-k1M"),
        aria2c("aria2c x16", "-x16", "-s16", "-k1M"),
        wget("wget"),
    ]


def _small_files() -> list[Client]:
    return [
        evio("evio c3", "--concurrency", "3"),
        evio("evio c16", "--concurrency", "16"),
        curl("curl"),
        curl("curl par16", "--parallel", "--parallel-max", "16"),
        aria2c("aria2c j16", "-j16"),
        wget("wget"),
    ]


def _large_files() -> list[Client]:
    # evio-fetch at its default --concurrency 3; aria2c's many-segment variant gets the same
    # number of files at once so the comparison is about segments, not file parallelism.
    return [
        evio("evio seg1", "--segments", "1"),
        evio("evio seg4", "--segments", "4"),
        evio("evio seg16", "--segments", "16"),
        evio(AUTO),
        curl("curl"),
        curl("curl par16", "--parallel", "--parallel-max", "16"),
        aria2c("aria2c j16", "-j16"),
        aria2c("aria2c j3 x16", "-j3", "-x16", "-s16", "-k1M"),
        wget("wget"),
    ]


def _tiny_files() -> list[Client]:
    return [
        evio("evio c32", "--concurrency", "32"),
        curl("curl par32", "--parallel", "--parallel-max", "32"),
    ]


def _plan() -> list[Client]:
    return [evio("evio dry-run", "--dry-run", fetches=False)]


QUICK_SKIPS = {"wget", "aria2c x4"}  # no target depends on them


def clients_for(shape: Shape, name: str, quick: bool) -> list[Client]:
    chosen = {
        Shape.ONE: lambda: _one_file(with_nosha=name == "big"),
        Shape.SMALL: _small_files,
        Shape.LARGE: _large_files,
        Shape.TINY: _tiny_files,
        Shape.PLAN: _plan,
    }[shape]()
    return [c for c in chosen if not (quick and c.name in QUICK_SKIPS)]
