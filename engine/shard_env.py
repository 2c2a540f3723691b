"""``--shard auto``: shard K of N as the scheduler running this task numbers it.

Pure: the environment is passed in. Read, in this order:

- a Slurm job array: ``SLURM_ARRAY_TASK_ID`` among ``SLURM_ARRAY_TASK_COUNT`` tasks whose ids
  run from ``SLURM_ARRAY_TASK_MIN`` in steps of ``SLURM_ARRAY_TASK_STEP`` (1 when unset), so
  ``--array=0-3``, ``--array=1-4`` and ``--array=10-16:2`` all give shards 1..4. An array
  whose ids are not evenly spaced (``--array=1,2,7``) gives no rank a task can work out on its
  own, and is refused;
- a Kubernetes indexed Job: ``JOB_COMPLETION_INDEX`` (from 0) is set for every pod, but the
  number of completions is not, so ``EVIO_FETCH_SHARD_COUNT`` must give it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.sharding import MAX_SHARDS

SLURM_ID = "SLURM_ARRAY_TASK_ID"
SLURM_COUNT = "SLURM_ARRAY_TASK_COUNT"
SLURM_MIN = "SLURM_ARRAY_TASK_MIN"
SLURM_MAX = "SLURM_ARRAY_TASK_MAX"
SLURM_STEP = "SLURM_ARRAY_TASK_STEP"
SLURM_ALL = (SLURM_ID, SLURM_MIN, SLURM_MAX, SLURM_STEP, SLURM_COUNT)
JOB_INDEX = "JOB_COMPLETION_INDEX"
SHARD_COUNT = "EVIO_FETCH_SHARD_COUNT"

_NONE_HINT = (
    f"run it as a task of a Slurm job array (sbatch --array=1-4), or of a Kubernetes indexed "
    f"Job with {SHARD_COUNT} set to its completions; elsewhere give --shard K/N"
)
_MAX_DIGITS = 9
_SPACING_HINT = "submit the array as --array=A-B or --array=A-B:STEP, or give --shard K/N"


def shard_from_environment(env: Mapping[str, str]) -> tuple[int, int]:
    """(K, N), K from 1, of the job array task this process runs as. Raises UsageError
    naming the variables when there is none, or when they do not add up."""
    if SLURM_ID in env:
        return _slurm(env)
    if JOB_INDEX in env:
        return _indexed_job(env)
    raise UsageError(
        f"--shard auto: not a job array task: none of {SLURM_ID} (Slurm) or {JOB_INDEX} "
        "(Kubernetes indexed Job) is set",
        _NONE_HINT,
    )


def _slurm(env: Mapping[str, str]) -> tuple[int, int]:
    task, low = _number(env, SLURM_ID), _number(env, SLURM_MIN)
    step = _number(env, SLURM_STEP) if SLURM_STEP in env else 1
    count = _slurm_count(env, low, step)
    last = low + (count - 1) * step
    high = _number(env, SLURM_MAX) if SLURM_MAX in env else last
    if step < 1 or count < 1 or high != last or not low <= task <= last or (task - low) % step:
        shown = ", ".join(f"{name}={env[name]}" for name in SLURM_ALL if name in env)
        raise UsageError(
            f"--shard auto: the Slurm array's task ids are not evenly spaced from "
            f"{SLURM_MIN}, so this task's place among them is unknown ({shown})",
            _SPACING_HINT,
        )
    return _checked((task - low) // step + 1, count)


def _slurm_count(env: Mapping[str, str], low: int, step: int) -> int:
    if SLURM_COUNT in env:
        return _number(env, SLURM_COUNT)
    if SLURM_MAX in env:  # a Slurm older than the count variable
        return (_number(env, SLURM_MAX) - low) // max(step, 1) + 1
    _missing(SLURM_COUNT, f"{SLURM_ID} is set, but neither {SLURM_COUNT} nor {SLURM_MAX}")


def _indexed_job(env: Mapping[str, str]) -> tuple[int, int]:
    index = _number(env, JOB_INDEX)
    if SHARD_COUNT not in env:
        _missing(
            SHARD_COUNT,
            f"{JOB_INDEX}={env[JOB_INDEX]} is set, but Kubernetes does not say how many "
            f"completions the Job has: {SHARD_COUNT} must",
        )
    count = _number(env, SHARD_COUNT)
    if not index < count:
        raise UsageError(
            f"--shard auto: {JOB_INDEX}={index} is not below {SHARD_COUNT}={count} (the index "
            "counts from 0)",
            f"set {SHARD_COUNT} to the Job's spec.completions, or give --shard K/N",
        )
    return _checked(index + 1, count)


def _checked(index: int, count: int) -> tuple[int, int]:
    if count > MAX_SHARDS:
        raise UsageError(
            f"--shard auto: {count} shards is more than {MAX_SHARDS}",
            "give --shard K/N with fewer shards",
        )
    return index, count


def _number(env: Mapping[str, str], name: str) -> int:
    if name not in env:
        _missing(name, f"{name} is not set")
    text = env[name].strip()
    # A few digits are enough for any array; more would only make a huge number.
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
        raise UsageError(
            f"--shard auto: {name}={env[name]!r} is not a whole number",
            "check the job's environment, or give --shard K/N",
        )
    return int(text)


def _missing(name: str, what: str) -> NoReturn:
    hint = (
        f"set {name} in the pod's environment to the Job's spec.completions, or give --shard K/N"
        if name == SHARD_COUNT
        else "run it under sbatch --array, or give --shard K/N"
    )
    raise UsageError(f"--shard auto: {what}", hint)
