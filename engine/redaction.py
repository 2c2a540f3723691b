"""Secrets out of what evio-fetch shows: URLs lose their credentials and query values before
they reach a label, a message, the display or the ``--json`` report (docs/json.md).

Pure: no I/O. The rule, for a URL:

- the user information (``user:password@`` or a token before ``@``) becomes ``***@``; a
  password with a ``/``, ``?`` or ``#`` in it (typed unencoded) is hidden whole too: when
  such a character comes before the first ``@`` and what precedes it is not a plain
  ``host:port``, everything from ``://`` to that ``@`` counts as user information;
- the value of every query parameter becomes ``***``; names stay, so a reader still sees what
  was sent (``?X-Amz-Signature=***``); a part without ``=`` becomes ``***`` whole;
- in a Google Drive link, the ``id`` parameter keeps its value: people know files by it
  (``resourcekey`` is hidden like any other value);
- scheme, host, port, path and fragment (never sent to a server) stay as they were.

``https://alice:pw@host:8443/data/a.bin?sig=abc`` is shown as
``https://***@host:8443/data/a.bin?sig=***``.
"""

from __future__ import annotations

import re

from evio_fetch.engine.drive_links import parse_drive_link

HIDDEN = "***"

# A URL inside free text: a scheme, ``://``, then anything up to whitespace or a quote or
# bracket that a message (or shlex, or a repr) put around it.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
# Punctuation a sentence puts after a URL ("…/a.bin: the server answered 404").
_TRAILING = ".,;:!?)]}"
# Query parameters whose value a Drive link keeps in sight.
_DRIVE_VISIBLE = frozenset({"id"})


def redact_url(url: str) -> str:
    """``url`` with its credentials and query values hidden (see the module). Text
    that is neither a URL (``scheme://…``) nor a Drive link, a local path say, is returned
    unchanged."""
    drive = parse_drive_link(url) is not None
    if "://" not in url and not drive:
        return url
    prefix, url = _split_userinfo(url)
    rest, hash_mark, fragment = url.partition("#")
    base, question, query = rest.partition("?")
    shown = prefix + base
    if question:
        shown += "?" + _hidden_query(query, _DRIVE_VISIBLE if drive else frozenset())
    return shown + hash_mark + fragment


def scrub_urls(text: str) -> str:
    """``text`` with every URL in it redacted; the rest unchanged."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    found = match.group(0)
    url = found.rstrip(_TRAILING)
    return redact_url(url) + found[len(url) :]


def _split_userinfo(url: str) -> tuple[str, str]:
    """(``scheme://***@``, the rest) when ``url`` carries user information, else ("", url)."""
    scheme, separator, rest = url.partition("://")
    at = rest.find("@")
    if not separator or at < 0:
        return "", url
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    if end < at and _HOST_PORT.fullmatch(rest[:end]):
        return "", url  # the "@" is in the path or the query: no user information
    if end > at:
        at = rest.rfind("@", 0, end)  # user information may hold "@" itself
    return f"{scheme}://{HIDDEN}@", rest[at + 1 :]


# What an authority without user information looks like: a name or address, maybe a port.
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:@\[\]]*)(:[0-9]*)?")


def _hidden_query(query: str, keep: frozenset[str]) -> str:
    return "&".join(_hidden_parameter(part, keep) for part in query.split("&"))


def _hidden_parameter(part: str, keep: frozenset[str]) -> str:
    if not part:
        return part
    name, equals, value = part.partition("=")
    if not equals:
        return HIDDEN
    if name.lower() in keep or not value:
        return part
    return f"{name}={HIDDEN}"
