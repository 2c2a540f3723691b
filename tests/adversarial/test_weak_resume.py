"""The adversary gives only a weak ETag (``W/"…"``) besides Last-Modified, and reads
``If-Range`` as RFC 9110 §13.1.5 says: a weak validator never matches, so a range asked
under it is answered 200 with the whole file. A client that resumes with the weak ETag
throws away what it had and fetches everything again, or worse, trusts a 200 as a 206.

The promise: a resume sends ``If-Range`` with the Last-Modified date, never a weak ETag, and
fetches only what is missing."""

from __future__ import annotations

from adversary import Adversary, File
from faults import KIB, LAST_MODIFIED, MIB, Close, FaultServer, Validators

SIZE = 4 * MIB


def test_a_resume_under_a_weak_etag_asks_if_range_with_the_date(
    adversary: Adversary, server: FaultServer
) -> None:
    """The first run's only connection is cut 512 KiB into the body, and with
    ``--retries 0`` the run fails, keeping its partial download. The same command again
    resumes.
    Expected: the first run fails (``connection``, exit 2) with its state kept; the second
    sends ``If-Range: <Last-Modified>`` (no request ever carries a ``W/`` value), receives
    fewer body bytes than the file's size, and the file lands whole; exit 0."""
    served = server.add(
        "/w.bin",
        size=SIZE,
        faults=[Close(after=512 * KIB, times=1)],
        validators=Validators(etag="weak"),
    )
    entry = File(served, "data/w.bin", sha256=True)
    args = ("--segments", "1", "--retries", "0", "--timeout", "5")
    first = adversary.fetch([entry], *args)
    assert first.status == 2, first.describe()  # its only file failed
    assert first.error("data/w.bin")["code"] == "connection"
    assert adversary.target("data/w.bin.evio-state").is_file(), "the first run kept no state"
    before = server.count("/w.bin")

    second = adversary.fetch([entry], *args)
    assert second.status == 0, second.describe()
    seen = server.requests("/w.bin")
    weak = [
        (s.number, s.header("If-Range")) for s in seen if (s.header("If-Range") or "")[:2] == "W/"
    ]
    assert weak == [], f"requests that sent a weak ETag in If-Range: {weak}"
    resumed = seen[before:]
    conditions = [s.header("If-Range") for s in resumed]
    assert conditions and all(c == LAST_MODIFIED for c in conditions), conditions
    received = sum(s.sent for s in resumed)
    assert received < SIZE, f"the resume received {received} body bytes of {SIZE}"
