"""Shared fixtures: generated data served by the project's loopback server on 127.0.0.1;
every test's environment free of the machine's proxies and netrc; the platform a test
needs; and what the run's platform layer chose."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIXED_SIZES

from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread
from evio_fetch.engine.platform_io import PLATFORM

# Markers for tests that need what only some systems have. Elsewhere such a test is skipped,
# naming the reason; on Linux none of them ever is.
PLATFORM_NEEDS = {
    "posix": (os.name == "posix", "POSIX signals, process groups or FIFOs"),
    "linux": (sys.platform.startswith("linux"), "Linux (/proc, a loop-mounted ext4 image)"),
}


def pytest_configure(config: pytest.Config) -> None:
    removed = [n for n in os.environ.get("EVIO_TEST_REMOVE_OS", "").split(",") if n.strip()]
    kept = [name for name in removed if hasattr(os, name.strip())]
    if kept:
        pytest.exit(
            f"EVIO_TEST_REMOVE_OS names {', '.join(kept)}, still in os: put tests/without_os "
            "on PYTHONPATH too (see docs/development.md)",
            returncode=4,
        )


def pytest_report_header() -> str:
    return f"evio-fetch platform io: {PLATFORM.describe()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker, (present, what) in PLATFORM_NEEDS.items():
            if item.get_closest_marker(marker) and not present:
                item.add_marker(pytest.mark.skip(reason=f"needs {what}; not on {sys.platform}"))


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DataFile]]:
    root = tmp_path_factory.mktemp("served")
    return root, generate(root, MIXED_SIZES, seed=7)


@pytest.fixture
def server(dataset: tuple[Path, list[DataFile]]) -> Iterator[ServerThread]:
    with ServerThread(dataset[0], ServerConfig()) as running:
        yield running


@pytest.fixture(autouse=True)
def no_outside_network_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A developer's HTTP_PROXY or ~/.netrc must not reach the tests' loopback servers (nor
    the commands they start): tests that want them set their own."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NETRC", str(tmp_path_factory.getbasetemp() / "no-netrc"))
