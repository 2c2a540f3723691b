"""--shard auto: K/N from the job array's environment, whatever the array's numbering."""

from __future__ import annotations

import pytest

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.shard_env import shard_from_environment


def slurm(task: int, low: int, high: int, step: int | None = None, **extra: str) -> dict[str, str]:
    count = (high - low) // (step or 1) + 1
    env = {
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_MIN": str(low),
        "SLURM_ARRAY_TASK_MAX": str(high),
        "SLURM_ARRAY_TASK_COUNT": str(count),
    }
    if step is not None:
        env["SLURM_ARRAY_TASK_STEP"] = str(step)
    return {**env, **extra}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(slurm(1, 1, 4), (1, 4), id="slurm-1-4-first"),
        pytest.param(slurm(4, 1, 4), (4, 4), id="slurm-1-4-last"),
        pytest.param(slurm(0, 0, 3), (1, 4), id="slurm-from-0"),
        pytest.param(slurm(3, 0, 3), (4, 4), id="slurm-from-0-last"),
        pytest.param(slurm(12, 10, 13), (3, 4), id="slurm-from-10"),
        pytest.param(slurm(14, 10, 16, step=2), (3, 4), id="slurm-with-step"),
        pytest.param(slurm(7, 7, 7), (1, 1), id="slurm-one-task"),
        pytest.param(
            {k: v for k, v in slurm(3, 1, 4).items() if k != "SLURM_ARRAY_TASK_COUNT"},
            (3, 4),
            id="slurm-without-count-uses-max",
        ),
        pytest.param(
            {k: v for k, v in slurm(3, 1, 4).items() if k != "SLURM_ARRAY_TASK_MAX"},
            (3, 4),
            id="slurm-without-max-uses-count",
        ),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "0", "EVIO_FETCH_SHARD_COUNT": "4"}, (1, 4), id="k8s-first"
        ),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "3", "EVIO_FETCH_SHARD_COUNT": " 4 "}, (4, 4), id="k8s-last"
        ),
        pytest.param(
            {**slurm(2, 1, 2), "JOB_COMPLETION_INDEX": "0", "EVIO_FETCH_SHARD_COUNT": "9"},
            (2, 2),
            id="slurm-read-first",
        ),
    ],
)
def test_shard_from_the_environment(env: dict[str, str], expected: tuple[int, int]) -> None:
    assert shard_from_environment(env) == expected


def test_every_task_of_an_array_takes_a_different_shard() -> None:
    taken = [shard_from_environment(slurm(task, 5, 23, step=3)) for task in range(5, 24, 3)]
    assert taken == [(k, 7) for k in range(1, 8)]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        pytest.param({}, "none of SLURM_ARRAY_TASK_ID (Slurm) or JOB_COMPLETION_INDEX", id="none"),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "1"}, "EVIO_FETCH_SHARD_COUNT must", id="k8s-without-count"
        ),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "4", "EVIO_FETCH_SHARD_COUNT": "4"},
            "JOB_COMPLETION_INDEX=4 is not below EVIO_FETCH_SHARD_COUNT=4",
            id="k8s-index-out-of-range",
        ),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "two", "EVIO_FETCH_SHARD_COUNT": "4"},
            "JOB_COMPLETION_INDEX='two' is not a whole number",
            id="k8s-not-a-number",
        ),
        pytest.param(
            {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1"},
            "neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX",
            id="slurm-without-count",
        ),
        pytest.param(
            {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"},
            "SLURM_ARRAY_TASK_MIN is not set",
            id="slurm-without-min",
        ),
        pytest.param(
            # --array=1,2,7: three tasks, ids not evenly spaced
            slurm(2, 1, 7, SLURM_ARRAY_TASK_COUNT="3"),
            "not evenly spaced",
            id="slurm-list",
        ),
        pytest.param(slurm(4, 1, 7, step=2), "not evenly spaced", id="slurm-off-step"),
        pytest.param(slurm(9, 1, 4), "not evenly spaced", id="slurm-outside"),
        pytest.param(slurm(1, 1, 4, step=0), "not evenly spaced", id="slurm-step-0"),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "1", "EVIO_FETCH_SHARD_COUNT": "9" * 30},
            "is not a whole number",
            id="absurd-count",
        ),
        pytest.param(
            {"JOB_COMPLETION_INDEX": "1", "EVIO_FETCH_SHARD_COUNT": "200000"},
            "200000 shards is more than 100000",
            id="too-many-shards",
        ),
    ],
)
def test_a_missing_or_inconsistent_environment_is_a_usage_error(
    env: dict[str, str], words: str
) -> None:
    with pytest.raises(UsageError) as raised:
        shard_from_environment(env)
    assert raised.value.message.startswith("--shard auto: ")
    assert words in raised.value.message
    assert "--shard K/N" in raised.value.hint
