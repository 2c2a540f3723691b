"""The first answer about a file: its size, whether byte ranges work, its validators and its
name. One ranged GET for the first block still missing asks all of it, and its body is kept
as that block's data, so probing costs no extra bytes. With several connections the request is
bounded, so nothing is in flight beyond what the first connection needs (an open-ended probe
would leave megabytes in socket buffers to throw away); with one, it asks for everything from
there on, so the whole file is one request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from evio_fetch.engine.content_range import content_length, parse_content_range, range_header
from evio_fetch.engine.errors import (
    HTTPStatusError,
    LinkExpiredError,
    NotDataError,
    RangeError,
    SizeMismatchError,
)
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.retry import parse_retry_after

PROBE_SPAN = 1024 * 1024
# A signed link (S3, a CDN token, the redirect a data repository hands out) lives minutes or
# hours; the state file keeps the progress, and a link signed anew resumes it.
EXPIRED_HINT = LinkExpiredError.default_hint


def probe_headers(
    start: int, validator: str | None, *, ranged: bool = True, open_ended: bool = False
) -> dict[str, str]:
    """Ask for one block from ``start`` (everything from ``start`` when ``open_ended``: one
    connection reads on, so nothing asked would be thrown away); with a validator, only if
    the file is unchanged. Without ``ranged``, a plain GET of the whole file (for servers
    whose ranges fail)."""
    headers: dict[str, str] = {}
    if ranged:
        last = None if open_ended else start + PROBE_SPAN - 1
        headers["Range"] = range_header(start, last)
        if validator:
            headers["If-Range"] = validator
    return headers


@dataclass(frozen=True, slots=True)
class Probe:
    start: int
    stop: int | None  # where the probe's body ends (exclusive); None: at the end of the file
    # The size the server states (Content-Range total, or a 200's Content-Length).
    total: int | None
    ranged: bool
    representation: Representation
    content_disposition: str | None


def read_probe(
    status: int,
    headers: Mapping[str, str],
    url: str,
    spec: FileSpec,
    start: int,
    *,
    open_ended: bool = False,
    drive: bool = False,
) -> Probe:
    """What the probe's status and headers say (of the file's Drive source, with ``drive``);
    raises for answers that carry no file."""
    total, ranged, stop = _size_and_ranges(status, headers, url, start, open_ended)
    if not ranged:
        start = 0  # a whole-file answer starts at the beginning, whatever was asked
    if status in (200, 206) and _is_page(headers) and not _wants_page(spec, url):
        raise _page_error(spec, url, drive)
    if spec.size is not None and total is not None and total != spec.size:
        raise SizeMismatchError(
            f"{spec.label}: the server has {total} bytes, the manifest says {spec.size}",
            "the file changed upstream or the manifest is out of date; fix its size",
        )
    return Probe(
        start=start,
        stop=stop,
        total=total,
        ranged=ranged,
        representation=Representation.of(headers, total),
        content_disposition=headers.get("Content-Disposition"),
    )


def _wants_page(spec: FileSpec, url: str) -> bool:
    """Whether the file asked for is itself a web page (by its name)."""
    name = spec.target or urlsplit(url).path
    return name.lower().endswith((".html", ".htm", ".xhtml"))


def _page_error(spec: FileSpec, url: str, drive: bool) -> NotDataError:
    if spec.drive_id is not None and drive:
        return NotDataError(
            f"{spec.label}: Google Drive answered with a web page instead of the file",
            f"download it by hand from https://drive.google.com/file/d/{spec.drive_id}/view",
        )
    return NotDataError(
        f"{url}: the server answered with a web page instead of the file",
        "the link may lead to a login or landing page; open it in a browser to find the file",
    )


def _is_page(headers: Mapping[str, str]) -> bool:
    """An HTML page that is not an attachment: Drive's confirmation, quota or sign-in pages."""
    html = headers.get("Content-Type", "").lower().startswith("text/html")
    return html and "Content-Disposition" not in headers


def _size_and_ranges(
    status: int, headers: Mapping[str, str], url: str, start: int, open_ended: bool
) -> tuple[int | None, bool, int | None]:
    """(total size, ranges honoured, end of the body) from the probe's answer."""
    if status == 200:
        return content_length(headers), False, None
    span = parse_content_range(headers.get("Content-Range"))
    if status == 206:
        asked_last = None if open_ended else start + PROBE_SPAN - 1
        if span is None or span.first != start or span.last is None or span.total is None:
            raise _bad_range(url, start, asked_last, headers)
        if span.last != asked_last and span.last != span.total - 1:
            raise _bad_range(url, start, asked_last, headers)
        length = content_length(headers)
        if length is not None and length != span.last + 1 - span.first:
            raise _bad_range(url, start, asked_last, headers)
        return span.total, True, span.last + 1
    if status == 416 and span is not None and span.total is not None and span.total <= start:
        # Nothing at ``start``: an empty file when start is 0.
        return span.total, span.total > 0, span.total
    raise status_error(status, headers, url)


def _bad_range(url: str, first: int, last: int | None, headers: Mapping[str, str]) -> RangeError:
    return RangeError(
        f"{url}: asked for bytes {range_header(first, last)[6:]}, got Content-Range "
        f"{headers.get('Content-Range')!r}",
        "the server's range support is broken; try --segments 1",
    )


def status_error(status: int, headers: Mapping[str, str], url: str) -> HTTPStatusError:
    """The error for an answer that carries no data, with the pause the server asked for."""
    retry_after = parse_retry_after(headers.get("Retry-After"), datetime.now(UTC))
    return HTTPStatusError(
        f"{url}: the server answered HTTP {status}", _status_hint(status), status, retry_after
    )


def _status_hint(status: int) -> str:
    if status == 404:
        return "check the link: the file is not there"
    if status in (401, 403):
        return (
            "the file is not public: if you may read it, pass your credentials with "
            "--header 'Authorization: …' or a ~/.netrc entry for its host, or give the link "
            "with its access key; a signed link that has expired: get a new one"
        )
    if status == 407:
        return "the proxy wants credentials: give them in its URL, http://USER:PASSWORD@HOST:PORT"
    if status == 410:
        return "the file is gone from there, or a signed link has expired: " + EXPIRED_HINT
    if status == 429:
        return "the server is rate-limiting; wait, or lower --concurrency"
    if status >= 500 or status == 408:
        return "the server failed; try again later (--retries raises the attempts)"
    return ""
