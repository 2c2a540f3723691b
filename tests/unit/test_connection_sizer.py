"""The connection sizer: from rate samples to a count of connections."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.connection_sizer import (
    CEILING,
    DRIVE_CEILING,
    ConnectionSizer,
    SizerRules,
    ceiling,
    sizer_for,
)

Link = Callable[[int], float]


def capped(per_connection: float, total: float = float("inf")) -> Link:
    """A link where each connection gets at most ``per_connection`` and all at most ``total``."""
    return lambda count: min(count * per_connection, total)


def settle_on(link: Link, sizer: ConnectionSizer, limit: int = 100) -> int:
    """Feed the sizer what ``link`` gives its count until it settles; the count it keeps."""
    for _ in range(limit):
        if sizer.settled:
            return sizer.target
        sizer.observe(sizer.target, link(sizer.target))
    raise AssertionError(f"no count settled after {limit} samples (at {sizer.target})")


@pytest.mark.parametrize(
    ("link", "rules", "kept"),
    [
        # A cap per connection (Drive, CDNs): every connection adds its share.
        (capped(20), SizerRules(), CEILING),
        (capped(20), SizerRules(ceiling=DRIVE_CEILING), DRIVE_CEILING),
        (capped(20), SizerRules(ceiling=5), 5),
        # A fast link: the first two already take all there is; more would only cost.
        (capped(650, 650), SizerRules(), 2),
        (capped(650, 650), SizerRules(start=1), 1),
        # The link fills between 4 and 8: 8 still brings a quarter more, so it is kept...
        (capped(20, 100), SizerRules(), 8),
        # ...while a link full at 4 goes back to 4.
        (capped(20, 80), SizerRules(), 4),
        # A CPU that cannot keep up: more connections make it slower.
        (lambda n: 600.0 - 10 * n, SizerRules(), 2),
        (capped(20), SizerRules(growth=4), CEILING),
        (capped(20), SizerRules(start=16), CEILING),
    ],
)
def test_settles_on_the_count_that_pays(link: Link, rules: SizerRules, kept: int) -> None:
    assert settle_on(link, ConnectionSizer(rules)) == kept


def test_growth_doubles_from_the_start() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, settle=0))
    link = capped(20)
    seen = [sizer.target]
    while not sizer.settled:
        seen.append(sizer.observe(sizer.target, link(sizer.target)))
    assert list(dict.fromkeys(seen)) == [2, 4, 8, 16]


def test_the_sample_after_a_change_is_let_pass() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, settle=1))
    assert sizer.observe(2, 0.0) == 2  # still starting: not a measure
    assert sizer.observe(2, 40.0) == 4
    # The new connections' first interval says nothing, however poor.
    assert sizer.observe(4, 1.0) == 4
    assert sizer.observe(4, 80.0) == 8


def test_samples_while_connections_start_or_leave_do_not_count() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, settle=0))
    assert sizer.observe(2, 40.0) == 4
    # Only 3 of the 4 at work (out of pieces, or one still connecting): ignored.
    assert sizer.observe(3, 1.0) == 4
    assert not sizer.settled
    assert sizer.observe(4, 80.0) == 8


def test_measurements_average_several_samples() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, settle=0, measure=2))
    assert sizer.observe(2, 40.0) == 2
    assert sizer.observe(2, 40.0) == 4
    assert sizer.observe(4, 40.0) == 4
    # (40 + 120) / 2 = 80: twice the rate of two connections.
    assert sizer.observe(4, 120.0) == 8


def test_a_throttle_lowers_the_ceiling_for_good() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, settle=0))
    sizer.observe(2, 40.0)
    sizer.observe(4, 80.0)
    assert sizer.target == 8
    assert sizer.throttled(5) == 5
    assert sizer.settled and sizer.ceiling == 5
    for _ in range(5):
        assert sizer.observe(5, 1000.0) == 5


def test_a_throttle_never_goes_below_one() -> None:
    sizer = ConnectionSizer(SizerRules())
    assert sizer.throttled(0) == 1


def test_ceiling_and_sizer_follow_segments() -> None:
    assert ceiling(8) == 8
    assert ceiling(None) == CEILING
    assert ceiling(None, drive=True) == DRIVE_CEILING
    assert sizer_for(4, drive=False) is None
    sized = sizer_for(None, drive=True)
    assert sized is not None and sized.ceiling == DRIVE_CEILING


samples = st.lists(st.tuples(st.integers(0, 20), st.floats(0, 1e10, allow_nan=False)), max_size=60)


@given(
    samples,
    st.integers(1, 20),
    st.integers(1, 32),
    st.integers(0, 2),
    st.integers(1, 3),
)
def test_any_samples_keep_the_count_within_bounds(
    feed: list[tuple[int, float]], start: int, top: int, settle: int, measure: int
) -> None:
    sizer = ConnectionSizer(SizerRules(start=start, ceiling=top, settle=settle, measure=measure))
    for active, rate in feed:
        before, was_settled = sizer.target, sizer.settled
        target = sizer.observe(active, rate)
        assert 1 <= target <= top
        if was_settled:
            assert target == before  # a settled count never moves again
        elif target != before:
            # Only a step up by the growth factor, or back to a count measured before.
            assert target == min(top, before * 2) or target < before


@given(samples, st.integers(1, 16), samples)
def test_after_a_throttle_never_more_than_served(
    before: list[tuple[int, float]], serving: int, after: list[tuple[int, float]]
) -> None:
    sizer = ConnectionSizer(SizerRules())
    for active, rate in before:
        sizer.observe(active, rate)
    sizer.throttled(serving)
    for active, rate in after:
        assert sizer.observe(active, rate) <= serving


@given(st.floats(1, 1e9), st.integers(1, 64), st.integers(1, 16))
def test_a_per_connection_cap_reaches_the_ceiling(per: float, top: int, start: int) -> None:
    sizer = ConnectionSizer(SizerRules(start=start, ceiling=top))
    assert settle_on(capped(per), sizer) == top
