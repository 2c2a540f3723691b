"""The adversary changes the file while it is being fetched: new bytes of the same size (or a
new size), new validators, and answers that invite splicing the versions (ranges served
whatever If-Range says, a redirect to other bytes, two backends that disagree).

The promise: a file lands holding one whole version, never pieces of two; a change is seen on
every answer, and the download starts over from zero (or, when the file will not hold still,
fails with ``remote_changed``)."""

from __future__ import annotations

import pytest
from adversary import Adversary, File
from faults import MIB, Change, FaultServer, Redirect, Seen, Validators

SIZE = 8 * MIB
FAST_FAIL = ("--retries", "2", "--timeout", "5")


def starts_from_zero(seen: Seen) -> bool:
    """Whether a request asks the file from its first byte (a probe, or a start over)."""
    asked = seen.header("Range")
    return seen.method == "GET" and (asked is None or asked.removeprefix("bytes=").startswith("0-"))


@pytest.mark.parametrize(
    "validators",
    [
        Validators(if_range="ignore"),
        Validators(etag="none", if_range="ignore"),
    ],
    ids=["etag-and-date", "date-only"],
)
def test_change_under_a_server_ignoring_if_range_restarts_once_and_lands_version_2(
    adversary: Adversary, server: FaultServer, validators: Validators
) -> None:
    """The file changes right after the first request (same size, new bytes, new validators)
    and the server answers every range 206 with the new bytes, whatever If-Range says.
    Expected: the change is seen on those 206s, the download starts over from zero once,
    and the file lands holding exactly version 2; exit 0."""
    served = server.add(
        "/s.bin", size=SIZE, faults=[Change(skip=1, times=1)], validators=validators
    )
    outcome = adversary.fetch([File(served, "data/s.bin")], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    versions = server.representations("/s.bin")
    assert outcome.landed("data/s.bin").read_bytes() == versions[1]
    restarts = [s.number for s in server.requests("/s.bin") if starts_from_zero(s)]
    assert len(restarts) == 2, f"requests from byte 0: {restarts}"


def test_change_under_a_server_honouring_if_range_lands_version_2(
    adversary: Adversary, server: FaultServer
) -> None:
    """The file changes right after the first request; the server honours If-Range, so the
    ranges asked on the old validator are answered 200 with the whole new version.
    Expected: the download starts over and lands exactly version 2; exit 0."""
    served = server.add("/s.bin", size=SIZE, faults=[Change(skip=1, times=1)])
    outcome = adversary.fetch([File(served, "data/s.bin")], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    assert outcome.landed("data/s.bin").read_bytes() == server.representations("/s.bin")[1]


def test_a_new_size_in_content_range_is_a_change(adversary: Adversary, server: FaultServer) -> None:
    """No ETag, no Last-Modified, ranges served whatever If-Range says: after the first
    request the file grows by 4 KiB, and only the total in each 206's Content-Range shows it.
    Expected: treated as a change: the download starts over and lands exactly version 2
    (the new size); exit 0."""
    served = server.add(
        "/grown.bin",
        size=SIZE,
        faults=[Change(skip=1, times=1, size=SIZE + 4096)],
        validators=Validators(etag="none", last_modified=False, if_range="ignore"),
    )
    outcome = adversary.fetch(
        [File(served, "data/grown.bin", size=False)], "--segments", "4", *FAST_FAIL
    )
    assert outcome.status == 0, outcome.describe()
    landed = outcome.landed("data/grown.bin").read_bytes()
    assert landed == server.representations("/grown.bin")[1]


@pytest.mark.parametrize("flip", [False, True], ids=["new-every-request", "two-alternating"])
def test_a_file_that_never_holds_still_fails_remote_changed(
    adversary: Adversary, server: FaultServer, flip: bool
) -> None:
    """The file is another version on every request (``new-every-request``), or flips
    between two versions with their own ETags, as behind two backends that disagree
    (``two-alternating``); ranges are served whatever If-Range says.
    Expected: no version can be had whole: the file fails with ``remote_changed``, exit 2,
    nothing at its target."""
    served = server.add(
        "/restless.bin",
        size=SIZE // 2,
        faults=[Change(skip=1, flip=flip)],
        validators=Validators(if_range="ignore"),
    )
    outcome = adversary.fetch([File(served, "data/restless.bin")], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 2, outcome.describe()  # its only file failed
    assert outcome.error("data/restless.bin")["code"] == "remote_changed"


def test_a_redirect_mid_file_to_other_bytes_is_a_change(
    adversary: Adversary, server: FaultServer
) -> None:
    """The first request for /a.bin is answered from /a.bin; every later one is redirected
    to /b.bin, which holds other bytes of the same size under its own ETag, and serves
    ranges whatever If-Range says.
    Expected: the other validators behind the redirect are a change: the download starts
    over and lands exactly /b.bin's bytes, what the URL serves from then on; exit 0."""
    other = server.add("/b.bin", size=SIZE, validators=Validators(if_range="ignore"))
    served = server.add("/a.bin", size=SIZE, faults=[Redirect(to=other.url, skip=1)])
    outcome = adversary.fetch(
        [File(served, "data/a.bin", also=("/b.bin",))], "--segments", "4", *FAST_FAIL
    )
    assert outcome.status == 0, outcome.describe()
    assert outcome.landed("data/a.bin").read_bytes() == other.data
