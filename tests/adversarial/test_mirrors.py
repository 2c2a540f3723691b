"""The adversary is one of a file's mirrors: it serves another size, other bytes of the same
size, or a file that changes under the download, while the entry's URL serves the file.

The promise: the file lands holding exactly what its URL serves, never a splice with what the
mirror served; the mirror is dropped (by its size, its changing validators, or, when only the
bytes differ, by the manifest's SHA256), and the report names the sources that served it."""

from __future__ import annotations

import pytest
from adversary import Adversary, File
from faults import MIB, Change, FaultServer, Late, Validators

SIZE = 8 * MIB
FAST_FAIL = ("--retries", "2", "--timeout", "5")


def test_a_mirror_of_another_size_is_dropped_before_any_of_its_bytes_land(
    adversary: Adversary, server: FaultServer
) -> None:
    """The mirror serves a file 1 MiB longer; the manifest states no size. Expected: the
    mirror's first answer states its size, which is not the file's: it is dropped, the
    connections it had go on from the URL, and the file lands holding the URL's bytes, the
    mirror not among the sources used; exit 0."""
    primary = server.add("/a.bin", size=SIZE)
    other = server.add("/mirror/a.bin", size=SIZE + MIB)
    entry = File(primary, "data/a.bin", size=False, mirrors=(other,))
    outcome = adversary.fetch([entry], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    assert outcome.file("data/a.bin")["sources_used"] == [primary.url]
    assert any(s.status == 206 for s in server.requests("/mirror/a.bin"))  # it was asked
    assert "has 9437184 bytes" in outcome.stderr


def test_a_mirror_of_other_bytes_of_the_same_size_is_caught_by_the_sha256(
    adversary: Adversary, server: FaultServer
) -> None:
    """The mirror serves other bytes of the same size (and tags them its own way, as any
    other server would), so nothing in its answers gives it away; the manifest has the
    file's SHA256. Expected: the spliced bytes fail the SHA256 and never reach the target;
    the file is fetched again from its URL alone and lands holding exactly its bytes, with a
    warning, the URL the one source used; exit 0."""
    primary = server.add("/a.bin", size=SIZE)
    liar = server.add("/mirror/a.bin", size=SIZE)
    assert liar.data != primary.data
    entry = File(primary, "data/a.bin", sha256=True, mirrors=(liar,))
    outcome = adversary.fetch([entry], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    assert sum(s.sent for s in server.requests("/mirror/a.bin")) > 0  # it did serve, once
    assert outcome.file("data/a.bin")["sources_used"] == [primary.url]
    assert "failed the SHA256; fetching it again" in outcome.stderr


@pytest.mark.parametrize(
    "validators",
    [Validators(), Validators(if_range="ignore")],
    ids=["honours-if-range", "ignores-if-range"],
)
def test_a_mirror_whose_file_changes_mid_download_is_dropped(
    adversary: Adversary, server: FaultServer, validators: Validators
) -> None:
    """The mirror serves the file's bytes at first, then a new version (new bytes, new
    validators) from its second request on; it honours If-Range, or answers every range with
    the new bytes whatever If-Range says. Expected: the change is seen on the mirror's answer
    before a byte of it is written, the mirror is dropped and the file lands holding the
    URL's bytes; exit 0."""
    primary = server.add("/a.bin", size=SIZE)
    mirror = server.add(
        "/mirror/a.bin",
        size=SIZE,
        mirror_of="/a.bin",
        faults=[Change(skip=1, times=1)],
        validators=validators,
    )
    entry = File(primary, "data/a.bin", mirrors=(mirror,))
    outcome = adversary.fetch([entry], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    assert len(server.representations("/mirror/a.bin")) == 2  # it did change
    assert "changed on the server" in outcome.stderr


def test_a_mirror_that_changes_between_two_first_answers_is_dropped_before_either_lands(
    adversary: Adversary, server: FaultServer
) -> None:
    """Two connections would ask the mirror their first questions at once; it changes on
    the second request, and answers the first (the old version) only after the second (a
    slow backend behind a load balancer, or two seconds without a second request).
    Expected: the mirror's version is fixed by one answer before it is asked again, so the
    change is seen on the next answer, before any of the new version is written; the mirror
    is dropped and the file lands holding the URL's bytes; exit 0."""
    primary = server.add("/a.bin", size=SIZE)
    faults = [Late(behind=2, times=1), Change(skip=1, times=1)]
    mirror = server.add("/mirror/a.bin", size=SIZE, mirror_of="/a.bin", faults=faults)
    entry = File(primary, "data/a.bin", mirrors=(mirror,))
    outcome = adversary.fetch([entry], "--segments", "4", *FAST_FAIL)
    assert outcome.status == 0, outcome.describe()
    assert len(server.representations("/mirror/a.bin")) == 2  # it did change
