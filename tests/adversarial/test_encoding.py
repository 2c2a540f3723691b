"""The adversary labels stored gzip data with ``Content-Encoding: gzip``, as Apache's
``AddEncoding gzip .gz`` does for a ``.gz`` file: the file on the server IS gzip data, and
its ranges, Content-Length and ETag are those of the gzip bytes. An HTTP client that decodes
what it is given stores other bytes than were served, and cannot make sense of a range.

The promise: bodies are stored exactly as served, never decoded, so sizes, ranges and the
manifest's SHA256 all refer to the same bytes; every request asks for
``Accept-Encoding: identity``."""

from __future__ import annotations

import pytest
from adversary import Adversary, File
from faults import MIB, Fault, FaultServer, IgnoreRange

GZIP_MAGIC = b"\x1f\x8b"


@pytest.mark.parametrize(
    ("segments", "faults"),
    [("4", []), ("1", []), ("4", [IgnoreRange()])],
    ids=["four-segments", "one-segment", "ranges-ignored"],
)
def test_a_gz_file_served_with_content_encoding_lands_as_the_served_gzip_bytes(
    adversary: Adversary, server: FaultServer, segments: str, faults: list[Fault]
) -> None:
    """A 6 MiB ``.gz`` file served with ``Content-Encoding: gzip`` on every answer, 206s
    included; the manifest gives the size and SHA256 of the gzip bytes.
    Expected, with four segments, with one, and from a server that ignores ranges: the file
    lands holding exactly the served gzip bytes (never decoded), the SHA256 check passes,
    exit 0; every request carried ``Accept-Encoding: identity``."""
    served = server.add("/trace.csv.gz", size=6 * MIB, gzip="stored", faults=faults)
    assert served.data[:2] == GZIP_MAGIC, "the file on the server is gzip data"
    outcome = adversary.fetch(
        [File(served, "data/trace.csv.gz", sha256=True)],
        "--segments",
        segments,
        "--retries",
        "1",
        "--timeout",
        "5",
    )
    assert outcome.status == 0, outcome.describe()
    assert outcome.landed("data/trace.csv.gz").read_bytes() == served.data
    asked = [s.header("Accept-Encoding") for s in server.requests("/trace.csv.gz")]
    assert asked and set(asked) == {"identity"}, asked
