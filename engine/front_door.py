"""The one way into a run, for the command line and the API alike.

``prepare`` takes what the caller asks for (a manifest, sources or one state file, where they
land, a shard) and the checked Options, and makes the Plan: the files, this machine's share of
them, what each needs, and the warnings worth showing first. ``run`` fetches a Plan while an
Observer watches. Both callers go through here, so a request means the same from either, and
its mistakes are refused in the same words, each name written as the caller writes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from evio_fetch.engine import planning, runner, sharding
from evio_fetch.engine.errors import StateError, UsageError
from evio_fetch.engine.manifest import load_manifest
from evio_fetch.engine.model import FileSpec, Options, PlanItem
from evio_fetch.engine.netrc_file import load_logins
from evio_fetch.engine.observer import Observer
from evio_fetch.engine.pool import Launch
from evio_fetch.engine.request import Request, check_request
from evio_fetch.engine.sidecars import STATE_SUFFIX, part_path
from evio_fetch.engine.sources import specs_from_sources
from evio_fetch.engine.spelling import Spelling
from evio_fetch.engine.state import spec_from_state, target_of

# Google Drive answers more files at once than this with its quota page.
DRIVE_BURST_LIMIT = 5


@dataclass(frozen=True)
class Plan:
    """A prepared run: what each file needs, with the options it runs under."""

    items: list[PlanItem]
    options: Options
    # Worth saying before anything is fetched: the manifest's unknown fields, an unreadable
    # netrc, a burst Drive will refuse.
    warnings: list[str]
    shard: tuple[int, int] | None = None
    # The entries before the shard was taken.
    entries: int = 0

    @property
    def specs(self) -> list[FileSpec]:
        return [item.spec for item in self.items]


def prepare(request: Request, options: Options, spelled: Spelling) -> Plan:
    """The Plan for ``request``: its files read (a large manifest takes a moment), this
    machine's shard of them taken, and each file's need found on the local disk."""
    directory = check_request(request, spelled).resolve()
    specs, warnings = _specs(request, directory, spelled)
    entries = len(specs)
    if request.shard is not None:
        specs = sharding.shard(specs, *request.shard)
    _, netrc_problem = load_logins()
    warnings += [netrc_problem] if netrc_problem is not None else []
    warnings += _drive_burst(specs, options, spelled)
    return plan_of(specs, options, warnings, request.shard, entries)


def plan_of(
    specs: list[FileSpec],
    options: Options,
    warnings: list[str] | None = None,
    shard: tuple[int, int] | None = None,
    entries: int | None = None,
) -> Plan:
    """The Plan for files already chosen (the demo's own dataset; a request's share)."""
    items = planning.plan(specs, options)
    return Plan(items, options, warnings or [], shard, len(specs) if entries is None else entries)


def run(plan: Plan, observer: Observer, launched: Launch | None = None) -> runner.RunReport:
    """Fetch what ``plan`` holds, which holds no items after: the run takes them over.
    ``launched``: workers already starting with its options."""
    return runner.run(plan.specs, plan.options, observer, planned=plan.items, launched=launched)


def _specs(
    request: Request, directory: Path, spelled: Spelling
) -> tuple[list[FileSpec], list[str]]:
    if request.resume_state is not None:
        finished = _finished_download(request.resume_state)
        if finished is not None:
            return [finished], []
        try:
            return [spec_from_state(request.resume_state)], []
        except StateError as error:
            raise UsageError(
                f"{spelled('resume_state')}: {error.message}",
                error.hint or "give the T.evio-state file that lies beside a partial download T",
            ) from None
    if request.sources is not None:
        return specs_from_sources(request.sources, directory), []
    assert request.manifest is not None, "check_request let one through"
    manifest = load_manifest(request.manifest, directory)
    return manifest.entries, list(manifest.warnings)


def _finished_download(state: Path) -> FileSpec | None:
    """The target of a state file that is gone while the target is in place, with no partial
    download beside it: that download finished (its state is removed as the file lands), so
    running ``--resume-state`` again finds it present rather than failing to read the state."""
    if os.path.lexists(state):
        return None
    try:
        target = target_of(state.absolute())
    except StateError:
        return None  # not a state file's name: refused as such below
    if os.path.lexists(part_path(target)) or not target.is_file() or target.is_symlink():
        return None
    return FileSpec(
        index=0,
        label=str(state)[: -len(STATE_SUFFIX)],
        target=str(target),
        output_dir=str(target.parent),
        size=target.stat().st_size,
    )


def _drive_burst(specs: list[FileSpec], options: Options, spelled: Spelling) -> list[str]:
    drive = any(spec.drive_id and not spec.url for spec in specs)
    if not drive or options.concurrency <= DRIVE_BURST_LIMIT:
        return []
    return [
        f"{spelled.given('concurrency', options.concurrency)} against Google Drive: Drive "
        f"answers bursts with its quota page; {DRIVE_BURST_LIMIT} or fewer is safer"
    ]
