"""The command as a user runs it: a real subprocess, real files, a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import MIB, leftovers, run_cli, same_bytes

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

Dataset = tuple[Path, list[DataFile]]


def write_manifest(
    path: Path, files: list[DataFile], server: ServerThread, **extra: object
) -> Path:
    entries = [
        {
            "url": server.url_for(f.path),
            "path": f"data/{f.path}",
            "size": f.size,
            "sha256": f.sha256,
            **extra,
        }
        for f in files
    ]
    path.write_text(json.dumps({"version": "1.0", "datasets": entries}))
    return path


def test_help_and_version(tmp_path: Path) -> None:
    shown = run_cli("--help", cwd=tmp_path)
    assert shown.returncode == 0
    for option in (
        "--segments",
        "--concurrency",
        "--workers",
        "--manifest",
        "--dry-run",
        "--json",
        "--demo",
        "--verify",
        "--no-resume",
    ):
        assert option in shown.stdout
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("evio-fetch ")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--segments", "0"], "--segments"),
        (["--retries", "many"], "--retries"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--timeout", "-1"], "--timeout"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_missing_default_manifest_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2
    assert "docs/data/datasets.json" in result.stderr and "--manifest" in result.stderr
    assert "Traceback" not in result.stderr


def test_refused_manifest_makes_no_request(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    manifest = write_manifest(tmp_path / "m.json", files, server)
    document = json.loads(manifest.read_text())
    document["datasets"][2]["sha256"] = "xyz"
    manifest.write_text(json.dumps(document))
    result = run_cli("--manifest", str(manifest), cwd=tmp_path)
    assert result.returncode == 2
    assert "datasets[2].sha256" in result.stderr and "m.json" in result.stderr
    assert server.stats.requests == 0
    assert not (tmp_path / "data").exists()


def test_manifest_run_then_rerun(dataset: Dataset, server: ServerThread, tmp_path: Path) -> None:
    served, files = dataset
    manifest = write_manifest(tmp_path / "m.json", files, server)
    first = run_cli("--manifest", str(manifest), "--json", "--segments", "4", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert same_bytes(served, tmp_path / "data", files)
    assert leftovers(tmp_path) == []
    report = json.loads(first.stdout)
    assert report["schema"] == 1
    assert report["summary"]["downloaded"] == len(files)
    assert [f["outcome"] for f in report["files"]] == ["downloaded"] * len(files)
    assert [f["sha256"] for f in report["files"]] == [f.sha256 for f in files]
    assert f"{len(files)} downloaded" in first.stderr
    server.stats.reset()
    second = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
    assert second.returncode == 0
    assert json.loads(second.stdout)["summary"]["present"] == len(files)
    assert server.stats.requests == 0


def test_one_failure_exits_1_and_the_rest_land(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    manifest = write_manifest(tmp_path / "m.json", files, server)
    document = json.loads(manifest.read_text())
    document["datasets"][1]["url"] = server.url_for("missing.bin")
    manifest.write_text(json.dumps(document))
    result = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    error = report["files"][1]["error"]
    assert error["code"] == "http_status" and "404" in error["message"]
    assert report["summary"] == {**report["summary"], "downloaded": len(files) - 1, "failed": 1}
    others = [f for i, f in enumerate(files) if i != 1]
    assert same_bytes(served, tmp_path / "data", others)
    assert "404" in result.stderr and "Traceback" not in result.stderr


def test_dry_run_writes_nothing_and_asks_nothing(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    manifest = write_manifest(tmp_path / "m.json", files, server)
    result = run_cli("--manifest", str(manifest), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0
    # The plan is the output: on stdout, for a pager or a file; nothing else is said.
    assert "data/big/c.dat" in result.stdout and f"{len(files)} to fetch" in result.stdout
    assert result.stderr == ""
    assert server.stats.requests == 0
    assert not (tmp_path / "data").exists()


def test_quiet_prints_only_the_summary(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    _, files = dataset
    manifest = write_manifest(tmp_path / "m.json", files, server)
    result = run_cli("--manifest", str(manifest), "--quiet", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "downloaded" in result.stderr


def test_demo_under_a_speed_cap_makes_no_speed_comparison(tmp_path: Path) -> None:
    result = run_cli("--demo", "--max-speed", "2G", cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "5 downloaded" in result.stderr
    assert "times faster" not in result.stderr


def test_sources_land_in_the_output_directory(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    big = next(f for f in files if f.path == "big/c.dat")
    result = run_cli("-o", "out", server.url_for(big.path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "c.dat").read_bytes() == (served / big.path).read_bytes()


def test_demo_runs_offline_and_verifies(tmp_path: Path) -> None:
    result = run_cli("--demo", "demo-out", cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "5 downloaded" in result.stderr
    assert "times faster" in result.stderr
    landed = sorted(
        p.relative_to(tmp_path / "demo-out").as_posix()
        for p in (tmp_path / "demo-out").rglob("*")
        if p.is_file()
    )
    assert "fan/fan_const_rpm.dat" in landed and len(landed) == 5
    assert min((tmp_path / "demo-out" / p).stat().st_size for p in landed) >= MIB


def test_docs_list_every_option(tmp_path: Path) -> None:
    shown = run_cli("--help", cwd=tmp_path).stdout
    documented = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    options = {word.strip("[],") for word in shown.split() if word.startswith("--")}
    options = {o.split("=")[0] for o in options if len(o) > 2}
    missing = sorted(o for o in options if f"`{o}" not in documented and f", {o}" not in documented)
    assert missing == []
