"""The adversary lies about, or keeps quiet about, how long the file is: bodies without
Content-Length that end when the connection closes (short of the size, or past it), a
Content-Length that disagrees with the manifest, a 206 cut short of what it promised.

The promise: a file lands only at the size known for it; a body that ends early is a
transient cut (retried from where it stopped), one that runs long is a failure, and a file
whose size nobody could tell is reported as such."""

from __future__ import annotations

import pytest
from adversary import Adversary, File
from faults import KIB, MIB, Close, FaultServer, IgnoreRange, Unframed

FAST_FAIL = ("--retries", "2", "--timeout", "5")


def test_a_close_delimited_body_cut_short_fails_connection(
    adversary: Adversary, server: FaultServer
) -> None:
    """The manifest says 3,000,000 bytes; every answer is a 200 without Content-Length whose
    connection closes after 1,234,567 bytes.
    Expected: the early end is a cut (retried from its offset), not the end of the file:
    after the retries the file fails with ``connection``, exit 2, nothing at its target."""
    served = server.add("/cut.bin", size=3_000_000, faults=[Unframed(after=1_234_567)])
    outcome = adversary.fetch([File(served, "data/cut.bin")], "--segments", "1", *FAST_FAIL)
    assert outcome.status == 2, outcome.describe()  # its only file failed
    assert outcome.error("data/cut.bin")["code"] == "connection"


def test_a_close_delimited_body_longer_than_the_manifest_size_fails_body_length(
    adversary: Adversary, server: FaultServer
) -> None:
    """The manifest says 3,000,000 bytes; the server sends 4 KiB more, without
    Content-Length, and closes.
    Expected: the file fails with ``body_length``, exit 2, nothing at its target (no
    3,000,000-byte prefix passed off as the file)."""
    served = server.add("/long.bin", size=3_000_000 + 4 * KIB, faults=[Unframed()])
    outcome = adversary.fetch(
        [File(served, "data/long.bin", size=3_000_000)], "--segments", "1", *FAST_FAIL
    )
    assert outcome.status == 2, outcome.describe()  # its only file failed
    assert outcome.error("data/long.bin")["code"] == "body_length"


@pytest.mark.parametrize("ranges", [True, False], ids=["content-range", "content-length"])
def test_a_server_size_disagreeing_with_the_manifest_fails_size_mismatch(
    adversary: Adversary, server: FaultServer, ranges: bool
) -> None:
    """The manifest says 1000 bytes fewer than the server has, and the server says so in the
    206's Content-Range, or (ranges ignored) in the 200's Content-Length.
    Expected: ``size_mismatch``, exit 2, nothing at its target."""
    faults = [] if ranges else [IgnoreRange()]
    served = server.add("/sized.bin", size=3 * MIB, faults=faults)
    outcome = adversary.fetch(
        [File(served, "data/sized.bin", size=3 * MIB - 1000)], "--segments", "2", *FAST_FAIL
    )
    assert outcome.status == 2, outcome.describe()  # its only file failed
    assert outcome.error("data/sized.bin")["code"] == "size_mismatch"


@pytest.mark.parametrize("skip", [0, 1], ids=["first-answer", "later-answer"])
def test_a_206_cut_short_once_is_retried_and_lands_whole(
    adversary: Adversary, server: FaultServer, skip: int
) -> None:
    """One 206 (the first answer, or a later one) closes its connection 300 KiB into a body
    whose Content-Length and Content-Range promise more.
    Expected: retried from where it stopped; the file lands whole; exit 0."""
    served = server.add(
        "/once.bin", size=4 * MIB, faults=[Close(after=300 * KIB, skip=skip, times=1)]
    )
    outcome = adversary.fetch([File(served, "data/once.bin")], "--segments", "2", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    cut = [s for s in server.requests("/once.bin") if s.fault is not None]
    assert [s.status for s in cut] == [206], "the fault never bit"
    assert outcome.landed("data/once.bin").read_bytes() == served.data


def test_with_no_size_from_anywhere_the_file_lands_marked_unverified(
    adversary: Adversary, server: FaultServer
) -> None:
    """No size in the manifest, no Content-Length, no ranges: the body ends when the
    connection closes, and nothing can tell whether it ended early.
    Expected: the file may land (exit 0), but its ``--json`` entry has
    ``"size_verified": false`` and the summary line says the size was not verified."""
    served = server.add("/unknown.bin", size=2 * MIB + 3, faults=[Unframed()])
    outcome = adversary.fetch(
        [File(served, "data/unknown.bin", size=False, size_known=False)], *FAST_FAIL
    )
    assert outcome.status == 0, outcome.describe()
    entry = outcome.file("data/unknown.bin")
    assert entry["outcome"] == "downloaded", entry
    assert entry.get("size_verified") is False, entry
    assert "not verified" in outcome.stderr, outcome.describe()
