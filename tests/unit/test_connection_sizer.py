"""The connection sizer: from samples of the bytes that arrived to a count of connections."""

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
TICK = 0.1  # one sample is one measurement (SizerRules.measure)


def capped(per_connection: float, total: float = float("inf")) -> Link:
    """A link where each connection gets at most ``per_connection`` and all at most ``total``."""
    return lambda count: min(count * per_connection, total)


def feed(sizer: ConnectionSizer, active: int, rate: float) -> int:
    return sizer.observe(active, round(rate * TICK), TICK)


def settle_on(link: Link, sizer: ConnectionSizer, limit: int = 100) -> int:
    """Feed the sizer what ``link`` gives its count until it settles; the count it keeps."""
    for _ in range(limit):
        if sizer.settled:
            return sizer.target
        feed(sizer, sizer.target, link(sizer.target))
    raise AssertionError(f"no count settled after {limit} samples (at {sizer.target})")


@pytest.mark.parametrize(
    ("link", "rules", "kept"),
    [
        # A cap per connection (Drive, CDNs): every connection adds its share.
        (capped(20), SizerRules(), CEILING),
        (capped(20), SizerRules(ceiling=DRIVE_CEILING), DRIVE_CEILING),
        (capped(20), SizerRules(ceiling=5), 5),
        (capped(20), SizerRules(growth=2), CEILING),
        (capped(20), SizerRules(start=16), CEILING),
        # A fast link: the first two already take all there is; more would only cost.
        (capped(650, 650), SizerRules(), 2),
        (capped(650, 650), SizerRules(start=1), 1),
        # A CPU that cannot keep up: more connections make it slower.
        (lambda n: 600.0 - 10 * n, SizerRules(), 2),
        # The link fills on the way: the count that fills it, at each connection's pace.
        (capped(20, 100), SizerRules(), 5),
        (capped(20, 70), SizerRules(), 4),
        (capped(20, 150), SizerRules(), 8),
        (capped(20, 250), SizerRules(), 16),  # most of the ideal gain: the ceiling
        # Doubling: full between 4 and 8, the next step brings a quarter more...
        (capped(20, 100), SizerRules(growth=2), 5),
        # ...while a link full at 4 goes back to 4.
        (capped(20, 80), SizerRules(growth=2), 4),
    ],
)
def test_settles_on_the_count_that_pays(link: Link, rules: SizerRules, kept: int) -> None:
    assert settle_on(link, ConnectionSizer(rules)) == kept


def steps(rules: SizerRules, link: Link) -> list[int]:
    sizer = ConnectionSizer(rules)
    seen = [sizer.target]
    while not sizer.settled:
        seen.append(feed(sizer, sizer.target, link(sizer.target)))
    return list(dict.fromkeys(seen))


def test_growth_goes_from_the_start_to_the_ceiling() -> None:
    assert steps(SizerRules(settle=0), capped(20)) == [2, 16]
    assert steps(SizerRules(settle=0, growth=2), capped(20)) == [2, 4, 8, 16]


def test_the_first_sample_of_a_count_is_let_pass() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, growth=2, settle=1))
    assert feed(sizer, 2, 0.0) == 2  # still starting: not a measure
    assert feed(sizer, 2, 40.0) == 4
    # The new connections' first interval says nothing, however poor.
    assert feed(sizer, 4, 1.0) == 4
    assert feed(sizer, 4, 80.0) == 8


def test_samples_while_connections_start_or_leave_do_not_count() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, growth=2, settle=0))
    assert feed(sizer, 2, 40.0) == 4
    # Only 3 of the 4 receiving (out of pieces, or one still connecting): ignored.
    assert feed(sizer, 3, 1.0) == 4
    assert not sizer.settled
    assert feed(sizer, 4, 80.0) == 8


def test_a_measurement_spans_enough_samples() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, growth=2, settle=0, measure=0.1))
    # Bursts: nothing for 80 ms, then 4 MB; measured together, 40 MB/s.
    for _ in range(4):
        assert sizer.observe(2, 0, 0.02) == 2
    assert sizer.observe(2, 4_000_000, 0.02) == 4
    for _ in range(4):
        assert sizer.observe(4, 0, 0.02) == 4
    # 8 MB in 0.1 s: twice the rate.
    assert sizer.observe(4, 8_000_000, 0.02) == 8


def test_a_throttle_lowers_the_ceiling_for_good() -> None:
    sizer = ConnectionSizer(SizerRules(start=2, growth=2, settle=0))
    feed(sizer, 2, 40.0)
    feed(sizer, 4, 80.0)
    assert sizer.target == 8
    assert sizer.throttled(5) == 5
    assert sizer.settled and sizer.ceiling == 5
    for _ in range(5):
        assert feed(sizer, 5, 1000.0) == 5


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


samples = st.lists(
    st.tuples(st.integers(0, 20), st.integers(0, 10**9), st.floats(0, 1)), max_size=60
)


@given(
    samples,
    st.integers(1, 20),
    st.integers(1, 32),
    st.integers(2, 8),
    st.integers(0, 2),
)
def test_any_samples_keep_the_count_within_bounds(
    given_samples: list[tuple[int, int, float]], start: int, top: int, growth: int, settle: int
) -> None:
    sizer = ConnectionSizer(SizerRules(start=start, ceiling=top, growth=growth, settle=settle))
    for active, count, seconds in given_samples:
        before, was_settled = sizer.target, sizer.settled
        target = sizer.observe(active, count, seconds)
        assert 1 <= target <= top
        if was_settled:
            assert target == before  # a settled count never moves again
        elif target > before:
            assert target == min(top, before * growth)  # up only by a whole step


@given(samples, st.integers(1, 16), samples)
def test_after_a_throttle_never_more_than_served(
    before: list[tuple[int, int, float]], serving: int, after: list[tuple[int, int, float]]
) -> None:
    sizer = ConnectionSizer(SizerRules())
    for active, count, seconds in before:
        sizer.observe(active, count, seconds)
    sizer.throttled(serving)
    for active, count, seconds in after:
        assert sizer.observe(active, count, seconds) <= serving


@given(st.floats(1e3, 1e9), st.integers(1, 64), st.integers(1, 16), st.integers(2, 8))
def test_a_per_connection_cap_reaches_the_ceiling(
    per: float, top: int, start: int, growth: int
) -> None:
    sizer = ConnectionSizer(SizerRules(start=start, ceiling=top, growth=growth))
    assert settle_on(capped(per), sizer) == top
