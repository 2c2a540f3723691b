"""The API called at a program's top level, with no ``if __name__ == "__main__":`` guard: from
a script file, ``python -m``, ``python -c`` and a script read from stdin. Each is a real
Python process against the loopback server; its workers must never run its code again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import MIB

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

Dataset = tuple[Path, list[DataFile]]

# No main guard: a worker that ran this again would append a second line, or (as spawn
# forbids starting processes while one starts up) die and fail its files.
SCRIPT = """\
import sys
from pathlib import Path
import asyncio
from evio_fetch.engine import fetch, fetch_async

here = Path({here!r})
with open(here / "side-effect.txt", "a") as log:
    log.write("ran\\n")
report = {call}
print(report)
sys.exit(0 if report.ok else 1)
"""


def command(how: str, here: Path, code: str) -> tuple[list[str], str | None]:
    """The command line for ``how``, and what goes to its stdin."""
    if how in ("file", "file, asyncio"):
        (here / "plain.py").write_text(code)
        return [sys.executable, str(here / "plain.py")], None
    if how == "module":
        (here / "plain_module.py").write_text(code)
        return [sys.executable, "-m", "plain_module"], None
    if how == "-c":
        return [sys.executable, "-c", code], None
    return [sys.executable, "-"], code


@pytest.mark.parametrize("how", ["file", "file, asyncio", "module", "-c", "stdin"])
def test_a_script_without_a_main_guard_runs_once_and_fetches_everything(
    how: str, dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    chosen = [f for f in files if 0 < f.size < 16 * MIB]  # several files, a few MiB
    arguments = f'{[server.url_for(f.path) for f in chosen]!r}, output_dir=here / "out", workers=2'
    # fetch_async starts the workers from a thread of its own, while the loop runs.
    call = f"asyncio.run(fetch_async({arguments}))" if "asyncio" in how else f"fetch({arguments})"
    code = SCRIPT.format(here=str(tmp_path), call=call)
    argv, stdin = command(how, tmp_path, code)
    run = subprocess.run(
        argv,
        cwd=tmp_path,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "side-effect.txt").read_text() == "ran\n"
    assert f"{len(chosen)} downloaded" in run.stdout
    assert len(chosen) >= 3
    for f in chosen:  # each lands under its server's name
        landed = tmp_path / "out" / Path(f.path).name
        assert landed.read_bytes() == (served / f.path).read_bytes(), f.path
