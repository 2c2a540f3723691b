"""Fixtures of the adversarial tests: the hostile server, the directory planted beside the
output root, and the adversary that runs the command and checks the invariant after each run
(and once more when the test ends, whatever it did in between)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from adversary import Adversary, Outside
from faults import FaultServer
from invariant import changes, snapshot


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    return Outside(tmp_path / "outside")


@pytest.fixture
def adversary(tmp_path: Path, server: FaultServer, outside: Outside) -> Iterator[Adversary]:
    running = Adversary(tmp_path, server, outside)
    yield running
    if running.failed:
        return
    changed = changes(outside.before, snapshot(outside.path))
    assert not changed, "the directory beside the root changed:\n  " + "\n  ".join(changed)
