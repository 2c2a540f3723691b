"""What to do with each file before any request: fetch it, or skip it because it is already
in place. Reads only the local disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evio_fetch.engine.checksums import expected, first_mismatch
from evio_fetch.engine.model import FileSpec, Options, PlanItem
from evio_fetch.engine.sidecars import part_path
from evio_fetch.engine.verify import file_digests


def plan(specs: Sequence[FileSpec], options: Options) -> list[PlanItem]:
    return [plan_one(spec, options) for spec in specs]


def plan_one(spec: FileSpec, options: Options) -> PlanItem:
    if spec.target is None:
        return PlanItem(spec, "fetch", "named by the server")
    target = Path(spec.target)
    if target.is_file():
        reason = _why_refetch(spec, target, options)
        if reason is None:
            return PlanItem(spec, "skip", "already present")
        return PlanItem(spec, "fetch", reason)
    if options.resume and part_path(target).exists():
        return PlanItem(spec, "resume", "partial download found")
    return PlanItem(spec, "fetch", "missing")


def _why_refetch(spec: FileSpec, target: Path, options: Options) -> str | None:
    """None when the file on disk is the one wanted, as far as can be told without a request."""
    size = target.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"present with {size} bytes, expected {spec.size}"
    wanted = expected(spec.sha256, spec.checksum)
    # Without a size to compare, a known hash is the only way to tell a truncated file.
    if not wanted or not (options.verify or spec.size is None):
        return None
    mismatch = first_mismatch(wanted, file_digests(target, (c.algorithm for c in wanted)))
    return None if mismatch is None else f"present but its {mismatch[0].shown} differs"
