"""The first answer about a file: its size, whether byte ranges work, its validators and its
name. One ranged GET (``Range: bytes=0-``) asks all of it, and its body becomes the first
segment's stream, so probing costs no extra request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evio_fetch.engine.content_range import content_length, parse_content_range
from evio_fetch.engine.errors import (
    HTTPStatusError,
    NotDataError,
    RangeError,
    SizeMismatchError,
)
from evio_fetch.engine.model import FileSpec

PROBE_HEADERS = {"Range": "bytes=0-", "Accept-Encoding": "identity"}


@dataclass(frozen=True, slots=True)
class Probe:
    total: int | None
    ranged: bool
    etag: str | None
    last_modified: str | None
    content_disposition: str | None

    @property
    def validator(self) -> str | None:
        """What If-Range can carry: a strong ETag, else Last-Modified."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


def read_probe(status: int, headers: Mapping[str, str], url: str, spec: FileSpec) -> Probe:
    """What the probe's status and headers say; raises for answers that carry no file."""
    total, ranged = _size_and_ranges(status, headers, url)
    if spec.drive_id is not None and spec.url is None and _is_page(headers):
        raise NotDataError(
            f"{spec.label}: Google Drive answered with a web page instead of the file",
            f"download it by hand from https://drive.google.com/file/d/{spec.drive_id}/view",
        )
    if spec.size is not None and total is not None and total != spec.size:
        raise SizeMismatchError(
            f"{spec.label}: the server has {total} bytes, the manifest says {spec.size}",
            "the file changed upstream or the manifest is out of date; fix its size",
        )
    return Probe(
        total=total,
        ranged=ranged,
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
        content_disposition=headers.get("Content-Disposition"),
    )


def _is_page(headers: Mapping[str, str]) -> bool:
    """An HTML page that is not an attachment: Drive's confirmation, quota or sign-in pages."""
    html = headers.get("Content-Type", "").lower().startswith("text/html")
    return html and "Content-Disposition" not in headers


def _size_and_ranges(status: int, headers: Mapping[str, str], url: str) -> tuple[int | None, bool]:
    if status == 200:
        return content_length(headers), False
    span = parse_content_range(headers.get("Content-Range"))
    if status == 206:
        if span is None or span.first != 0:
            raise RangeError(
                f"{url}: asked for bytes 0-, got Content-Range {headers.get('Content-Range')!r}",
                "the server's range support is broken; try --segments 1",
            )
        return span.total, span.total is not None
    if status == 416 and span is not None and span.total == 0:
        return 0, False  # an empty file has no byte 0 to range over
    raise HTTPStatusError(f"{url}: the server answered HTTP {status}", _status_hint(status), status)


def _status_hint(status: int) -> str:
    if status == 404:
        return "check the link: the file is not there"
    if status in (401, 403):
        return "the file is not public, or the link lacks its access key"
    if status == 429:
        return "the server is rate-limiting; wait, or lower --concurrency"
    if status >= 500:
        return "the server failed; try again later (--retries raises the attempts)"
    return ""
