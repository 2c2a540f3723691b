"""What the fault server of faults.py reads and writes: request heads, and the bytes of the
answer to one, as nginx would give it and then as a fault bends it."""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fault_kinds import ClaimSize, Fault, HugeHeader, IgnoreRange, Status, Unsized, WrongRange

from evio_fetch.engine.loopback.http_common import (
    Span,
    content_range,
    http_date,
    if_range_holds,
    nginx_error_page,
    reason_phrase,
    unsatisfied_range,
)

LAST_MODIFIED = http_date(1_700_000_000)

GzipMode = Literal["never", "negotiated", "always"]
"""``negotiated``: a whole-file 200 is gzip-encoded when the request accepts gzip (a Range
request or ``Accept-Encoding: identity`` gets the plain bytes); ``always``: every GET is
answered 200 with the gzip-encoded whole file, whatever was asked (a misbehaving server)."""


@dataclass
class Entry:
    data: bytes
    etag: str
    faults: tuple[Fault, ...]
    gzip: GzipMode
    # While not set, requests wait before they are answered (set by the test's thread).
    gate: threading.Event | None = None
    count: int = 0
    _encoded: bytes | None = None

    def fault_for(self, number: int) -> Fault | None:
        return next((f for f in self.faults if f.applies(number)), None)

    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = gzip.compress(self.data, compresslevel=1, mtime=0)
        return self._encoded


def payload(path: str, size: int) -> bytes:
    """The bytes a path of ``size`` serves: the same on every run and machine."""
    return random.Random(f"evio-fetch faults {path}").randbytes(size)


# Requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def parse_request(head: bytes) -> Request | None:
    """The request line and headers of one request head (ending in CRLFCRLF), else None."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            return None
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return Request(parts[0], parts[1], parts[2], headers)


def parse_range(value: str, size: int) -> Span | Literal["whole", "unsatisfiable"]:
    """One ``bytes=a-b``, ``a-`` or ``-n`` range as (first, last); anything else: the whole.

    Not the loopback server's parser: this one takes numbers of any length, so a range that
    starts far past the end is unsatisfiable where that one calls it malformed.
    """
    unit, equals, spec = value.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return "whole"
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if not dash or not (first or last) or not all(p.isdigit() for p in (first, last) if p):
        return "whole"
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - length), size - 1)
    start = int(first)
    if last and int(last) < start:
        return "whole"
    if start >= size:
        return "unsatisfiable"
    return (start, size - 1 if not last else min(int(last), size - 1))


def _accepts_gzip(request: Request) -> bool:
    for item in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            quality = params.strip().lower().removeprefix("q=")
            return not params.strip() or quality.strip() not in ("0", "0.0", "0.00", "0.000")
    return False


# Answers ------------------------------------------------------------------------------------


def head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def page(status: int) -> bytes:
    return nginx_error_page(status).encode()


def retry_after(fault: Status) -> str:
    assert fault.retry_after is not None
    if fault.as_date:
        return http_date(time.time() + fault.retry_after)
    return f"{fault.retry_after:g}"


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: memoryview


def answer(entry: Entry, request: Request, fault: Fault | None) -> Answer:
    """The normal answer (as nginx would give it), bent by the range and header faults."""
    headers = [
        ("Date", http_date()),
        ("Content-Type", "application/octet-stream"),
        ("Last-Modified", LAST_MODIFIED),
    ]
    if isinstance(fault, HugeHeader):
        headers.append(("X-Padding", "p" * fault.size))
    negotiated = "range" not in request.headers and _accepts_gzip(request)
    if (entry.gzip == "always" and request.method == "GET") or (
        entry.gzip == "negotiated" and negotiated
    ):
        encoded = entry.encoded()
        headers += [
            ("ETag", entry.etag[:-1] + '-gz"'),
            ("Content-Encoding", "gzip"),
            ("Vary", "Accept-Encoding"),
            ("Content-Length", str(len(encoded))),
        ]
        return Answer(200, headers, memoryview(encoded))
    headers.append(("ETag", entry.etag))
    if entry.gzip != "never":
        headers.append(("Vary", "Accept-Encoding"))
    return _plain_answer(entry, request, fault, headers)


def _shifted(first: int, last: int, size: int, shift: int) -> Span:
    """Other bytes than ``first``..``last``: as many, ``shift`` later or earlier; fewer, from
    ``shift`` later, when the range spans the whole file."""
    if last + shift < size:
        return first + shift, last + shift
    if first >= shift:
        return first - shift, last - shift
    return min(first + shift, last), last


def _plain_answer(
    entry: Entry, request: Request, fault: Fault | None, headers: list[tuple[str, str]]
) -> Answer:
    data = entry.data
    size = len(data)
    choice: Span | Literal["whole", "unsatisfiable"] = "whole"
    asked = request.headers.get("range")
    honoured = if_range_holds(request.headers.get("if-range"), (entry.etag, LAST_MODIFIED))
    ignored = isinstance(fault, IgnoreRange | Unsized)
    if request.method == "GET" and asked is not None and honoured and not ignored:
        choice = parse_range(asked, size)
    if choice == "unsatisfiable":
        refusal = page(416)
        headers += [
            ("Content-Range", unsatisfied_range(size)),
            ("Content-Length", str(len(refusal))),
        ]
        return Answer(416, headers, memoryview(refusal))
    if isinstance(fault, Unsized):
        return Answer(200, headers, memoryview(data))
    if choice == "whole":
        headers += [("Accept-Ranges", "bytes"), ("Content-Length", str(size))]
        return Answer(200, headers, memoryview(data))
    first, last = choice
    if isinstance(fault, WrongRange):
        first, last = _shifted(first, last, size, fault.shift)
    total = fault.total if isinstance(fault, ClaimSize) else size
    headers += [
        ("Content-Range", content_range(first, last, total)),
        ("Content-Length", str(last + 1 - first)),
    ]
    return Answer(206, headers, memoryview(data)[first : last + 1])
