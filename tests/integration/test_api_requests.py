"""The API's ``shard=`` and ``resume_state=``, and the one front door: the command line and the
API asked the same thing fetch the same files, and refuse the same mistakes in the same words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import MIB, landed, leftovers, run_cli, write_manifest

from evio_fetch.cli.args import parse
from evio_fetch.engine import Progress, UsageError, fetch, shard_env
from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

Dataset = tuple[Path, list[DataFile]]


def manifest_for(tmp_path: Path, files: list[DataFile], server: ServerThread) -> Path:
    return write_manifest(tmp_path / "m.json", [(server.url_for(f.path), f.path, f) for f in files])


def fetch_shard_both_ways(manifest: Path, k: int, given: object, tmp_path: Path) -> list[str]:
    """Shard ``k`` of 2 fetched by the API (asked as ``given``) and by the command line into
    roots of their own: the paths that landed, the same both ways."""
    by_api, by_cli = tmp_path / f"api{k}", tmp_path / f"cli{k}"
    report = fetch(manifest=manifest, root=by_api, shard=given, workers=1)  # type: ignore[arg-type]
    assert report.ok
    cli = run_cli(
        *("--manifest", str(manifest), "--root", str(by_cli), "--shard", f"{k}/2"),
        *("--yes", "--workers", "1"),
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    assert landed(by_api) == landed(by_cli) != []
    assert sorted(r.spec.label for r in report.results) == landed(by_api)
    return landed(by_api)


def test_the_shards_of_the_api_are_the_shards_of_the_cli(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    manifest = manifest_for(tmp_path, dataset[1], server)
    first = fetch_shard_both_ways(manifest, 1, "1/2", tmp_path)
    second = fetch_shard_both_ways(manifest, 2, (2, 2), tmp_path)
    assert sorted(first + second) == sorted(f.path for f in dataset[1])
    for path in first:
        assert (tmp_path / "api1" / path).read_bytes() == (dataset[0] / path).read_bytes()


def test_shard_auto_reads_the_job_array(
    dataset: Dataset, server: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = manifest_for(tmp_path, dataset[1], server)
    explicit = fetch(manifest=manifest, root=tmp_path / "explicit", shard="2/3", workers=1)
    for name in (*shard_env.SLURM_ALL, shard_env.JOB_INDEX, shard_env.SHARD_COUNT):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(shard_env.JOB_INDEX, "1")
    monkeypatch.setenv(shard_env.SHARD_COUNT, "3")
    auto = fetch(manifest=manifest, root=tmp_path / "auto", shard="auto", workers=1)
    labels = [r.spec.label for r in auto.results]
    assert labels == [r.spec.label for r in explicit.results]
    assert len(labels) < len(dataset[1])


def test_resume_state_finishes_one_download(dataset: Dataset, tmp_path: Path) -> None:
    served, files = dataset
    big = next(f for f in files if f.path == "big/c.dat")

    def interrupt(progress: Progress) -> None:
        if progress.bytes_done >= 2 * MIB:
            raise KeyboardInterrupt

    slow = ServerThread(served, ServerConfig(rate_per_connection=4 * MIB))
    with slow:
        with pytest.raises(KeyboardInterrupt):
            fetch(slow.url_for(big.path), output_dir=tmp_path, on_progress=interrupt)
        state = tmp_path / "c.dat.evio-state"
        assert state.exists()
        report = fetch(resume_state=state, segments=1)
    assert report.ok, report.failed
    (result,) = report.results
    assert result.outcome == "downloaded" and result.resumed > 0
    assert (tmp_path / "c.dat").read_bytes() == (served / big.path).read_bytes()
    assert leftovers(tmp_path) == []
    # Asked again, the state is gone with the download that finished: the file is present.
    again = fetch(resume_state=state)
    assert [r.outcome for r in again.results] == ["present"]
    cli = run_cli("--resume-state", str(state), "--yes", cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr
    assert "1 already present" in cli.stderr and "cannot read" not in cli.stderr


@pytest.mark.parametrize(
    ("cli_words", "api_arguments"),
    [
        (["--resume-state", "x.evio-state", "--shard", "1/2"], {"shard": "1/2"}),
        (["--resume-state", "x.evio-state", "-o", "out"], {"output_dir": "out"}),
        (["--resume-state", "x.evio-state", "--root", "out"], {"root": "out"}),
    ],
)
def test_a_request_is_refused_alike(
    cli_words: list[str],
    api_arguments: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as by_cli:
        parse(cli_words)
    with pytest.raises(UsageError) as by_api:
        fetch(resume_state="x.evio-state", **api_arguments)  # type: ignore[arg-type]
    as_keywords = by_cli.value.message
    for flag, keyword in (("--resume-state", "resume_state"), ("--shard", "shard")):
        as_keywords = as_keywords.replace(flag, keyword)
    as_keywords = as_keywords.replace("-o", "output_dir").replace("--root", "root")
    assert by_api.value.message == as_keywords
    assert "cannot be combined with" in as_keywords


def test_a_damaged_state_file_is_refused_alike(tmp_path: Path) -> None:
    state = tmp_path / "x.bin.evio-state"
    state.write_bytes(b"\x00 not a state")
    cli = run_cli("--resume-state", str(state), "--yes", cwd=tmp_path)
    with pytest.raises(UsageError) as by_api:
        fetch(resume_state=state)
    assert cli.returncode == 2
    reason = by_api.value.message.removeprefix("resume_state: ")
    assert reason != by_api.value.message and f"--resume-state: {reason}" in cli.stderr


def test_a_bad_shard_is_refused_before_anything_runs(tmp_path: Path) -> None:
    for given in ("3/2", "half", (0, 2)):
        with pytest.raises(UsageError, match=r"K/N|N must|between"):
            fetch(["http://127.0.0.1:1/a"], output_dir=tmp_path, shard=given)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_the_plan_as_json_matches_what_the_api_fetches(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    manifest = manifest_for(tmp_path, dataset[1], server)
    plan = run_cli(
        *("--manifest", str(manifest), "--root", "r", "--shard", "1/3", "--dry-run", "--json"),
        cwd=tmp_path,
    )
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    report = fetch(manifest=manifest, root=tmp_path / "r", shard="1/3", workers=1)
    assert [f["label"] for f in planned["plan"]] == [r.spec.label for r in report.results]
