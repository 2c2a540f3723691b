"""Test-only: runs evio-fetch as on a system without some of Linux's calls.

Python imports ``sitecustomize`` at start-up from its path, so with this folder on
``PYTHONPATH`` every process of a test run (pytest itself, the command it starts, and the
worker processes that command spawns) first removes from the ``os`` module each name listed,
comma-separated, in ``EVIO_TEST_REMOVE_OS``. evio-fetch then chooses its fallbacks exactly
as it does where those calls do not exist (engine/platform_io.py):

    PYTHONPATH=tests/without_os EVIO_TEST_REMOVE_OS=posix_fallocate,fdatasync .venv/bin/pytest

runs the suite as on macOS, which has neither. Nothing in evio-fetch reads the variable."""

import os

for _name in os.environ.get("EVIO_TEST_REMOVE_OS", "").split(","):
    if _name.strip() and hasattr(os, _name.strip()):
        delattr(os, _name.strip())
