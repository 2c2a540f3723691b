"""The layout's guards: what is packaged, who may import what, and the installed wheel."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"evio_fetch.engine": REPO / "engine", "evio_fetch.cli": REPO / "cli"}


def source_packages() -> set[str]:
    found = set()
    for name, folder in FOLDERS.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((name, *relative)))
    return found


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_source_package_is_packaged() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == source_packages()
    assert config["package-dir"] == {k: v.name for k, v in FOLDERS.items()}


def test_no_bare_engine_or_cli_imports() -> None:
    for path in modules(REPO / "engine") + modules(REPO / "cli") + modules(REPO / "tests"):
        roots = {name.split(".")[0] for name in imports_of(path)}
        assert not roots & {"engine", "cli"}, path


@pytest.mark.parametrize("path", modules(REPO / "engine"), ids=lambda p: p.name)
def test_the_engine_knows_nothing_of_the_terminal(path: Path) -> None:
    roots = {name.split(".")[0] for name in imports_of(path)}
    in_loopback = path.parent.name == "loopback"
    assert "rich" not in roots, path
    assert not any(n.startswith("evio_fetch.cli") for n in imports_of(path)), path
    # The loopback servers are also small programs of their own (python -m ...).
    assert "argparse" not in roots or in_loopback, path
    assert "aiohttp" not in roots or path.name == "transport.py" or in_loopback, path


# What some systems lack: only engine/platform_io.py may use it, so that each choice between
# it and its fallback is made once, in one place.
PLATFORM_ONLY = {
    "posix_fallocate", "fdatasync", "fsync", "pwrite", "pread", "statvfs", "set_blocking",
    "O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC", "O_DIRECTORY", "O_BINARY",
}  # fmt: skip


def platform_calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in PLATFORM_ONLY
    }
    return used | (imports_of(path) & {"fcntl", "msvcrt"})


@pytest.mark.parametrize(
    "path", modules(REPO / "engine") + modules(REPO / "cli"), ids=lambda p: p.name
)
def test_only_the_platform_layer_uses_what_some_systems_lack(path: Path) -> None:
    if path.name == "platform_io.py":
        assert {"posix_fallocate", "fcntl", "msvcrt"} <= platform_calls(path)
    else:
        assert platform_calls(path) == set(), path


def test_installed_wheel_runs(tmp_path: Path) -> None:
    """Build a wheel from this checkout, install it alone into a new environment (its
    dependencies borrowed from this one), and run both console scripts from outside the repo."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    where_in_env = {"base": str(env_dir), "platbase": str(env_dir)}
    site = Path(sysconfig.get_path("purelib", vars=where_in_env))
    scripts = Path(sysconfig.get_path("scripts", vars=where_in_env))  # bin/, or Scripts\
    python = scripts / Path(sys.executable).name
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(next(wheels.glob("*.whl"))),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    # Dependencies come from this environment, added only now so that pip above could not
    # mistake a copy of evio-fetch installed here for the wheel.
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    for name in ("evio-fetch", "download-datasets"):
        shown = subprocess.run(
            [str(scripts / name), "--help"],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            timeout=60,
            env={**os.environ, "PYTHONPATH": ""},
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"usage: {name} ") and "--segments" in shown.stdout
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import evio_fetch.engine.worker as w, evio_fetch.cli.main as m;"
            "print(w.__file__); print(m.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert all(line.startswith(str(env_dir)) for line in where.stdout.splitlines())
    assert not (site / "engine").exists() and not (site / "cli").exists()


def test_docs_list_every_error_code() -> None:
    from evio_fetch.engine.errors import ALL_ERRORS  # noqa: PLC0415

    documented = (REPO / "docs" / "errors.md").read_text()
    rows = {
        line.split("|")[1].strip(" `") for line in documented.splitlines() if line.startswith("| `")
    }
    codes = {error.code for error in ALL_ERRORS} | {"interrupted", "internal"}
    assert rows == codes
    for error in ALL_ERRORS:
        assert f"| `{error.code}` | {error.exit_status} |" in documented


def test_the_parent_never_imports_the_http_client() -> None:
    """The command line starts fast: only worker processes load aiohttp and uvloop."""
    probe = (
        "import sys, evio_fetch.cli.main, evio_fetch.engine.runner; "
        "print(sorted(m for m in ('aiohttp', 'uvloop') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=Path("/")
    )
    assert shown.stdout.strip() == "[]"


def test_the_engine_package_and_its_api_import_light() -> None:
    """``import evio_fetch.engine`` loads none of its modules; its API (``fetch`` …) loads
    the parent's side of a run only: no HTTP client, no terminal library."""
    probe = (
        "import sys, evio_fetch.engine as e; "
        "print(sorted(m for m in sys.modules if m.startswith('evio_fetch.engine.'))); "
        "from evio_fetch.engine import *; "
        "assert all(getattr(e, name) is not None for name in e.__all__); "
        "print(sorted(m for m in ('aiohttp', 'uvloop', 'rich') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=Path("/")
    )
    assert shown.stdout.split("\n")[:2] == ["[]", "[]"]


def test_the_design_names_every_module() -> None:
    """docs/design.md describes every part that exists: a module it does not name fails this
    (``loopback/`` modules by that path, the others by their file's name)."""
    design = (REPO / "docs" / "design.md").read_text()
    unnamed = []
    for path in modules(REPO / "engine") + modules(REPO / "cli"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        name = f"loopback/{path.name}" if path.parent.name == "loopback" else path.name
        if not re.search(rf"(?<!\w){re.escape(name)}", design):
            unnamed.append(str(path.relative_to(REPO)))
    assert unnamed == [], "docs/design.md does not name these modules"
