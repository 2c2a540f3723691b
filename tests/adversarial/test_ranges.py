"""The adversary bends the framing of its answers: it counts requests, answers a range with
other bytes than asked, withholds the total from Content-Range, or sends garbage after a
complete body on a kept-alive connection.

The promise: one connection asked for is one request; bytes land only at the offsets the
answer proves they belong to; nothing the server adds past a body ever reaches the file."""

from __future__ import annotations

from adversary import Adversary, File
from faults import KIB, MIB, FaultServer, LongBody, UnknownTotal, WrongRange

FAST_FAIL = ("--retries", "1", "--timeout", "5")


def test_one_segment_is_one_request(adversary: Adversary, server: FaultServer) -> None:
    """``--segments 1`` on a 24 MiB file.
    Expected: the server sees exactly one GET for it; the file lands; exit 0."""
    served = server.add("/one.bin", size=24 * MIB)
    outcome = adversary.fetch([File(served, "data/one.bin", sha256=True)], "--segments", "1")
    assert outcome.status == 0, outcome.describe()
    asked = [(s.method, s.header("Range")) for s in server.requests("/one.bin")]
    assert len(asked) == 1 and asked[0][0] == "GET", asked


def test_a_shifted_range_on_a_later_segment_fails_bad_range(
    adversary: Adversary, server: FaultServer
) -> None:
    """Every answer after the first is a 206 for bytes 4 KiB away from those asked, with a
    Content-Range that truthfully names them; the manifest has no SHA256 that could catch
    the result.
    Expected: ``bad_range``, exit 2, nothing at the target."""
    served = server.add("/shifted.bin", size=8 * MIB, faults=[WrongRange(shift=4 * KIB, skip=1)])
    outcome = adversary.fetch([File(served, "data/shifted.bin")], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 2, outcome.describe()  # its only file failed
    assert outcome.error("data/shifted.bin")["code"] == "bad_range"


def test_a_content_range_without_its_total_never_lands_a_wrong_byte(
    adversary: Adversary, server: FaultServer
) -> None:
    """Every 206 says ``Content-Range: bytes a-b/*``: the right bytes, the total withheld
    (the manifest gives the size).
    Expected: either the file lands whole (exit 0), or it fails with ``bad_range`` and a
    message quoting the Content-Range (exit 2)."""
    served = server.add("/star.bin", size=6 * MIB, faults=[UnknownTotal()])
    outcome = adversary.fetch([File(served, "data/star.bin")], "--segments", "4", *FAST_FAIL)
    if outcome.status != 0:
        error = outcome.error("data/star.bin")
        assert (outcome.status, error["code"]) == (2, "bad_range"), error
        assert "/*" in error["message"], error


def test_garbage_after_a_complete_body_never_reaches_the_file(
    adversary: Adversary, server: FaultServer
) -> None:
    """Every answer sends its promised body, then 8 KiB of garbage on the same kept-alive
    connection; the manifest has no SHA256 that could catch a wrong byte.
    Expected: the file lands whole (exit 0), or fails with a code that names the problem
    (never ``internal``)."""
    served = server.add("/long.bin", size=8 * MIB, faults=[LongBody(extra=8 * KIB)])
    outcome = adversary.fetch([File(served, "data/long.bin")], "--segments", "4", *FAST_FAIL)
    if outcome.status != 0:
        assert outcome.error("data/long.bin")["code"] != "internal", outcome.describe()
