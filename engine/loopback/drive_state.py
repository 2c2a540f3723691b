"""What the Drive emulator serves and how it is switched to misbehave.

Registration and switches (``DriveControls``) may be used from any thread while the
emulator's loop reads the same ``DriveState``: every access holds its lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evio_fetch.engine.loopback.http_common import http_date
from evio_fetch.engine.platform_io import PLATFORM

_MIME_TYPES = mimetypes.MimeTypes()  # built-in table only: the same answer on every machine

FailurePoint = Literal["any", "uc", "download", "bytes", "folder"]
"""Where ``fail_next`` strikes: every request, the /uc hop, the usercontent endpoint (pages
and bytes), only answers that would have carried bytes, or folder listings."""

Confirmation = Literal["valid", "expired", "none"]


@dataclass(frozen=True, slots=True)
class DriveFile:
    file_id: str
    name: str
    size: int
    data: bytes | None
    path: Path | None
    last_modified: str
    content_type: str
    large: bool
    quota: bool
    private: bool
    resource_key: str | None
    max_connections: int | None = None
    throttle: bool = False

    @contextlib.contextmanager
    def reader(self) -> Iterator[FileReader]:
        if self.data is not None:
            yield FileReader(self.data, None)
            return
        assert self.path is not None
        fd = os.open(self.path, os.O_RDONLY | PLATFORM.open_flags)
        try:
            yield FileReader(None, fd)
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class DriveFolder:
    folder_id: str
    name: str
    children: tuple[str, ...]
    private: bool


@dataclass(frozen=True, slots=True)
class DriveDocument:
    doc_id: str
    name: str
    native: str


Listed = DriveFile | DriveFolder | DriveDocument


@dataclass(frozen=True, slots=True)
class FileReader:
    data: bytes | None
    fd: int | None

    def read(self, offset: int, size: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + size]
        assert self.fd is not None
        return PLATFORM.read_at(self.fd, size, offset)


@dataclass(frozen=True, slots=True)
class _Issued:
    """A confirmed URL handed out on a warning page."""

    file_id: str
    epoch: int
    at: str | None


@dataclass(slots=True)
class Failure:
    remaining: int
    status: int
    retry_after: int | None


class DriveState:
    """Files, folders and documents by ID, issued confirmed URLs, and injected failures.

    Confirmed URLs belong to an epoch; expiring them starts a new one, so every URL issued
    before, and every body being sent under one, stops working at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, DriveFile] = {}
        self._folders: dict[str, DriveFolder] = {}
        self._documents: dict[str, DriveDocument] = {}
        self._issued: dict[str, _Issued] = {}
        self._epoch = 0
        self._expire_budget: int | None = None
        self._failures: dict[FailurePoint, Failure] = {}

    def put(self, item: Listed) -> None:
        with self._lock:
            if isinstance(item, DriveFile):
                self._files[item.file_id] = item
            elif isinstance(item, DriveFolder):
                self._folders[item.folder_id] = item
            else:
                self._documents[item.doc_id] = item

    def file(self, file_id: str) -> DriveFile | None:
        with self._lock:
            return self._files.get(file_id)

    def listing(self, folder_id: str) -> tuple[DriveFolder | None, list[Listed]]:
        """The folder and its registered children, read together."""
        with self._lock:
            folder = self._folders.get(folder_id)
            if folder is None:
                return None, []
            children = (self._child(child) for child in folder.children)
            return folder, [child for child in children if child is not None]

    def _child(self, child: str) -> Listed | None:
        # An ID registered as more than one kind is listed as a folder first, then a document.
        return self._folders.get(child) or self._documents.get(child) or self._files.get(child)

    def issue(self, token: str, file_id: str, at: str | None) -> None:
        with self._lock:
            self._issued[token] = _Issued(file_id, self._epoch, at)

    def confirmation(self, token: str, file_id: str, at: str | None) -> Confirmation:
        """``valid``, ``expired``, or ``none`` (a uuid this Drive never issued for the file)."""
        with self._lock:
            issued = self._issued.get(token)
            epoch = self._epoch
        if issued is None or issued.file_id != file_id:
            return "none"
        if issued.epoch != epoch:
            return "expired"
        if issued.at is not None and at != issued.at:
            return "none"  # a client that dropped a hidden input gets the warning again
        return "valid"

    def set_failure(self, point: FailurePoint, failure: Failure) -> None:
        with self._lock:
            self._failures[point] = failure

    def take_failure(self, point: FailurePoint) -> Failure | None:
        """The failure to answer at ``point`` now, if one is still due."""
        with self._lock:
            failure = self._failures.get(point)
            if failure is None or failure.remaining <= 0:
                return None
            failure.remaining -= 1
        return failure

    @property
    def epoch(self) -> int:
        with self._lock:
            return self._epoch

    def expired_since(self, epoch: int) -> bool:
        with self._lock:
            return self._epoch != epoch

    def expire_now(self) -> None:
        with self._lock:
            self._epoch += 1
            self._expire_budget = None

    def expire_after(self, n_bytes: int) -> None:
        with self._lock:
            self._expire_budget = n_bytes

    def spend_expire_budget(self, n: int) -> None:
        with self._lock:
            if self._expire_budget is None:
                return
            self._expire_budget -= n
            if self._expire_budget <= 0:
                self._epoch += 1
                self._expire_budget = None


