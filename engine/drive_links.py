"""Recognise the Google Drive links and IDs people paste (drive/NOTES.md §2).

Pure: no network. A link is reduced to the file ID, the resource key a link-shared file may
need, and what kind of thing it names, because only plain files have bytes at ``/uc``:
folders must be listed and Google-native documents exported.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, urlsplit

import msgspec

Kind = Literal["file", "folder", "document"]

# Drive IDs use the URL-safe base64 alphabet. re.ASCII keeps \w from admitting letters that
# Drive never issues (and that could smuggle look-alike characters into a URL).
_ID = re.compile(r"[-\w]{10,}", re.ASCII)
# A bare argument must be longer to count as an ID, so short words are not taken for one.
_BARE_ID = re.compile(r"[-\w]{20,}", re.ASCII)
_RESOURCE_KEY = re.compile(r"[-\w]+", re.ASCII)
_ACCOUNT_INDEX = re.compile(r"[0-9]+")

_DRIVE_HOSTS = frozenset({"drive.google.com", "docs.google.com", "drive.usercontent.google.com"})
# Pasted without a scheme ("drive.google.com/file/d/…"): still unmistakably a Drive link.
_SCHEMELESS = tuple(f"{host}/" for host in _DRIVE_HOSTS)

# Google-native types with a well-known binary export; others (forms, drawings, …) have none.
_EXPORT_FORMATS = {"document": "docx", "spreadsheets": "xlsx", "presentation": "pptx"}
_NATIVE_TYPES = frozenset({*_EXPORT_FORMATS, "drawings", "forms"})

# Path endings of links that carry the ID in the query string.
_QUERY_ID_FILE = frozenset({("uc",), ("open",), ("download",)})
_QUERY_ID_FOLDER = frozenset({("folderview",)})


class DriveRef(msgspec.Struct, frozen=True):
    id: str
    resource_key: str | None
    kind: Kind
    export_url: str | None


def parse_drive_link(text: str) -> DriveRef | None:
    """The Drive item ``text`` names, or None when it is not a Drive link or ID."""
    text = text.strip()
    if _BARE_ID.fullmatch(text):
        return DriveRef(text, None, "file", None)
    url = _split_drive_url(text)
    if url is None:
        return None
    query = _query(url.query)
    resource_key = _valid_key(query.get("resourcekey"))
    return _from_path(_path_parts(url.path), query, resource_key)


def _split_drive_url(text: str) -> SplitResult | None:
    if text.lower().startswith(_SCHEMELESS):
        text = "https://" + text
    try:
        url = urlsplit(text)
        host = url.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket: not a Drive link anyway
        return None
    if url.scheme.lower() not in ("http", "https") or host not in _DRIVE_HOSTS:
        return None
    return url


def _query(query: str) -> dict[str, str]:
    # The first value wins, and names are matched without case: links get hand-edited.
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        found.setdefault(name.lower(), value)
    return found


def _valid_key(value: str | None) -> str | None:
    # A malformed key is dropped rather than forwarded into a URL or a header.
    if value and _RESOURCE_KEY.fullmatch(value):
        return value
    return None


def _path_parts(path: str) -> tuple[str, ...]:
    """The path's segments without the account index (``u/0``) or Workspace (``a/DOMAIN``)."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "a":
        parts = parts[2:]
    kept: list[str] = []
    for part in parts:
        if kept and kept[-1] == "u" and _ACCOUNT_INDEX.fullmatch(part):
            kept.pop()
        else:
            kept.append(part)
    return tuple(kept)


def _from_path(parts: tuple[str, ...], query: dict[str, str], key: str | None) -> DriveRef | None:
    if parts in _QUERY_ID_FILE:
        return _ref(query.get("id"), key, "file")
    if parts in _QUERY_ID_FOLDER:
        return _ref(query.get("id"), key, "folder")
    if len(parts) >= 3 and parts[:2] == ("drive", "folders"):
        return _ref(parts[2], key, "folder")
    if len(parts) >= 3 and parts[0] == "file" and parts[1] == "d":
        return _ref(parts[2], key, "file")
    if len(parts) >= 3 and parts[0] in _NATIVE_TYPES and parts[1] == "d":
        return _document(parts, key)
    return None


def _document(parts: tuple[str, ...], key: str | None) -> DriveRef | None:
    native, _, doc_id, *rest = parts
    # An export link already names the bytes: it is an ordinary download URL, not a document.
    if rest[:1] == ["export"]:
        return None
    fmt = _EXPORT_FORMATS.get(native)
    ref = _ref(doc_id, key, "document")
    if ref is None or fmt is None:
        return ref
    export = f"https://docs.google.com/{native}/d/{ref.id}/export?format={fmt}"
    return DriveRef(ref.id, ref.resource_key, ref.kind, export)


def _ref(drive_id: str | None, key: str | None, kind: Kind) -> DriveRef | None:
    if drive_id is None or _ID.fullmatch(drive_id) is None:
        return None
    return DriveRef(drive_id, key, kind, None)
