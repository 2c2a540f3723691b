"""What the fault server of faults.py reads and writes: request heads, and the bytes of the
answer to one, as nginx would give it and then as a fault bends it."""

from __future__ import annotations

import gzip
import hashlib
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from fault_kinds import (
    Change,
    ClaimSize,
    Fault,
    HugeHeader,
    IgnoreRange,
    Status,
    Unframed,
    UnknownTotal,
    WrongRange,
)

from evio_fetch.engine.loopback.http_common import (
    Span,
    content_range,
    http_date,
    nginx_error_page,
    reason_phrase,
    unsatisfied_range,
)

MODIFIED_AT = 1_700_000_000
LAST_MODIFIED = http_date(MODIFIED_AT)

GzipMode = Literal["never", "negotiated", "always", "stored"]
"""``negotiated``: a whole-file 200 is gzip-encoded when the request accepts gzip (a Range
request or ``Accept-Encoding: identity`` gets the plain bytes); ``always``: every GET is
answered 200 with the gzip-encoded whole file, whatever was asked (a misbehaving server);
``stored``: the file itself is gzip data, labelled ``Content-Encoding: gzip`` on every answer
as Apache's ``AddEncoding gzip .gz`` does, its ranges, length and ETag those of the gzip
bytes."""


@dataclass(frozen=True)
class Validators:
    """What the server says about a file's version, and how it reads ``If-Range``."""

    etag: Literal["strong", "weak", "none"] = "strong"
    last_modified: bool = True
    if_range: Literal["honour", "ignore"] = "honour"
    """``honour``: as RFC 9110 §13.1.5 says (a weak or stale validator gets the whole file);
    ``ignore``: ranges are served whatever If-Range says."""


@dataclass
class Entry:
    """A registered path and the version of the file it serves now."""

    path: str
    size: int
    faults: tuple[Fault, ...]
    gzip: GzipMode
    validators: Validators = field(default_factory=Validators)
    headers: tuple[tuple[str, str], ...] = ()
    # While not set, requests wait before they are answered (set by the test's thread).
    gate: threading.Event | None = None
    # The path whose bytes it serves (a mirror's are another path's); None: its own.
    mirror_of: str | None = None
    count: int = 0
    # Requests seen with each query (each signature of a signed link).
    queries: dict[str, int] = field(default_factory=dict)
    version: int = 1
    previous: int | None = None
    sizes: dict[int, int] = field(default_factory=dict)
    """Every version the path has had, and its size (of the plain bytes)."""
    data: bytes = b""
    sha256: str = ""
    _encoded: bytes | None = None

    def __post_init__(self) -> None:
        self.sizes[self.version] = self.size
        self._load()

    def _load(self) -> None:
        self.data = version_bytes(self.mirror_of or self.path, self.version, self.size, self.gzip)
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self._encoded = None

    @property
    def etag(self) -> str | None:
        if self.validators.etag == "none":
            return None
        # A mirror tags the same bytes its own way, as another server would.
        tag = self.sha256 if self.mirror_of is None else _digest(f"{self.path} {self.sha256}")
        strong = f'"{tag[:20]}"'
        return "W/" + strong if self.validators.etag == "weak" else strong

    @property
    def last_modified(self) -> str | None:
        if not self.validators.last_modified:
            return None
        return http_date(MODIFIED_AT + 3600 * (self.version - 1))

    def fault_for(self, number: int) -> Fault | None:
        return next((f for f in self.faults if f.applies(number)), None)

    def change(self, fault: Change) -> None:
        """Become the next version (or, flipping, the one before)."""
        if fault.flip and self.previous is not None:
            self.version, self.previous = self.previous, self.version
        else:
            self.version, self.previous = max(self.sizes) + 1, self.version
            self.sizes[self.version] = fault.size if fault.size is not None else self.size
        self.size = self.sizes[self.version]
        self._load()

    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = gzip.compress(self.data, compresslevel=1, mtime=0)
        return self._encoded


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def payload(path: str, size: int) -> bytes:
    """The bytes a path of ``size`` serves: the same on every run and machine."""
    return random.Random(f"evio-fetch faults {path}").randbytes(size)


def version_bytes(path: str, version: int, size: int, mode: GzipMode) -> bytes:
    """What a path serves as its version ``version``: ``payload`` for the first, other bytes
    for each later one; gzip data of them when the file is stored compressed."""
    plain = payload(path if version == 1 else f"{path} version {version}", size)
    return gzip.compress(plain, compresslevel=1, mtime=0) if mode == "stored" else plain


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
    def query(self) -> str:
        return self.target.partition("?")[2]

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
    headers = [("Date", http_date()), ("Content-Type", "application/octet-stream")]
    if entry.last_modified is not None:
        headers.append(("Last-Modified", entry.last_modified))
    headers += entry.headers
    if isinstance(fault, HugeHeader):
        headers.append(("X-Padding", "p" * fault.size))
    negotiated = "range" not in request.headers and _accepts_gzip(request)
    if (entry.gzip == "always" and request.method == "GET") or (
        entry.gzip == "negotiated" and negotiated
    ):
        encoded = entry.encoded()
        if entry.etag is not None:
            headers.append(("ETag", entry.etag[:-1] + '-gz"'))
        headers += [
            ("Content-Encoding", "gzip"),
            ("Vary", "Accept-Encoding"),
            ("Content-Length", str(len(encoded))),
        ]
        return Answer(200, headers, memoryview(encoded))
    if entry.etag is not None:
        headers.append(("ETag", entry.etag))
    if entry.gzip == "stored":
        headers.append(("Content-Encoding", "gzip"))
    elif entry.gzip != "never":
        headers.append(("Vary", "Accept-Encoding"))
    plain = _plain_answer(entry, request, fault, headers)
    if isinstance(fault, Unframed):
        plain.headers = [(n, v) for n, v in plain.headers if n != "Content-Length"]
    return plain


def if_range_holds(value: str | None, entry: Entry) -> bool:
    """Whether a range may be served under ``If-Range: value`` (RFC 9110 §13.1.5): an ETag
    only by strong comparison, so a weak one never holds; a date only if it is exactly the
    file's Last-Modified."""
    if value is None or entry.validators.if_range == "ignore":
        return True
    value = value.strip()
    if value.startswith("W/"):
        return False
    etag = entry.etag
    if value.startswith('"'):
        return etag is not None and not etag.startswith("W/") and value == etag
    return value == entry.last_modified


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
    honoured = if_range_holds(request.headers.get("if-range"), entry)
    ignored = isinstance(fault, IgnoreRange | Unframed)
    if request.method == "GET" and asked is not None and honoured and not ignored:
        choice = parse_range(asked, size)
    if choice == "unsatisfiable":
        refusal = page(416)
        headers += [
            ("Content-Range", unsatisfied_range(size)),
            ("Content-Length", str(len(refusal))),
        ]
        return Answer(416, headers, memoryview(refusal))
    if choice == "whole":
        headers += [("Accept-Ranges", "bytes"), ("Content-Length", str(size))]
        return Answer(200, headers, memoryview(data))
    first, last = choice
    if isinstance(fault, WrongRange):
        first, last = _shifted(first, last, size, fault.shift)
    total = fault.total if isinstance(fault, ClaimSize) else size
    span = content_range(first, last, total)
    if isinstance(fault, UnknownTotal):
        span = f"bytes {first}-{last}/*"
    headers += [("Content-Range", span), ("Content-Length", str(last + 1 - first))]
    return Answer(206, headers, memoryview(data)[first : last + 1])
