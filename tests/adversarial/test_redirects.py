"""A server that sends every request after the first to another host, whose answers state no
validators: bytes from there are never stitched to bytes from here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from adversary import Adversary, File
from faults import MIB, FaultServer, Redirect, Validators
from support import require

SIZE = 8 * MIB
FAST_FAIL = ("--retries", "2", "--timeout", "5")


@pytest.fixture
def server() -> Iterator[FaultServer]:
    running = FaultServer(hosts=("127.0.0.1", "127.0.0.2"))
    try:
        running.start()
    except RuntimeError as error:
        require(False, f"a second loopback address, 127.0.0.2 ({error})")
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("etag", ["strong", "none"])
def test_a_redirect_mid_file_to_a_host_without_validators_is_not_spliced(
    adversary: Adversary, server: FaultServer, etag: str
) -> None:
    """/a.bin on 127.0.0.1 (strong ETag and Last-Modified, or Last-Modified only) answers the
    probe itself; every later request is redirected to /b.bin on 127.0.0.2: other bytes of
    the same size, served with no ETag and no Last-Modified (a mirror / CDN that states
    nothing). The manifest gives the size, no SHA256.
    Expected: one whole version lands (the answers from elsewhere cannot show they are the
    version the download started with, so it starts over there), never a splice."""
    other = server.add(
        "/b.bin",
        size=SIZE,
        host="127.0.0.2",
        validators=Validators(etag="none", last_modified=False, if_range="ignore"),
    )
    served = server.add(
        "/a.bin",
        size=SIZE,
        faults=[Redirect(to=other.url, skip=1)],
        validators=Validators(etag=etag),  # type: ignore[arg-type]
    )
    outcome = adversary.fetch(
        [File(served, "data/a.bin", also=("/b.bin",))], "--segments", "4", *FAST_FAIL
    )
    assert outcome.status == 0, outcome.describe()
    assert outcome.landed("data/a.bin").read_bytes() == other.data
