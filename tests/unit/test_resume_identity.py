"""Which download a state file belongs to: the resource and the validators its sources gave,
not the signature in a link; and which version a source must still serve to resume."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from evio_fetch.engine.model import FileSpec, SourceId
from evio_fetch.engine.probe import Probe
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.resume import same_resource, unchanged, usable
from evio_fetch.engine.state import FORMAT, SegmentState, SourceState, State, spec_from_state

MIB = 1024 * 1024
SIGNED = "https://bucket.s3.amazonaws.com/d/a.bin?X-Amz-Date=1&X-Amz-Signature=aa"
RESIGNED = "https://bucket.s3.amazonaws.com/d/a.bin?X-Amz-Date=2&X-Amz-Signature=bb"
ETAG = '"5d41402abc4b2a76"'
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"


def state(
    url: str = SIGNED, etag: str | None = ETAG, date: str | None = DATE, **more: object
) -> State:
    return State(
        label="a.bin",
        url=url,
        target="/d/a.bin",
        size=4 * MIB,
        etag=etag,
        last_modified=date,
        block_size=MIB,
        segments=[SegmentState(0, 4 * MIB, MIB)],
        **more,  # type: ignore[arg-type]
    )


def spec(url: str | None = RESIGNED, **more: object) -> FileSpec:
    return FileSpec(index=0, label="a.bin", url=url, **more)  # type: ignore[arg-type]


def probe(etag: str | None = ETAG, date: str | None = DATE, size: int = 4 * MIB) -> Probe:
    return Probe(
        start=MIB,
        stop=2 * MIB,
        total=size,
        ranged=True,
        representation=Representation(size, etag, date),
        content_disposition=None,
    )


def test_a_download_is_known_by_its_sources() -> None:
    assert usable(state(), spec(SIGNED))
    assert unchanged(state(), probe(), SourceId(SIGNED))
    assert not unchanged(state(), probe(etag='"other"'), SourceId(SIGNED))
    assert not unchanged(state(), probe(size=5 * MIB), SourceId(SIGNED))
    assert not usable(state(), spec("https://bucket.s3.amazonaws.com/d/b.bin"))


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (SIGNED, RESIGNED, True),
        ("https://u:pw@h.org/a.bin?t=1#x", "https://h.org/a.bin", True),
        ("HTTPS://H.org:443/a.bin", "https://h.org/a.bin", True),
        ("http://h.org/a.bin", "https://h.org/a.bin", False),
        ("https://h.org:8443/a.bin", "https://h.org/a.bin", False),
        ("https://h.org/a.bin", "https://h.org/b.bin", False),
        ("https://h.org/a.bin", "https://g.org/a.bin", False),
        ("https://h.org:99999/a.bin", "https://h.org:99999/a.bin", False),  # no valid port
    ],
)
def test_same_resource(one: str, other: str, same: bool) -> None:
    assert same_resource(one, other) is same
    assert same_resource(other, one) is same


def test_a_link_signed_again_is_the_same_download_when_the_state_holds_a_validator() -> None:
    assert usable(state(), spec())
    assert usable(state(etag=None), spec())  # a date is a validator too
    assert not usable(state(etag=None, date=None), spec())  # the query may name another file
    assert usable(state(etag=None, date=None), spec(SIGNED))  # the very same link still does
    assert not usable(state(), spec("https://bucket.s3.amazonaws.com/d/b.bin?s=1"))


def test_a_link_signed_again_resumes_only_when_the_server_states_the_validator_again() -> None:
    resigned = SourceId(RESIGNED)
    assert unchanged(state(), probe(), resigned)
    assert unchanged(state(etag=None), probe(etag=None), resigned)
    assert not unchanged(state(), probe(etag='"other"'), resigned)
    # Silence is no evidence of a change, but no proof of the same version either: not even
    # from the very same link, which must state the validators again in a later run.
    assert not unchanged(state(), probe(etag=None, date=None), resigned)
    assert not unchanged(state(), probe(etag=None, date=None), SourceId(SIGNED))
    assert unchanged(state(etag=None, date=None), probe(etag=None, date=None), SourceId(SIGNED))
    assert not unchanged(state(), probe(size=5 * MIB), resigned)


def test_a_weak_etag_does_not_vouch_for_the_bytes() -> None:
    weak = 'W/"5d41"'
    assert not unchanged(
        state(etag=weak, date=None), probe(etag=weak, date=None), SourceId(RESIGNED)
    )
    assert unchanged(state(etag=weak), probe(etag=weak), SourceId(RESIGNED))  # the date does


def test_each_source_is_checked_against_its_own_validators() -> None:
    mirror = "https://mirror.example.org/a.bin"
    saved = state(
        sources=[
            SourceState(url=SIGNED, etag=ETAG, last_modified=DATE, served=MIB),
            SourceState(url=mirror, etag='"m-1"', served=0),
        ]
    )
    with_mirror = spec(mirrors=(mirror,))
    assert usable(saved, with_mirror)
    assert usable(saved, spec("https://elsewhere.org/a.bin", mirrors=(mirror,)))
    assert unchanged(saved, probe(etag='"m-1"', date=None), SourceId(mirror))
    assert not unchanged(saved, probe(etag='"m-2"', date=None), SourceId(mirror))
    # A mirror added since the state was written agrees by its size.
    assert unchanged(saved, probe(etag='"new"'), SourceId("https://new.example.org/a.bin"))


def test_a_drive_file_is_known_by_its_id() -> None:
    saved = State(
        label="a.bin",
        drive_id="1abcdefghijk",
        target="/d/a.bin",
        size=MIB,
        block_size=MIB,
        segments=[SegmentState(0, MIB, 0)],
    )
    assert usable(saved, FileSpec(index=0, label="a.bin", drive_id="1abcdefghijk"))
    assert not usable(saved, FileSpec(index=0, label="a.bin", drive_id="1zzzzzzzzzzz"))
    # An entry that gained a URL beside its Drive file still has the file it had.
    both = FileSpec(index=0, label="a.bin", url="https://h.org/a.bin", drive_id="1abcdefghijk")
    assert usable(saved, both)


def test_a_state_from_before_mirrors_reads_and_names_its_one_source() -> None:
    old = msgspec.json.encode(state()).replace(b',"sources":[]', b"")
    assert b"sources" not in old
    decoded = msgspec.json.decode(old, type=State)
    assert decoded.format == FORMAT
    assert decoded.recorded_sources() == [SourceState(url=SIGNED, etag=ETAG, last_modified=DATE)]


def test_a_state_with_mirrors_resumes_with_them(tmp_path: Path) -> None:
    where = tmp_path / "a.bin.evio-state"
    mirror = "https://mirror.example.org/a.bin"
    saved = state(
        sources=[SourceState(url=SIGNED, etag=ETAG), SourceState(url=mirror)],
        drive_id="1abcdefghijk",
    )
    where.write_bytes(msgspec.json.encode(saved))
    resumed = spec_from_state(where)
    assert (resumed.url, resumed.drive_id, resumed.mirrors) == (SIGNED, "1abcdefghijk", (mirror,))
    assert [s.given for s in resumed.sources()] == [SIGNED, "1abcdefghijk", mirror]
