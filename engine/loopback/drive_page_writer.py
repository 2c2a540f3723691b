"""How the Drive emulator sends its HTML pages: whole, or padded and in pieces.

Over a busy network a page reaches the client in several parts, and a client that takes its
first read for the whole page sees a short one. ``page_pieces`` writes each page in that many
chunks with a pause between them, so the first read returns only the first; ``page_padding``
makes every page larger than a client should accept, to test its bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol, TypeGuard

from aiohttp import hdrs, web

_END_OF_BODY = b"</body>"


class PageSettings(Protocol):
    """The emulator's page switches, read as each page is sent."""

    page_pieces: int
    page_pause: float
    page_padding: int


def is_page(response: web.StreamResponse) -> TypeGuard[web.Response]:
    """An HTML answer built whole (not a body being streamed)."""
    return (
        isinstance(response, web.Response)
        and not response.prepared
        and response.content_type == "text/html"
        and isinstance(response.body, bytes)
    )


async def send_page(
    request: web.BaseRequest, page: web.Response, settings: PageSettings
) -> web.StreamResponse:
    """``page`` as the settings say: unchanged, or padded and written in pieces."""
    body = page.body
    assert isinstance(body, bytes), "only pages built whole are re-sent"
    body = padded(body, settings.page_padding)
    pieces = max(1, settings.page_pieces)
    if pieces == 1:
        page.body = body
        return page
    streamed = web.StreamResponse(status=page.status, headers=_without_length(page))
    streamed.enable_chunked_encoding()
    with contextlib.suppress(ConnectionError):  # the client went away
        await streamed.prepare(request)
        for number, piece in enumerate(split(body, pieces)):
            if number:
                # The point of the switch: the client must see the page arrive in parts.
                await asyncio.sleep(settings.page_pause)
            await streamed.write(piece)
        await streamed.write_eof()
    return streamed


def padded(body: bytes, padding: int) -> bytes:
    """``body`` with an HTML comment of about ``padding`` bytes before ``</body>``."""
    if padding <= 0:
        return body
    comment = b"<!--" + b"p" * padding + b"-->"
    where = body.rfind(_END_OF_BODY)
    if where < 0:
        return body + comment
    return body[:where] + comment + body[where:]


def split(body: bytes, pieces: int) -> list[bytes]:
    """``body`` in ``pieces`` parts of about equal size (fewer when it is shorter)."""
    size = max(1, -(-len(body) // pieces))
    return [body[start : start + size] for start in range(0, len(body), size)] or [b""]


def _without_length(page: web.Response) -> dict[str, str]:
    return {name: value for name, value in page.headers.items() if name != hdrs.CONTENT_LENGTH}
