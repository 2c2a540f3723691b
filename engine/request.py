"""What a caller asks to fetch, checked before anything starts: exactly one of a manifest,
sources or one state file, the directory they land in, and the shard. The command line and the
API both ask here, and each refusal names things as the caller writes them (engine.spelling).

Light on purpose: the command line checks its words with it before its first worker starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evio_fetch.engine import sharding
from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.placement import landing_directory
from evio_fetch.engine.shard_env import shard_from_environment
from evio_fetch.engine.spelling import Spelling

AUTO = "auto"


@dataclass(frozen=True)
class Request:
    """What to fetch: exactly one of ``sources``, ``manifest`` and ``resume_state``."""

    sources: Sequence[str] | None = None
    manifest: Path | None = None
    # One file's state (``T.evio-state``): finish that download alone.
    resume_state: Path | None = None
    # Where sources land and what manifest paths are relative to: one directory under two
    # names, the current one when neither is given.
    output_dir: Path | None = None
    root: Path | None = None
    # (K, N): only shard K of N (K from 1) of the entries.
    shard: tuple[int, int] | None = None


def check_request(request: Request, spelled: Spelling) -> Path:
    """Refuse a request whose parts cannot go together; returns the landing directory."""
    if request.resume_state is not None:
        _check_state_alone(request, spelled)
    elif request.sources is not None and request.manifest is not None:
        count = len(request.sources)
        raise UsageError(
            "give either a manifest or sources, not both: "
            f"{spelled.given('manifest', request.manifest)} and {count} "
            f"{spelled('sources')} argument{'s' if count != 1 else ''}",
            f"drop {spelled('manifest')} to fetch the sources, or drop the sources to fetch "
            "the manifest",
        )
    elif request.sources is None and request.manifest is None:
        raise UsageError(
            f"give either sources or {spelled('manifest')}",
            "give the URLs, Drive links or Drive file IDs to fetch, or a manifest's path",
        )
    return landing_directory(
        (spelled.keyword("output_dir"), request.output_dir),
        (spelled.keyword("root"), request.root),
    )


def _check_state_alone(request: Request, spelled: Spelling) -> None:
    if request.shard is not None:
        raise UsageError(
            f"{spelled('shard')} cannot be combined with {spelled('resume_state')}",
            f"{spelled('resume_state')} finishes one download; drop {spelled('shard')}, or "
            f"drop {spelled('resume_state')} to fetch a shard of the manifest",
        )
    names = ("sources", "manifest", "output_dir", "root")
    ignored = [spelled(name) for name in names if getattr(request, name) is not None]
    if ignored:
        raise UsageError(
            f"{spelled('resume_state')} cannot be combined with {', '.join(ignored)}",
            f"{spelled('resume_state')} finishes the download beside its state file; drop "
            f"{' and '.join(ignored)}, or drop {spelled('resume_state')}",
        )


def chosen_shard(
    given: str | tuple[int, int] | None, env: Mapping[str, str] = os.environ
) -> tuple[int, int] | None:
    """``"2/4"``, ``(2, 4)`` or ``"auto"`` (from a job array's environment) as (K, N)."""
    if given is None:
        return None
    if isinstance(given, str) and given.strip().lower() == AUTO:
        return shard_from_environment(env)
    # A pair is checked as the K/N it stands for, by the same rules and in the same words.
    text = given if isinstance(given, str) else f"{given[0]}/{given[1]}"
    return sharding.parse_shard(text)
