"""Writing a manifest: list a public Drive folder (its embedded folder view, no Drive API,
sub-folders followed), or take a list of URLs and Drive file links, learn each file's name and
size from one ranged request, and optionally fill in SHA256 from files already on disk.
Requests answered with a transient status (Drive throttling, 429, 503) are tried again as
``Options.retries`` allows."""

from __future__ import annotations

import asyncio
import datetime
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

import msgspec

from evio_fetch.engine import naming
from evio_fetch.engine.content_range import parse_content_range
from evio_fetch.engine.drive import open_file
from evio_fetch.engine.drive_folder import (
    MAX_FOLDER_PAGE_BYTES,
    FolderListing,
    folder_view_url,
    parse_folder_view,
)
from evio_fetch.engine.drive_links import parse_drive_link
from evio_fetch.engine.drive_pages import throttle_from
from evio_fetch.engine.errors import (
    DriveSignInError,
    EvioError,
    HTTPStatusError,
    PageTooLargeError,
    TransportError,
    UsageError,
)
from evio_fetch.engine.manifest import decode_manifest
from evio_fetch.engine.model import FileSpec, Options
from evio_fetch.engine.probe import status_error
from evio_fetch.engine.retry import RetryPolicy
from evio_fetch.engine.transport import Reply, Transport
from evio_fetch.engine.verify import sha256_file

ONE_BYTE = {"Range": "bytes=0-0", "Accept-Encoding": "identity"}
# Folders deeper than this are a loop or a mistake, not a dataset.
MAX_DEPTH = 16

T = TypeVar("T")


class Entry(msgspec.Struct, omit_defaults=True):
    path: str
    id: str | None = None
    url: str | None = None
    name: str | None = None
    size: int = 0
    sha256: str = ""


class Document(msgspec.Struct):
    version: str
    generated: str
    datasets: list[Entry]
    source: str | None = None


@dataclass(frozen=True)
class _Found:
    """A file to list: where it comes from and where it goes (``folder`` / name)."""

    spec: FileSpec
    folder: str
    name: str | None


async def build(sources: Sequence[str], prefix: str, options: Options, warn: list[str]) -> Document:
    """A manifest of every file the sources name; ``warn`` collects what was left out."""
    async with Transport(options) as transport:
        lister = _Lister(transport, options, warn)
        found: list[_Found] = []
        for source in sources:
            found += await lister.expand(source, prefix)
        limit = asyncio.Semaphore(options.concurrency)
        entries = await asyncio.gather(*(_entry(transport, item, options, limit) for item in found))
    folder = next((s for s in sources if _is_folder(s)), None)
    return Document(
        version="1.0",
        generated=datetime.date.today().isoformat(),
        datasets=list(entries),
        source=folder,
    )


def with_hashes(document: Document, root: Path, warn: list[str]) -> Document:
    """Fill in the SHA256 of every entry whose file is already at its path under ``root``.

    A local file whose size is not the server's is another version (or a partial copy): its
    hash would fail every later download, so it is left out, and ``warn`` says why.
    """
    entries = [_hashed(entry, root / entry.path, warn) for entry in document.datasets]
    return msgspec.structs.replace(document, datasets=entries)


def _hashed(entry: Entry, local: Path, warn: list[str]) -> Entry:
    if not local.is_file():
        return entry
    size = local.stat().st_size
    if entry.size and size != entry.size:
        warn.append(
            f"{local} is {size} bytes here but {entry.size} bytes on the server: its sha256 "
            "is left out; fetch it with this manifest (the local copy is replaced), then run "
            "`evio-fetch manifest --hash` again to fill it in"
        )
        return entry
    return msgspec.structs.replace(entry, sha256=sha256_file(local))


def encode(document: Document, root: Path) -> bytes:
    """The document as JSON, checked by the same rules every manifest is read with."""
    data = msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"
    decode_manifest(data, root, "the generated manifest")
    return data


def _is_folder(source: str) -> bool:
    ref = parse_drive_link(source)
    return ref is not None and ref.kind == "folder"


