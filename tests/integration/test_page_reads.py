"""Pages are read to their end: the Drive emulator sends them in pieces (one read returns only
part of a page) or longer than any of Drive's, and the transport reads them whole, bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from evio_fetch.engine.drive_folder import parse_folder_view
from evio_fetch.engine.errors import PageTooLargeError
from evio_fetch.engine.loopback.drive_emulator import DriveEmulator
from evio_fetch.engine.loopback.drive_page_writer import padded, split
from evio_fetch.engine.model import Options
from evio_fetch.engine.redaction import redact_url
from evio_fetch.engine.transport import Transport

ROOT = "1rOoTfOlDeRxxxxxxxxxxxxxxxxxxxxxx"
FILE = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"


@pytest.fixture
async def drive() -> AsyncIterator[DriveEmulator]:
    async with DriveEmulator() as emulator:
        yield emulator


def folder_of(drive: DriveEmulator, count: int) -> None:
    ids = [f"{ROOT}-{n:05d}" for n in range(count)]
    for file_id in ids:
        drive.add(file_id, b"x", f"{file_id}.bin")
    drive.add_folder(ROOT, "many", ids)


async def first_read_and_whole(url: str) -> tuple[bytes, bytes]:
    """What one read of the body returns, and the whole body."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        first = await response.content.read(16 * 1024 * 1024)
        return first, first + await response.read()


async def test_pages_arrive_in_pieces(drive: DriveEmulator) -> None:
    folder_of(drive, 200)
    whole_at_once = (await first_read_and_whole(drive.folder_url(ROOT)))[1]
    drive.page_pieces = 5
    first, whole = await first_read_and_whole(drive.folder_url(ROOT))
    assert whole == whole_at_once  # the same page, only sent differently
    assert len(first) < len(whole) // 2  # one read sees a part of it
    listing = parse_folder_view(first)
    assert listing is not None and not listing.complete and len(listing.entries) < 100


async def test_transport_reads_a_page_to_its_end(drive: DriveEmulator) -> None:
    folder_of(drive, 200)
    drive.page_pieces = 7
    async with (
        Transport(Options()) as transport,
        transport.get(drive.folder_url(ROOT), {}) as reply,
    ):
        body = await reply.read(1024 * 1024)
    listing = parse_folder_view(body)
    assert listing is not None and listing.complete and len(listing.entries) == 200


@pytest.mark.parametrize("pieces", [1, 4])  # with Content-Length, and chunked without it
async def test_transport_refuses_a_page_past_its_bound(drive: DriveEmulator, pieces: int) -> None:
    folder_of(drive, 3)
    drive.page_pieces = pieces
    drive.page_padding = 300_000
    async with Transport(Options()) as transport:
        async with transport.get(drive.folder_url(ROOT), {}) as reply:
            with pytest.raises(PageTooLargeError) as refused:
                await reply.read(256 * 1024)
        assert refused.value.code == "page_too_large"
        assert redact_url(drive.folder_url(ROOT)) in refused.value.message
        async with transport.get(drive.folder_url(ROOT), {}) as reply:
            body = await reply.read(400_000)  # within a higher bound, the same page is read
    listing = parse_folder_view(body)
    assert listing is not None and listing.complete and len(listing.entries) == 3


def test_padding_and_pieces() -> None:
    page = b"<html><body><p>x</p></body></html>"
    assert padded(page, 0) == page
    assert padded(page, 5) == b"<html><body><p>x</p><!--ppppp--></body></html>"
    assert padded(b"<p>x</p>", 2) == b"<p>x</p><!--pp-->"
    assert split(page, 4) == [page[0:9], page[9:18], page[18:27], page[27:]]
    assert b"".join(split(page, 100)) == page
    assert split(b"", 3) == [b""]
