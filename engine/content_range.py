"""Reading the headers that say which bytes a response carries. Pure.

Content-Range has one fixed shape (RFC 9110 §14.4) and no parser in the standard library;
a single anchored pattern reads it exactly and refuses everything else."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


class ContentRange(NamedTuple):
    """``first``..``last`` inclusive, of ``total`` (None when the server does not say);
    ``first`` and ``last`` are None for the unsatisfied form ``bytes */N``."""

    first: int | None
    last: int | None
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    if value is None:
        return None
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None
    first, last, total = match.groups()
    size = None if total == "*" else int(total)
    if first is None:
        return ContentRange(None, None, size)
    lo, hi = int(first), int(last)
    if hi < lo or (size is not None and hi >= size):
        return None
    return ContentRange(lo, hi, size)


def content_length(headers: Mapping[str, str]) -> int | None:
    """The body length the headers promise, or None (absent or malformed). Bodies are stored as
    served, never decoded, so the length holds whatever Content-Encoding says."""
    raw = headers.get("Content-Length")
    if raw is None or not raw.strip().isascii() or not raw.strip().isdigit():
        return None
    return int(raw)


def range_header(first: int, last: int | None) -> str:
    return f"bytes={first}-" if last is None else f"bytes={first}-{last}"
