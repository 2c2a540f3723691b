"""SHA256 of a file the way a careful user would check it after a download (hashlib, as
evio-fetch's own check does), and how long that took."""

from __future__ import annotations

import time
from pathlib import Path

from evio_fetch.engine.verify import sha256_file as sha256_of

__all__ = ["sha256_of", "timed_sha256"]


def timed_sha256(path: Path) -> tuple[str, float]:
    began = time.monotonic()
    digest = sha256_of(path)
    return digest, time.monotonic() - began
