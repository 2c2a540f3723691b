"""While a worker starts, spawn sees a main module with neither a file nor a name; the caller's
own is back as soon as the start is over, however it ends."""

from __future__ import annotations

import multiprocessing.spawn
import sys

import pytest

from evio_fetch.engine.hidden_main import main_hidden


def test_spawn_is_given_nothing_to_import_and_the_main_module_comes_back() -> None:
    real = sys.modules["__main__"]
    # pytest's own main module has a file (or a module name) that spawn would import again.
    named = multiprocessing.spawn.get_preparation_data("worker")
    assert "init_main_from_path" in named or "init_main_from_name" in named
    with main_hidden():
        prepared = multiprocessing.spawn.get_preparation_data("worker")
    assert "init_main_from_path" not in prepared and "init_main_from_name" not in prepared
    assert sys.modules["__main__"] is real
    with pytest.raises(RuntimeError, match="failed"), main_hidden():
        raise RuntimeError("the start failed")
    assert sys.modules["__main__"] is real
