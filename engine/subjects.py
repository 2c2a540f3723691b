"""How a line names a file: once, first. A message says what happened to what, naming its
subject first (``SUBJECT: what happened``: a URL, a path, the file's label); a line about a
file puts the file's label in front, so a subject that repeats the label is dropped there,
in one place. ``a.bin: a.bin: SHA256 mismatch`` never reaches the screen.

Pure: text in, text out."""

from __future__ import annotations

import re

# A URL as a message's subject: a scheme, ``://`` and no space up to the ``: `` after it.
_URL_SUBJECT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*: ")


def without_subject(message: str, subject: str) -> str:
    """``message`` without a leading ``subject: ``."""
    prefix = f"{subject}: "
    return message[len(prefix) :] if subject and message.startswith(prefix) else message


def about(label: str, message: str) -> str:
    """The line ``label: message``, the label said once."""
    return f"{label}: {without_subject(message, label)}"


def what_happened(message: str, label: str) -> str:
    """The message without the subject it names first when that is the file's label or a
    URL: the short reason a row of the display has room for."""
    message = without_subject(message, label)
    match = _URL_SUBJECT.match(message)
    return message[match.end() :] if match else message
