"""The command an interrupted run shows for resuming: as typed, resumable, nothing secret."""

from __future__ import annotations

import pytest

from evio_fetch.cli.rerun import rerun_command


@pytest.mark.parametrize(
    ("words", "shown", "hidden"),
    [
        ([], "evio-fetch", False),
        (
            ["-o", "data dir", "https://e.org/a.bin"],
            "evio-fetch -o 'data dir' https://e.org/a.bin",
            False,
        ),
        (
            ["--manifest", "m.json", "--segments", "8", "--yes"],
            "evio-fetch --manifest m.json --segments 8 --yes",
            False,
        ),
        # --no-resume (or an abbreviation) would throw away what was kept.
        (["--no-resume", "u"], "evio-fetch u", False),
        (["--no-res", "u"], "evio-fetch u", False),
        # Secrets: a header's value, a URL's password and query values, a proxy's password.
        (
            ["--header", "Authorization: Bearer T0k"],
            "evio-fetch --header 'Authorization: ***'",
            True,
        ),
        (["--header=Cookie: s=1", "u"], "evio-fetch '--header=Cookie: ***' u", True),
        (["--head", "X-Key: v"], "evio-fetch --head 'X-Key: ***'", True),
        (["https://alice:pw@e.org/a.bin"], "evio-fetch 'https://***@e.org/a.bin'", True),
        (["https://e.org/a.bin?sig=abc"], "evio-fetch 'https://e.org/a.bin?sig=***'", True),
        (
            ["--proxy", "http://bob:pw@p:3128", "u"],
            "evio-fetch --proxy 'http://***@p:3128' u",
            True,
        ),
        (["--proxy", "bob:pw@p:3128", "u"], "evio-fetch --proxy '***@p:3128' u", True),
        (["--proxy", "p:3128", "u"], "evio-fetch --proxy p:3128 u", False),
        (["--proxy=", "u"], "evio-fetch --proxy= u", False),
    ],
)
def test_rerun_command(words: list[str], shown: str, hidden: bool) -> None:
    assert rerun_command("evio-fetch", words) == (shown, hidden)


def test_no_secret_survives() -> None:
    words = [
        "--header",
        "Authorization: S3cret",
        "--proxy",
        "u:S3cret@p:1",
        "https://u:S3cret@h/x?k=S3cret",
    ]
    shown, hidden = rerun_command("download-datasets", words)
    assert "S3cret" not in shown and hidden
    assert shown.startswith("download-datasets ")
