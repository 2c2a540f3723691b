"""The installed command leaves without the interpreter's teardown (cli.main.console), but
with everything an exit must leave: its output whole, its status as main returned it, and
no shared semaphore or memory of the run left behind for the system to warn of."""

from __future__ import annotations

import json
from pathlib import Path

from support import MIB, run_cli

from evio_fetch.engine.loopback.dataset import generate
from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread

FILE_ID = "1ExitTestFileIdxxxxxxxxxxxxxxxxxx"


def test_a_run_with_shared_budgets_leaves_whole_and_clean(tmp_path: Path) -> None:
    (data,) = generate(tmp_path / "served", [("rec.dat", 2 * MIB)], seed=3)
    manifest = tmp_path / "m.json"
    entry = {"id": FILE_ID, "path": "data/rec.dat", "sha256": data.sha256}
    manifest.write_text(json.dumps({"version": 1, "datasets": [entry]}))
    with DriveEmulatorThread(prefix="/drive") as drive:
        drive.add(FILE_ID, tmp_path / "served" / "rec.dat", "rec.dat", large=True)
        # A Drive file (the Drive gate's named semaphore) under --max-speed (a shared token
        # bucket): the run makes both, and must release both before it leaves.
        result = run_cli(
            "--manifest", str(manifest), "--json", "--max-speed", "1G", "--yes",
            cwd=tmp_path,
            env={"EVIO_FETCH_DRIVE_URL": drive.base_url},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["outcome"] for f in report["files"]] == ["downloaded"]
    assert (tmp_path / "data" / "rec.dat").stat().st_size == 2 * MIB
    for warning in ("leaked", "resource_tracker", "Exception ignored", "Traceback"):
        assert warning not in result.stderr, result.stderr


def test_the_status_is_mains_and_the_plan_arrives_whole(tmp_path: Path) -> None:
    sources = [f"http://127.0.0.1:9/file{n}.bin" for n in range(2000)]
    planned = run_cli("--dry-run", "-o", "out", *sources, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert sum("file" in line for line in planned.stdout.splitlines()) >= 2000
    refused = run_cli("--segments", "0", "http://127.0.0.1:9/a", cwd=tmp_path)
    assert refused.returncode == 2
    shown = run_cli("--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip()