@dataclass(frozen=True)
class _Lister:
    transport: Transport
    options: Options
    warn: list[str]

    async def expand(self, source: str, prefix: str) -> list[_Found]:
        ref = parse_drive_link(source)
        if ref is not None and ref.kind == "folder":
            return await self.folder(ref.id, ref.resource_key, prefix, 0)
        if ref is not None and ref.kind == "document":
            hint = f"use its export URL: {ref.export_url}" if ref.export_url else ""
            raise UsageError(f"{source}: a Google Docs document has no file to list", hint)
        if ref is not None:
            spec = FileSpec(index=0, label=source, drive_id=ref.id, resource_key=ref.resource_key)
        elif source.startswith(("http://", "https://")):
            spec = FileSpec(index=0, label=source, url=source)
        else:
            raise UsageError(
                f"{source}: not a URL, a Drive link or a Drive folder link",
                "give an http(s) URL, a Google Drive file or folder link, or a Drive ID",
            )
        return [_Found(spec, prefix, None)]

    async def folder(self, folder_id: str, key: str | None, where: str, depth: int) -> list[_Found]:
        if depth > MAX_DEPTH:
            raise UsageError(
                f"Drive folder {folder_id}: nested more than {MAX_DEPTH} deep",
                "make a manifest of each deep sub-folder by its own link",
            )
        listing = await self.listing(folder_id, key)
        found: list[_Found] = []
        for entry in listing.entries:
            name = naming.safe_name(entry.name)
            below = str(PurePosixPath(where, name)) if where else name
            if entry.kind == "folder":
                found += await self.folder(entry.id, entry.resource_key, below, depth + 1)
            elif entry.kind == "document":
                self.warn.append(f"{below}: a Google Docs document, left out (export it instead)")
            else:
                spec = FileSpec(
                    index=0, label=below, drive_id=entry.id, resource_key=entry.resource_key
                )
                found.append(_Found(spec, where, name))
        return found

    async def listing(self, folder_id: str, key: str | None) -> FolderListing:
        """The folder's listing, every entry of it, or an error: never a part of it."""
        return await _retrying(self.options, lambda: self._list(folder_id, key))

    async def _list(self, folder_id: str, key: str | None) -> FolderListing:
        url = folder_view_url(self.options.drive_url, folder_id, key)
        async with self.transport.get(url, {}) as reply:
            body = await _folder_page(reply, folder_id)
        throttled = throttle_from(
            reply.status, reply.headers, body, label=f"Drive folder {folder_id}"
        )
        if throttled is not None:
            raise throttled
        listing = parse_folder_view(body) if reply.status == 200 else None
        if listing is None:
            raise DriveSignInError(
                f"Drive folder {folder_id}: cannot list it (HTTP {reply.status})",
                "is the folder shared with anyone who has the link?",
            )
        if not listing.complete:
            raise TransportError(
                f"Drive folder {folder_id}: its listing page ended early, after "
                f"{len(listing.entries)} entries",
                "run the command again",
            )
        return listing


async def _folder_page(reply: Reply, folder_id: str) -> bytes:
    try:
        return await reply.read(MAX_FOLDER_PAGE_BYTES)
    except PageTooLargeError:
        raise PageTooLargeError(
            f"Drive folder {folder_id}: its listing page is longer than "
            f"{MAX_FOLDER_PAGE_BYTES // (1024 * 1024)} MiB (more entries than evio-fetch lists "
            "from one folder)",
            "make a manifest of each of its sub-folders instead",
        ) from None


async def _entry(
    transport: Transport, item: _Found, options: Options, limit: asyncio.Semaphore
) -> Entry:
    async with limit:
        size, name = await _size_and_name(transport, item.spec, options)
    name = item.name or name
    path = str(PurePosixPath(item.folder, name)) if item.folder else name
    return Entry(path=path, id=item.spec.drive_id, url=item.spec.url, name=name, size=size or 0)


async def _size_and_name(
    transport: Transport, spec: FileSpec, options: Options
) -> tuple[int | None, str]:
    try:
        return await _retrying(options, lambda: _ask_size_and_name(transport, spec, options))
    except EvioError as error:
        raise type(error)(f"listing {spec.label}: {error.message}", error.hint) from None


async def _ask_size_and_name(
    transport: Transport, spec: FileSpec, options: Options
) -> tuple[int | None, str]:
    if spec.url is not None:
        opened = transport.get(spec.url, ONE_BYTE)
    else:
        opened = open_file(transport, spec, options.drive_url, ONE_BYTE)
    async with opened as reply:
        reply.abandon()
        if reply.status >= 400:
            raise status_error(reply.status, reply.headers, spec.label)
        span = parse_content_range(reply.headers.get("Content-Range"))
        name = naming.choose_name(reply.headers.get("Content-Disposition"), reply.url)
        return (span.total if span is not None else None), name


async def _retrying(options: Options, attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()``, tried again while the server answers a transient status (Drive
    throttling, 429, 503) as far as ``options.retries`` allow, each after the pause asked
    for. A connection that fails is not tried again: making a manifest is quick to rerun,
    and a host that cannot be reached should be said at once."""
    policy, rng = RetryPolicy(options.retries), random.Random()
    while True:
        try:
            return await attempt()
        except HTTPStatusError as error:
            policy = policy.increment(error)
            await asyncio.sleep(policy.pause(error, rng))
