"""What each request carries for the user: --headers and credentials go to the source's own
origin (scheme, host and port) alone; elsewhere only credentials of that host's own."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from evio_fetch.engine.credentials import (
    Login,
    Logins,
    access_headers,
    parse_header,
    parse_headers,
    without_userinfo,
)
from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.netrc_file import load_logins

HOME = "https://data.example.org/set/a.bin"
TOKEN = ("X-Token", "t0k3n")
NETRC = Logins(
    machines={"data.example.org": Login("net", "rc"), "cdn.example.net": Login("cdn", "pw")},
    default=Login("any", "one"),
)


def basic(user: str, password: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


ACCESS = [
    # (request URL, source URL, netrc, expected headers)
    (HOME, HOME, Logins(), [TOKEN]),
    ("https://data.example.org/other", HOME, Logins(), [TOKEN]),  # same origin, other path
    ("https://data.example.org:443/x", HOME, Logins(), [TOKEN]),  # the default port stated
    ("http://data.example.org/x", HOME, Logins(), []),  # another scheme
    ("https://data.example.org:8443/x", HOME, Logins(), []),  # another port
    ("https://cdn.example.net/x", HOME, Logins(), []),  # another host
    (HOME, HOME, NETRC, [TOKEN, basic("net", "rc")]),
    ("https://cdn.example.net/x", HOME, NETRC, [basic("cdn", "pw")]),  # its own machine entry
    ("https://elsewhere.org/x", HOME, NETRC, []),  # never the default entry elsewhere
    ("https://other.org/x", "https://other.org/x", NETRC, [TOKEN, basic("any", "one")]),
    ("https://u:p%40ss@data.example.org/x", HOME, NETRC, [TOKEN, basic("u", "p@ss")]),
    # The source's URL credentials go to its origin, also to URLs that do not repeat them.
    (
        "https://data.example.org/x",
        "https://u:pw@data.example.org/a",
        NETRC,
        [TOKEN, basic("u", "pw")],
    ),
    ("https://cdn.example.net/x", "https://u:pw@data.example.org/a", Logins(), []),
]


@pytest.mark.parametrize(("url", "home", "logins", "expected"), ACCESS)
def test_access_headers(
    url: str, home: str, logins: Logins, expected: list[tuple[str, str]]
) -> None:
    assert access_headers(url, home, [TOKEN], logins) == expected


def test_a_given_authorization_header_wins() -> None:
    given = [("Authorization", "Bearer abc")]
    home = "https://u:pw@data.example.org/a"
    assert access_headers(home, home, given, NETRC) == given


def test_without_userinfo() -> None:
    assert without_userinfo("https://u:p@h:1/a?b=c") == "https://h:1/a?b=c"
    assert without_userinfo("https://h/a@b") == "https://h/a@b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc", ("Authorization", "Bearer abc")),
        ("X-Empty:", ("X-Empty", "")),
        ("  X-Pad :\t v a l \t", ("X-Pad", "v a l")),
        ("Cookie: a=b; c=d", ("Cookie", "a=b; c=d")),
        ("X-Colons: a:b:c", ("X-Colons", "a:b:c")),
    ],
)
def test_parse_header(text: str, expected: tuple[str, str]) -> None:
    assert parse_header(text, "--header #1") == expected


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["X-Ok: 1", "Bearer S3cretValue"], "--header #2 has no ':'"),
        (["Bearer S3cretValue: x"], "--header #1: the part before ':' is not a header name"),
        (["X-Token: S3cret\r\nX-Evil: 1"], "--header #1 (X-Token): its value holds a line break"),
        (["X-Token: S3cret\x00"], "--header #1 (X-Token): its value holds"),
        (["range: bytes=0-"], "--header #1 (range): evio-fetch sets this header itself"),
        (["Proxy-Authorization: Basic S3cret"], "--header #1 (Proxy-Authorization): evio-fetch"),
    ],
)
def test_bad_headers_are_named_without_their_value(texts: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_headers(texts)
    assert raised.value.message.startswith(message)
    assert "S3cret" not in raised.value.message + raised.value.hint


def test_netrc_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "netrc"
    path.write_text(
        "machine Data.Example.org login net password rc\ndefault login any password one\n"
    )
    logins, problem = load_logins({"NETRC": str(path)})
    assert problem is None
    assert logins == Logins({"data.example.org": Login("net", "rc")}, Login("any", "one"))


def test_netrc_missing_means_no_credentials(tmp_path: Path) -> None:
    assert load_logins({"NETRC": str(tmp_path / "absent")}) == (Logins(), None)


def test_a_broken_netrc_is_named_by_line_without_its_tokens(tmp_path: Path) -> None:
    path = tmp_path / "netrc"
    path.write_text("machine a login u password p\nmachine b login u password my S3cret\n")
    logins, problem = load_logins({"NETRC": str(path)})
    assert logins == Logins()
    assert (
        problem is not None
        and f"{path}: cannot be parsed near line" in problem
        and "S3cret" not in problem
    )
