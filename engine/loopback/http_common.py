"""The pieces of HTTP the loopback servers share: dates, single byte ranges, error pages."""

from __future__ import annotations

import re
from collections.abc import Collection
from email.utils import formatdate
from http import HTTPStatus
from typing import Literal

Span = tuple[int, int]
"""First and last byte of a range, both inclusive."""
RangeAnswer = Span | Literal["whole", "unsatisfiable"]

# Longer numbers are treated as malformed rather than risking int()'s digit limit.
_RANGE = re.compile(r"bytes\s*=\s*([0-9]{0,30})\s*-\s*([0-9]{0,30})\s*", re.IGNORECASE)


def http_date(stamp: float | None = None) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), of now when ``stamp`` is None."""
    return formatdate(stamp, usegmt=True)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def nginx_error_page(status: int) -> str:
    # An HTML page like nginx's, so clients meet the same kind of error body as in the wild.
    title = f"{status} {reason_phrase(status)}"
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"


def requested_range(
    header: str | None, if_range: str | None, validators: Collection[str], size: int
) -> RangeAnswer:
    """What a GET with these Range and If-Range values gets, for a file of ``size`` bytes
    whose current validators (ETag, Last-Modified) are ``validators``."""
    if header is None or not if_range_holds(if_range, validators):
        return "whole"
    return parse_range(header, size)


def if_range_holds(value: str | None, validators: Collection[str]) -> bool:
    # A validator that differs in any way (including a weak ETag) means the client's
    # partial copy may be stale, so it must get the whole file.
    return value is None or value.strip() in validators


def parse_range(header: str, size: int) -> RangeAnswer:
    """What nginx does with a Range header for a file of ``size`` bytes.

    One range is served as 206; several ranges or anything malformed get the whole file;
    a range that starts at or past the end (or a suffix of zero bytes) is unsatisfiable.
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return "whole"
    first, last = match.groups()
    if not first:
        return _suffix_range(last, size)
    start = int(first)
    if last and int(last) < start:
        return "whole"
    if start >= size:
        return "unsatisfiable"
    end = size - 1 if not last else min(int(last), size - 1)
    return (start, end)


def _suffix_range(last: str, size: int) -> RangeAnswer:
    if not last:
        return "whole"
    length = int(last)
    if length == 0 or size == 0:
        return "unsatisfiable"
    return (max(0, size - length), size - 1)


def content_range(first: int, last: int, size: int) -> str:
    """The Content-Range of a 206 carrying bytes ``first`` to ``last`` (inclusive)."""
    return f"bytes {first}-{last}/{size}"


def unsatisfied_range(size: int) -> str:
    """The Content-Range of a 416."""
    return f"bytes */{size}"
