"""Shared fixtures: generated data served by the project's loopback server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIXED_SIZES

from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DataFile]]:
    root = tmp_path_factory.mktemp("served")
    return root, generate(root, MIXED_SIZES, seed=7)


@pytest.fixture
def server(dataset: tuple[Path, list[DataFile]]) -> Iterator[ServerThread]:
    with ServerThread(dataset[0], ServerConfig()) as running:
        yield running
