"""--proxy, --header and --ca-bundle are checked before anything starts: a bad one is one error
line naming it (never a header's value or a proxy's password), a hint, and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_cli

SECRET = "S3cretV4lue"
URL = "http://127.0.0.1:9/a.bin"


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--header", f"Authorization Bearer {SECRET}"], {}, "--header #1 has no ':'"),
        (["--header", "X-A: 1", "--header", f"Bad Name: {SECRET}"], {}, "--header #2: the part"),
        (["--header", f"X-Token: {SECRET}\x01"], {}, "--header #1 (X-Token): its value"),
        (["--header", "Range: bytes=0-"], {}, "--header #1 (Range): evio-fetch sets"),
        (["--proxy", f"socks5://u:{SECRET}@h:1080"], {}, "--proxy socks5://***@h:1080: "),
        ([], {"HTTPS_PROXY": f"socks5h://u:{SECRET}@h:1080"}, "HTTPS_PROXY=socks5h://***@h:1080"),
        (["--ca-bundle", "no-such.pem"], {}, "--ca-bundle no-such.pem: no such file"),
    ],
)
def test_bad_reach_options_exit_2_naming_them(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    result = run_cli(*args, URL, cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"evio-fetch: error: {named}"), result.stderr
    assert len(lines) == 2 and lines[1].startswith("  hint: ")
    assert SECRET not in result.stderr + result.stdout


def test_manifest_command_takes_the_same_options(tmp_path: Path) -> None:
    result = run_cli("manifest", "--header", f"X {SECRET}", URL, cwd=tmp_path)
    assert result.returncode == 2
    assert "--header #1 has no ':'" in result.stderr and SECRET not in result.stderr
