"""The command on systems without Linux's file calls, imitated here: every process of the run
(the command and the workers it spawns) starts with those calls removed from ``os``
(tests/without_os), and evio-fetch must choose its fallbacks and download exactly as well."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import leftovers, run_cli

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

WITHOUT_OS = Path(__file__).resolve().parent.parent / "without_os"
# What macOS lacks; and, further, what Windows lacks of what Linux can do without.
MACOS = "posix_fallocate,fdatasync"
WINDOWS_LIKE = "posix_fallocate,fdatasync,pwrite,pread,O_NOFOLLOW,O_NONBLOCK"

# The platform a worker process of the run would choose, as it reports it.
SPAWNED_CHOICE = """
import multiprocessing
from evio_fetch.engine.platform_io import PLATFORM

def describe(queue):
    from evio_fetch.engine.platform_io import PLATFORM
    queue.put(PLATFORM.describe())

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=describe, args=(queue,))
    child.start()
    print(PLATFORM.describe())
    print(queue.get(timeout=60))
    child.join()
"""


def without(names: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(WITHOUT_OS), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "EVIO_TEST_REMOVE_OS": names}


@pytest.mark.parametrize("names", [MACOS, WINDOWS_LIKE], ids=["macos", "windows-like"])
def test_the_command_and_its_workers_choose_the_fallbacks(tmp_path: Path, names: str) -> None:
    script = tmp_path / "choice.py"
    script.write_text(SPAWNED_CHOICE)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **without(names)},
    )
    assert done.returncode == 0, done.stderr
    parent, worker = done.stdout.splitlines()
    assert parent == worker
    assert "reserve=extend flush=fsync" in parent
    if names == WINDOWS_LIKE:
        assert "positional=seek+write no_follow=lstat+fstat" in parent


@pytest.mark.parametrize("names", [MACOS, WINDOWS_LIKE], ids=["macos", "windows-like"])
def test_a_segmented_download_lands_whole(
    tmp_path: Path, dataset: tuple[Path, list[DataFile]], server: ServerThread, names: str
) -> None:
    served, files = dataset
    urls = [server.url_for(f.path) for f in files]
    done = run_cli(
        *urls, "-o", str(tmp_path / "out"), "--segments", "4", "--json", "--yes",
        cwd=tmp_path, env=without(names),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [f["outcome"] for f in report["files"]] == ["downloaded"] * len(files)
    for data in files:
        landed = tmp_path / "out" / Path(data.path).name
        assert landed.read_bytes() == (served / data.path).read_bytes(), data.path
    assert leftovers(tmp_path / "out") == []
