"""What a request carries to say who asks: the user's ``--header``s and credentials, for the
source's own origin only.

Pure: no I/O. A source's *origin* is the scheme, host and port of the URL the user gave (for a
Drive file, of the first Drive URL asked). Every request to that origin, after a redirect
back to it too, carries:

- the ``--header``s, as given;
- an ``Authorization`` from the URL's ``user:password@``, else from the netrc entry for its
  host (``machine``, else ``default``); a ``--header 'Authorization: …'`` wins over both.

A request to any other origin, where a redirect leads, carries none of it: only credentials
of its own, from its own URL's ``user:password@`` or from a netrc ``machine`` entry naming
its host (never the ``default`` one), as wget and pip do. Cookies follow their own rule
(the cookie jar's domains), and the proxy's credentials go to the proxy alone.

Header values are secrets: messages name a header, never its value.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from evio_fetch.engine.errors import UsageError

Header = tuple[str, str]

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9110 token characters: what a field name is made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A field value holds no control character but horizontal tab (RFC 9110 section 5.5).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Headers evio-fetch owns: a user's value would break ranges, sizes or the connection.
RESERVED = {
    "accept-encoding": "bodies are asked for and stored exactly as served",
    "connection": "connections are managed by evio-fetch",
    "content-length": "requests carry no body",
    "if-range": "evio-fetch sends it on resume",
    "proxy-authorization": "give the proxy's credentials in its URL: "
    "--proxy http://USER:PASSWORD@HOST:PORT",
    "range": "evio-fetch asks for ranges itself",
    "transfer-encoding": "requests carry no body",
}
_FORM = "give it as 'Name: value', e.g. --header 'Authorization: Bearer TOKEN'"


class Login(NamedTuple):
    user: str
    password: str


@dataclass(frozen=True)
class Logins:
    """A netrc file's credentials: per host (lower case), and its ``default`` entry."""

    machines: Mapping[str, Login] = field(default_factory=dict)
    default: Login | None = None


def parse_header(text: str, where: str) -> Header:
    """``Name: value`` as a header, checked (see ``check_header``); ``where`` names it in
    messages (``--header #2``), since the text itself may be a secret."""
    name, colon, value = text.partition(":")
    if not colon:
        raise UsageError(f"{where} has no ':' between a name and a value", _FORM)
    return check_header(name, value, where)


def check_header(name: str, value: str, where: str) -> Header:
    """The header with its value's surrounding blanks trimmed. Raises UsageError for a name
    that is not a field name, a value with a line break or control character, or a header
    evio-fetch sets itself; the message shows the name only when it is one."""
    name, value = name.strip(), value.strip(" \t")
    if not _TOKEN.fullmatch(name):
        raise UsageError(
            f"{where}: the part before ':' is not a header name "
            "(letters, digits and !#$%&'*+-.^_`|~ only)",
            _FORM,
        )
    if _CONTROL.search(value):
        raise UsageError(
            f"{where} ({name}): its value holds a line break or control character",
            "give the value on one line",
        )
    reason = RESERVED.get(name.lower())
    if reason is not None:
        raise UsageError(f"{where} ({name}): evio-fetch sets this header itself", reason)
    return name, value


def parse_headers(texts: Iterable[str]) -> tuple[Header, ...]:
    """The ``--header`` options in order, each checked; named ``--header #N`` in messages."""
    return tuple(parse_header(text, f"--header #{n}") for n, text in enumerate(texts, 1))


def origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port (the scheme's default when the URL states none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or DEFAULT_PORTS.get(scheme, 0)


def without_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` (sent as a header instead, where it may go)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def access_headers(url: str, home: str, custom: Sequence[Header], logins: Logins) -> list[Header]:
    """The headers a request for ``url`` adds for a source whose URL is ``home`` (see the
    module's rule)."""
    at_home = origin(url) == origin(home)
    headers = list(custom) if at_home else []
    if any(name.lower() == "authorization" for name, _ in headers):
        return headers
    login = _url_login(url) or (_url_login(home) if at_home else None)
    if login is None:
        login = _netrc_login(origin(url)[1], logins, at_home)
    if login is not None:
        headers.append(("Authorization", basic_authorization(login)))
    return headers


def basic_authorization(login: Login) -> str:
    token = base64.b64encode(f"{login.user}:{login.password}".encode()).decode("ascii")
    return f"Basic {token}"


def _url_login(url: str) -> Login | None:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return None
    return Login(unquote(parts.username or ""), unquote(parts.password or ""))


def _netrc_login(host: str, logins: Logins, at_home: bool) -> Login | None:
    found = logins.machines.get(host.lower())
    if found is None and at_home:
        found = logins.default
    return found
