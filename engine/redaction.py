"""Secrets out of what evio-fetch shows: URLs lose their credentials and query values before
they reach a label, a message, the display or the ``--json`` report (docs/json.md).

Pure: no I/O. The rule, for a URL:

- the user information (``user:password@`` or a token before ``@``) becomes ``***@``;
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
    """``url`` with its credentials, query values and fragment hidden (see the module). Text
    that is neither a URL (``scheme://…``) nor a Drive link, a local path say, is returned
    unchanged."""
    drive = parse_drive_link(url) is not None
    if "://" not in url and not drive:
        return url
    rest, hash_mark, fragment = url.partition("#")
    base, question, query = rest.partition("?")
    shown = _without_userinfo(base)
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


def _without_userinfo(base: str) -> str:
    scheme, separator, rest = base.partition("://")
    if not separator:
        return base
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = HIDDEN + "@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{path}"


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
