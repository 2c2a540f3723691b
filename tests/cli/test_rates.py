"""``--max-speed`` as typed: the units people write, and one error line for the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_cli

SOURCE = "http://127.0.0.1:9/a.bin"  # never requested: every run here stops at the plan


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


@pytest.mark.parametrize(
    "rate", ["20M", "20MB", "20MiB", "20MB/s", "20MiB/s", "500K", "1.5G", "4096"]
)
def test_every_documented_form_is_accepted(tmp_path: Path, rate: str) -> None:
    result = run_cli("--max-speed", rate, "--dry-run", SOURCE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("rate", "words"),
    [
        ("fast", "such as 500K, 20M, 20MB/s"),
        ("20Mb", "a lowercase b means bits"),
        ("0", "such as 500K, 20M, 20MB/s"),
        ("1TB", "such as 500K, 20M, 20MB/s"),
    ],
)
def test_a_bad_rate_is_one_usage_error_with_an_example(
    tmp_path: Path, rate: str, words: str
) -> None:
    result = run_cli("--max-speed", rate, "--dry-run", SOURCE, cwd=tmp_path)
    assert result.returncode == 2
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"evio-fetch: error: argument --max-speed: invalid rate '{rate}'")
    assert words in errors[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_help_says_which_units_are_powers_of_1000(tmp_path: Path) -> None:
    shown = " ".join(run_cli("--help", cwd=tmp_path).stdout.split())
    assert "K, M, G, KiB, MiB, GiB: powers of 1024" in shown
    assert "kB, KB, MB, GB: powers of 1000" in shown
