"""Every error reaches the user with a hint: the flag or action that helps."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from evio_fetch.engine.errors import ALL_ERRORS, EvioError, HTTPStatusError
from evio_fetch.engine.model import to_failure
from evio_fetch.engine.probe import status_error

ERRORS_MD = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


@pytest.mark.parametrize("kind", ALL_ERRORS, ids=lambda kind: kind.__name__)
def test_an_error_made_without_a_hint_has_its_codes_hint(kind: type[EvioError]) -> None:
    error = kind("x.bin: something went wrong")
    assert error.hint == kind.default_hint != ""
    assert to_failure(error).hint == kind.default_hint
    # A hint given where the error is made wins, and survives a trip between processes.
    precise = kind("x.bin: something went wrong", "pass --precise")
    assert pickle.loads(pickle.dumps(precise)).hint == "pass --precise"


@pytest.mark.parametrize("status", [400, 401, 404, 407, 408, 410, 418, 429, 500, 503])
def test_every_status_has_a_hint(status: int) -> None:
    error = status_error(status, {}, "http://h/a.bin")
    assert isinstance(error, HTTPStatusError) and error.hint


def test_errors_md_gives_every_code_a_hint() -> None:
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in ERRORS_MD.read_text().splitlines()
        if line.startswith("| `")
    ]
    hints = {re.sub(r"`", "", row[0]): row[-1] for row in rows}
    codes = {kind.code for kind in ALL_ERRORS} | {"interrupted", "internal"}
    assert codes <= set(hints)
    assert all(hints[code] for code in codes), {c: h for c, h in hints.items() if not h}
