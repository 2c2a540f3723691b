"""Which source a landed file came from, kept on the file itself: an extended attribute
``user.evio-fetch.source`` holding a digest of the source (its URL without credentials or
query, or its Drive file ID). A later run that finds a file of the right size at a server's
chosen name takes it as present only if it came from the same source, or carries no mark
(the user's own copy): two sources of one name and size are never mistaken for each other.

File systems without user extended attributes (and platforms without ``os.setxattr``) keep
no mark: there, size alone decides, as it did before."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from evio_fetch.engine.model import FileSpec

ATTRIBUTE = "user.evio-fetch.source"
# A file system that keeps no user attributes says so with one of these.
_UNSUPPORTED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.ENOSYS)


def identity(spec: FileSpec) -> bytes:
    """What names the source, not the way it was asked for: credentials and a signed query
    change, the resource does not."""
    if spec.url is None:
        key = f"drive:{spec.drive_id}"
    else:
        parts = urlsplit(spec.url)
        key = f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{parts.port}{parts.path}"
    return hashlib.sha256(key.encode()).hexdigest()[:32].encode()


def mark(fd: int, spec: FileSpec) -> None:
    if not hasattr(os, "setxattr"):
        return
    try:
        os.setxattr(fd, ATTRIBUTE, identity(spec))
    except OSError as error:
        if error.errno not in _UNSUPPORTED:
            raise


def source_of(path: Path) -> bytes | None:
    """The mark of the file at ``path`` (never through a symlink), None when it has none."""
    if not hasattr(os, "getxattr"):
        return None
    try:
        return os.getxattr(path, ATTRIBUTE, follow_symlinks=False)
    except OSError:
        return None
