"""SHA256 of a file the way a careful user would check it after a download: Python's hashlib."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def timed_sha256(path: Path) -> tuple[str, float]:
    began = time.monotonic()
    digest = sha256_of(path)
    return digest, time.monotonic() - began