def generated_bytes(file_id: str, size: int) -> bytes:
    """The content ``DriveControls.add_files`` gives ``file_id``: different for every ID."""
    seed = hashlib.sha256(file_id.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class DriveControls:
    """Registration and switches; they apply to requests that arrive afterwards."""

    def __init__(self, state: DriveState) -> None:
        self._state = state

    def add(
        self,
        file_id: str,
        data: Path | bytes,
        name: str,
        *,
        large: bool = False,
        quota: bool = False,
        private: bool = False,
        resource_key: str | None = None,
        max_connections: int | None = None,
        throttle: bool = False,
    ) -> DriveFile:
        """Serve ``data`` (bytes, or a file read at each request) as ``file_id``. ``large``
        puts the virus-scan warning in front of it; ``quota`` answers the quota page;
        ``private`` sends everyone to sign-in; ``resource_key`` must then be presented.
        ``max_connections`` caps the byte responses of the file sent at once: one more is
        answered 429 with Google's "automated queries" page and ``Retry-After: 1``;
        ``throttle`` answers every request for the file so. Adding an ID again replaces it."""
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        if isinstance(data, bytes):
            size, path, stamp = len(data), None, time.time()
        else:
            info = os.stat(data)
            size, path, stamp = info.st_size, Path(data), info.st_mtime
        entry = DriveFile(
            file_id=file_id,
            name=name,
            size=size,
            data=data if isinstance(data, bytes) else None,
            path=path,
            last_modified=http_date(stamp),
            content_type=_MIME_TYPES.guess_type(name)[0] or "application/octet-stream",
            large=large,
            quota=quota,
            private=private,
            resource_key=resource_key,
            max_connections=max_connections,
            throttle=throttle,
        )
        self._state.put(entry)
        return entry

    def add_files(self, prefix: str, count: int, *, size: int = 64) -> list[str]:
        """Register ``count`` generated files, to fill a large folder: IDs ``{prefix}00000``,
        ``{prefix}00001``, ..., each named ``file-00000.bin``, ... and holding ``size`` bytes
        made from its ID (see ``generated_bytes``). Returns the IDs in order."""
        ids = [f"{prefix}{number:05d}" for number in range(count)]
        for number, file_id in enumerate(ids):
            self.add(file_id, generated_bytes(file_id, size), f"file-{number:05d}.bin")
        return ids

    def add_folder(
        self, folder_id: str, name: str, children: Sequence[str], *, private: bool = False
    ) -> None:
        """A folder listing the IDs in ``children`` (files, folders or documents, in that
        order; IDs not registered when the listing is asked for are left out)."""
        self._state.put(DriveFolder(folder_id, name, tuple(children), private))

    def add_document(self, doc_id: str, name: str, native: str = "document") -> None:
        """A Google-native document (``document``, ``spreadsheets``, ``presentation``): it
        appears in folder listings, and /uc has no bytes for it."""
        self._state.put(DriveDocument(doc_id, name, native))

    def expire_confirmed(self) -> None:
        """Every confirmed URL issued so far answers 403 from now on, and every byte
        response being sent is cut off, as when Drive drops a long transfer."""
        self._state.expire_now()

    def expire_after(self, n_bytes: int) -> None:
        """``expire_confirmed()`` once ``n_bytes`` more body bytes have been sent: an
        expiry in the middle of a download without racing the client."""
        self._state.expire_after(n_bytes)

    def fail_next(
        self,
        n: int,
        status: int = 503,
        *,
        at: FailurePoint = "any",
        retry_after: int | None = None,
    ) -> None:
        """The next ``n`` requests reaching ``at`` answer ``status`` (an HTML error page,
        with ``Retry-After`` if given)."""
        self._state.set_failure(at, Failure(n, status, retry_after))
