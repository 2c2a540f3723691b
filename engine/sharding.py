"""Split one dataset between machines that never talk to each other (``--shard K/N``).

Every machine reads the same manifest and keeps only its share, so a job array, an indexed
Job or a CI matrix spreads the files with no coordinator. The partition is a pure function
of the entries' sizes and labels: not of the order they are listed in, the machine, the
``--root`` it uses, the filesystem or Python's hash randomization.

Shards are balanced by bytes with the greedy "largest first, to the least loaded" rule:
entries go, biggest first, to the shard with the fewest bytes so far (ties: fewer files, then
the lowest shard number). So the fullest shard never holds more than the emptiest one plus
the single largest file. An entry of unknown size counts as the mean of the known sizes (as
1 byte when no size is known, which spreads such entries evenly by count).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import FileSpec

_SHARD = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*", re.ASCII)
_SHARD_HINT = (
    "give K/N with 1 <= K <= N, e.g. --shard 2/4 for the second of four shards (K counts from 1)"
)
# Far beyond any fleet; it keeps an absurd N from allocating a huge table.
MAX_SHARDS = 100_000


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: shard K of N, K counting from 1. Raises UsageError."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise UsageError(f"{text!r} is not K/N (e.g. 2/4)", _SHARD_HINT)
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS:
        raise UsageError(f"{text!r}: N must be between 1 and {MAX_SHARDS}", _SHARD_HINT)
    if not 1 <= index <= count:
        raise UsageError(f"{text!r}: K must be between 1 and N", _SHARD_HINT)
    return index, count


def shard(specs: Sequence[FileSpec], index: int, count: int) -> list[FileSpec]:
    """The entries of shard ``index`` of ``count`` (1-based), in their original order."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: need 1 <= index <= count")
    owner = assign(specs, count)
    return [spec for spec, shard_number in zip(specs, owner, strict=True) if shard_number == index]


def assign(specs: Sequence[FileSpec], count: int) -> list[int]:
    """The shard number (1..count) of each entry, position for position."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, not {count}")
    weights = _weights(specs)
    # Largest first; equal weights in the order of a key every machine agrees on. The
    # position comes last, only to order entries that are identical in every other way.
    order = sorted(range(len(specs)), key=lambda i: (-weights[i], *_stable_key(specs[i]), i))
    # A heap of (bytes, files, shard): its top is the least loaded shard, ties included.
    loads = [(0, 0, number) for number in range(1, count + 1)]
    owner = [0] * len(specs)
    for position in order:
        weight, files, number = loads[0]
        heapq.heapreplace(loads, (weight + weights[position], files + 1, number))
        owner[position] = number
    return owner


def _weights(specs: Sequence[FileSpec]) -> list[int]:
    known = [spec.size for spec in specs if spec.size is not None]
    unknown = max(1, sum(known) // len(known)) if known else 1
    return [unknown if spec.size is None else spec.size for spec in specs]


def _stable_key(spec: FileSpec) -> tuple[str, str, str]:
    # The label is the manifest path as written (or the SOURCE argument): unlike the target,
    # it does not depend on --root or on where the manifest was resolved.
    return (spec.label, spec.url or "", spec.drive_id or "")
