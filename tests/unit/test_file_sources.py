"""Which source a connection of a file asks: the healthy ones in turn; a dropped source is
asked no more, and the last one is never dropped (its failure is the file's)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

import pytest

from evio_fetch.engine.errors import (
    EvioError,
    HTTPStatusError,
    LinkExpiredError,
    RemoteChangedError,
    SourceMismatchError,
    TransportError,
)
from evio_fetch.engine.file_sources import FileSources, Source
from evio_fetch.engine.model import SourceId
from evio_fetch.engine.representation import Representation
from evio_fetch.engine.transport import Reply


def never(headers: Mapping[str, str]) -> AbstractAsyncContextManager[Reply]:
    raise AssertionError("no request is made here")


def sources(count: int) -> tuple[FileSources, list[Source], list[str]]:
    given = [f"https://s{n}.org/a.bin" for n in range(count)]
    made = [Source(SourceId(url), f"s{n}", never, url) for n, url in enumerate(given)]
    warnings: list[str] = []
    return FileSources(made, warnings.append), made, warnings


def not_found(name: str) -> HTTPStatusError:
    return HTTPStatusError(f"{name}: the server answered HTTP 404", "", 404)


def test_connections_that_start_together_are_spread_from_the_lead() -> None:
    group, (a, b, c), _ = sources(3)
    assert group.spread(b, 5) == [b, c, a, b, c]
    assert group.spread(a, 0) == []
    a.failure = not_found("s0")
    assert group.spread(b, 4) == [b, c, b, c]


def test_a_dropped_source_hands_its_connection_to_the_next_and_warns() -> None:
    group, (a, b, c), warnings = sources(3)
    assert group.drop(b, not_found("s1")) is c
    assert group.healthy() == [a, c]
    assert warnings == ["s1: the server answered HTTP 404; going on with the file's other sources"]
    assert group.drop(b, TransportError("s1: reset")) is c  # dropped already: no second word
    assert len(warnings) == 1
    assert group.drop(c, not_found("s2")) is a


def test_the_last_source_is_never_dropped_and_the_most_telling_failure_is_raised() -> None:
    group, (a, b), _ = sources(2)
    group.drop(a, not_found("s0"))
    with pytest.raises(HTTPStatusError) as raised:
        group.drop(b, TransportError("s1: the connection was reset"))
    assert raised.value.message == "s0: the server answered HTTP 404"
    assert b.healthy  # a file that starts over starts with it


def test_a_source_whose_file_changed_is_dropped_as_serving_something_else() -> None:
    group, (a, b), _ = sources(2)
    group.drop(b, RemoteChangedError("s1: the file changed on the server", "run again"))
    assert isinstance(b.failure, SourceMismatchError)
    # The file did not change: the failure of its last source says why it failed.
    with pytest.raises(SourceMismatchError):
        group.drop(a, TransportError("s0: reset"))
    with pytest.raises(RemoteChangedError):  # unless its last source changed too
        group.drop(a, RemoteChangedError("s0: the file changed on the server"))


@pytest.mark.parametrize(
    ("failures", "telling"),
    [
        ([TransportError("reset"), not_found("a")], "a: the server answered HTTP 404"),
        ([not_found("a"), not_found("b")], "a: the server answered HTTP 404"),
        ([not_found("a"), LinkExpiredError("expired", "", 410)], "expired"),
        ([LinkExpiredError("expired", "", 410), SourceMismatchError("size")], "size"),
        ([SourceMismatchError("size"), RemoteChangedError("changed")], "changed"),
        ([TransportError("reset"), HTTPStatusError("503", "", 503)], "reset"),
    ],
)
def test_the_most_telling_failure(failures: list[EvioError], telling: str) -> None:
    group, _, _ = sources(1)
    assert group.most_telling(*failures).message == telling


def test_the_sources_used_are_those_that_served_bytes_in_order() -> None:
    group, (a, _, c), _ = sources(3)
    c.wrote(10)
    a.wrote(1)
    assert group.used() == ("s0", "s2")


def test_a_link_is_renewable_when_it_led_elsewhere() -> None:
    _, (a, _), _ = sources(2)
    a.reset()
    assert a.url == a.id.given and not a.renewable
    a.url = "https://storage.s0.org/a.bin?sig=1"
    assert a.renewable
    home = "https://drive.example/uc?id=1abcdefghijk"
    drive = Source(SourceId("1abcdefghijk", drive=True), "1abcdefghijk", never, home)
    drive.reset()
    assert drive.url is None and drive.renewable


async def test_a_sources_first_question_is_asked_by_one_connection_at_a_time() -> None:
    _, (a, _), _ = sources(2)
    a.reset()
    assert await a.introduce()  # the first asks
    second, third = asyncio.create_task(a.introduce()), asyncio.create_task(a.introduce())
    await asyncio.sleep(0)  # one turn of the loop: both are waiting now
    assert not second.done() and not third.done()
    a.settle()  # the first question failed: its version is still unknown
    assert await second  # the next asks, and the other goes on waiting
    await asyncio.sleep(0)
    assert not third.done()
    a.representation = Representation(10, '"a"', None)
    a.settle()
    assert not await third  # known: no need to ask again
    assert not await a.introduce()


async def test_a_connection_waiting_for_a_first_answer_stops_when_the_source_is_dropped() -> None:
    group, (a, _), _ = sources(2)
    a.reset()
    assert await a.introduce()
    waiting = asyncio.create_task(a.introduce())
    await asyncio.sleep(0)
    group.drop(a, not_found("s0"))
    assert not await waiting  # it takes another source instead of asking this one
