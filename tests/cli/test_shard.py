"""--shard K/N as a job array uses it: N runs of the real command, one per "machine" (its own
root), and every file of the manifest lands exactly once across them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import landed, leftovers, run_cli, write_manifest

from evio_fetch.engine import shard_env
from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

Dataset = tuple[Path, list[DataFile]]
SHARDS = 4
# The variables --shard auto reads: none is inherited from a scheduler running the tests.
SCHEDULER_VARIABLES = (
    *shard_env.SLURM_ALL,
    shard_env.JOB_INDEX,
    shard_env.SHARD_COUNT,
)


def manifest_for(tmp_path: Path, files: list[DataFile], server: ServerThread) -> Path:
    entries = [(server.url_for(f.path), f"data/{f.path}", f) for f in files]
    return write_manifest(tmp_path / "m.json", entries)


def test_the_shards_of_a_manifest_fetch_every_file_exactly_once(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    manifest = manifest_for(tmp_path, files, server)
    seen: list[str] = []
    for k in range(1, SHARDS + 1):
        root = tmp_path / f"machine{k}"
        root.mkdir()
        result = run_cli(
            *("--manifest", str(manifest), "--root", str(root), "--shard", f"{k}/{SHARDS}"),
            *("--yes", "--json", "--workers", "1"),
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        here = landed(root)
        report = json.loads(result.stdout)
        assert [f["label"] for f in report["files"]] == here
        assert report["summary"]["downloaded"] == len(here)
        assert f"shard {k}/{SHARDS}: {len(here)} of {len(files)} files" in result.stderr
        for path in here:
            assert (root / path).read_bytes() == (served / path.removeprefix("data/")).read_bytes()
        assert leftovers(root) == []
        seen += here
    # Each file once: the roots are separate, so a file fetched twice would show twice.
    assert sorted(seen) == sorted(f"data/{f.path}" for f in files)


def test_dry_run_shows_only_the_shard(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    manifest = manifest_for(tmp_path, files, server)
    plans = []
    for k in range(1, SHARDS + 1):
        result = run_cli(
            "--manifest", str(manifest), "--shard", f"{k}/{SHARDS}", "--dry-run", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"shard {k}/{SHARDS}: ") and result.stderr == ""
        plans.append([line for line in result.stdout.splitlines() if line.startswith("fetch")])
    shown = sorted(line.split()[1] for plan in plans for line in plan)
    assert shown == sorted(f"data/{f.path}" for f in files)
    assert server.stats.requests == 0
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5/4", "argument --shard: '5/4': K must be between 1 and N"),
        ("0/4", "argument --shard: '0/4': K must be between 1 and N"),
        ("2", "argument --shard: '2' is not K/N"),
    ],
)
def test_a_bad_shard_exits_2_with_one_line(
    dataset: Dataset, server: ServerThread, tmp_path: Path, value: str, message: str
) -> None:
    _, files = dataset
    manifest = manifest_for(tmp_path, files, server)
    result = run_cli("--manifest", str(manifest), "--shard", value, cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith(f"evio-fetch: error: {message}")
    assert "Traceback" not in result.stderr
    assert server.stats.requests == 0


def test_shard_and_resume_state_do_not_mix(tmp_path: Path) -> None:
    state = tmp_path / "t.bin.evio-state"
    state.write_bytes(b"")
    result = run_cli("--shard", "1/2", "--resume-state", str(state), cwd=tmp_path)
    assert result.returncode == 2
    assert "--shard cannot be combined with --resume-state" in result.stderr
    assert "Traceback" not in result.stderr


def slurm_array(task: int, first: int, last: int) -> dict[str, str]:
    """The variables sbatch --array=FIRST-LAST sets in task TASK."""
    return {
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_MIN": str(first),
        "SLURM_ARRAY_TASK_MAX": str(last),
        "SLURM_ARRAY_TASK_COUNT": str(last - first + 1),
    }


def indexed_job(index: int) -> dict[str, str]:
    return {"JOB_COMPLETION_INDEX": str(index), "EVIO_FETCH_SHARD_COUNT": str(SHARDS)}


@pytest.mark.parametrize(
    ("environment", "which"),
    [
        pytest.param(slurm_array(0, 0, SHARDS - 1), 1, id="slurm-array-from-0"),
        pytest.param(slurm_array(SHARDS, 1, SHARDS), SHARDS, id="slurm-array-from-1"),
        pytest.param(slurm_array(102, 100, 100 + SHARDS - 1), 3, id="slurm-array-from-100"),
        pytest.param(indexed_job(1), 2, id="kubernetes-indexed-job"),
    ],
)
def test_shard_auto_is_the_shard_the_scheduler_numbers(
    dataset: Dataset, server: ServerThread, tmp_path: Path, environment: dict[str, str], which: int
) -> None:
    _, files = dataset
    manifest = manifest_for(tmp_path, files, server)
    args = ("--manifest", str(manifest), "--dry-run")
    auto = run_cli(
        *args, "--shard", "auto", cwd=tmp_path, env=environment, unset=SCHEDULER_VARIABLES
    )
    assert auto.returncode == 0, auto.stderr
    given = run_cli(*args, "--shard", f"{which}/{SHARDS}", cwd=tmp_path, unset=SCHEDULER_VARIABLES)
    assert (auto.stdout, auto.stderr) == (given.stdout, given.stderr)
    assert f"shard {which}/{SHARDS}: " in auto.stdout + auto.stderr


@pytest.mark.parametrize(
    ("environment", "words"),
    [
        pytest.param({}, "SLURM_ARRAY_TASK_ID (Slurm) or JOB_COMPLETION_INDEX", id="none"),
        pytest.param({"JOB_COMPLETION_INDEX": "1"}, "EVIO_FETCH_SHARD_COUNT", id="no-count"),
    ],
)
def test_shard_auto_outside_a_job_array_is_a_usage_error(
    tmp_path: Path, environment: dict[str, str], words: str
) -> None:
    result = run_cli(
        "--shard", "auto", "--dry-run", "http://127.0.0.1:9/a.bin",
        cwd=tmp_path, env=environment, unset=SCHEDULER_VARIABLES,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("evio-fetch: error: --shard auto: ") and words in lines[0]
    assert lines[1].startswith("  hint: ") and "--shard K/N" in lines[1]
    assert len(lines) == 2 and result.stdout == ""
