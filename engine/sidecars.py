"""The files evio-fetch keeps beside a target ``T`` while it downloads: the data ``T.evio-part``,
the state ``T.evio-state`` and the state's temporary ``T.evio-state.tmp``. Their names live
here, so the rule that no downloaded file may take one of them lives in one place too.

Pure: names only."""

from __future__ import annotations

from pathlib import Path

PART_SUFFIX = ".evio-part"
STATE_SUFFIX = ".evio-state"
TEMPORARY_SUFFIX = ".tmp"
# Longest first: a name is checked against each in turn.
SUFFIXES = (STATE_SUFFIX + TEMPORARY_SUFFIX, STATE_SUFFIX, PART_SUFFIX)


def part_path(target: Path) -> Path:
    return target.with_name(target.name + PART_SUFFIX)


def state_path(target: Path) -> Path:
    return target.with_name(target.name + STATE_SUFFIX)


def temporary_path(path: Path) -> Path:
    return path.with_name(path.name + TEMPORARY_SUFFIX)


def sidecar_suffix(name: str) -> str | None:
    """The sidecar suffix ``name`` ends in, if any: such a name would be another download's
    partial data or state."""
    lowered = name.lower()  # case-insensitive file systems (macOS, Windows) see them as one
    return next((suffix for suffix in SUFFIXES if lowered.endswith(suffix)), None)
