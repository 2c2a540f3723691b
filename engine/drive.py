"""Google Drive: the way from a file ID to its bytes. Ask ``{drive_url}/uc``, follow Drive's
redirects with cookies kept, read any page it answers with instead of the file (the
virus-scan confirmation, the quota page, sign-in), and follow confirmations until the bytes
come. The URL that finally serves the bytes is what every segment then asks. Pages are read
to their end, and never beyond ``MAX_PAGE_BYTES``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import urlencode

from evio_fetch.engine.drive_pages import (
    MAX_PAGE_BYTES,
    Confirm,
    DriveAnswer,
    NoLink,
    NotFound,
    Quota,
    SignIn,
    Throttled,
    classify,
    is_html_page,
    is_sign_in_url,
    manual_link,
    throttled_error,
)
from evio_fetch.engine.errors import (
    DriveError,
    DriveQuotaError,
    DriveSignInError,
    HTTPStatusError,
    PageTooLargeError,
)
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.transport import Reply, Transport

# Drive asks for one confirmation; a few more allow for a changed flow, and the cap stops a
# page that confirms forever.
MAX_CONFIRMATIONS = 4


def download_url(drive_url: str, file_id: str, resource_key: str | None = None) -> str:
    """``{drive_url}/uc?export=download&id=ID``; Drive redirects from there to the bytes or to
    a confirmation page."""
    query = {"export": "download", "id": file_id}
    if resource_key:
        query["resourcekey"] = resource_key
    return f"{drive_url.rstrip('/')}/uc?{urlencode(query)}"


def key_headers(spec: FileSpec) -> dict[str, str]:
    """The resource key travels in a header too: harmless where the query already has it."""
    if spec.drive_id is None or not spec.resource_key:
        return {}
    return {"X-Goog-Drive-Resource-Keys": f"{spec.drive_id}/{spec.resource_key}"}


@asynccontextmanager
async def open_file(
    transport: Transport, spec: FileSpec, drive_url: str, headers: Mapping[str, str]
) -> AsyncIterator[Reply]:
    """The reply that carries the file's bytes (``headers`` go with every request, Range
    included). Raises our named errors for Drive's quota and sign-in pages, and for
    throttling (``DriveThrottledError``, which the caller retries)."""
    assert spec.drive_id is not None, "open_file is for Drive sources"
    url = home = download_url(drive_url, spec.drive_id, spec.resource_key)
    asked = {**headers, **key_headers(spec)}
    for _ in range(MAX_CONFIRMATIONS + 1):
        # The user's headers go to Drive's own origin, never to where its pages lead.
        async with transport.get(url, asked, home) as reply:
            answer = await _answer(reply, spec)
            if isinstance(answer, Confirm):
                url = answer.next_url
                continue
            _raise_for(answer, spec, reply)
            yield reply
            return
    raise DriveError(
        f"{spec.label}: Google Drive kept asking for confirmation",
        f"download it by hand from {manual_link(spec.drive_id)}",
    )


async def _answer(reply: Reply, spec: FileSpec) -> DriveAnswer:
    """Only pages are read, each to its end (never a file's bytes): an HTML answer without
    Content-Disposition, unless its URL or status says all (sign-in, 404)."""
    if is_sign_in_url(reply.url) or reply.status in (404, 410) or not is_html_page(reply.headers):
        return classify(reply.status, reply.headers, reply.url, b"")
    try:
        body = await reply.read(MAX_PAGE_BYTES)
    except PageTooLargeError:
        assert spec.drive_id is not None
        raise PageTooLargeError(
            f"{spec.label}: Google Drive answered with a page longer than "
            f"{MAX_PAGE_BYTES // 1024} KiB, which none of its own pages is",
            "check the Drive address (EVIO_FETCH_DRIVE_URL), or download the file by hand "
            f"from {manual_link(spec.drive_id)}",
        ) from None
    return classify(reply.status, reply.headers, reply.url, body)


def _raise_for(answer: DriveAnswer, spec: FileSpec, reply: Reply) -> None:
    assert spec.drive_id is not None
    link = manual_link(spec.drive_id)
    if isinstance(answer, Quota):
        raise DriveQuotaError(
            f"{spec.label}: Google Drive's download quota for this file is exceeded "
            f"({answer.message})",
            f"wait (Drive lifts it within 24 hours) or download it by hand from {link}",
        )
    if isinstance(answer, SignIn):
        raise DriveSignInError(
            f"{spec.label}: Google Drive asks to sign in: the file is not shared with anyone "
            "who has the link, or the link's resource key is missing",
            f"check the sharing, or pass the full share link (with resourcekey=); {link}",
        )
    if isinstance(answer, NotFound):
        raise HTTPStatusError(
            f"{spec.label}: Google Drive has no file with ID {spec.drive_id}",
            "check the ID: the file may have been deleted or the ID mistyped",
            reply.status,
        )
    if isinstance(answer, Throttled):
        raise throttled_error(spec.label, answer, datetime.now(UTC))
    if isinstance(answer, NoLink):
        raise DriveError(f"{spec.label}: {answer.message}", f"download it by hand from {link}")
