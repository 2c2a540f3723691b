"""The segment scheduler: plans cover the file exactly once, whatever splits happen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.segments import (
    Segment,
    bytes_done,
    contiguous_prefix,
    ordered_count,
    plan_segments,
    split_largest,
)

MIB = 1024 * 1024


def covers_exactly(segments: list[Segment], size: int) -> bool:
    edge = 0
    for segment in segments:
        if segment.start != edge or not segment.start <= segment.pos <= segment.end:
            return False
        edge = segment.end
    return edge == size


@pytest.mark.parametrize(
    ("size", "connections", "minimum", "expected"),
    [
        (0, 4, MIB, [(0, 0)]),
        (1, 4, MIB, [(0, 1)]),
        (MIB, 4, MIB, [(0, MIB)]),
        (2 * MIB - 1, 4, MIB, [(0, 2 * MIB - 1)]),
        (2 * MIB, 4, MIB, [(0, MIB), (MIB, 2 * MIB)]),
        (10, 3, 1, [(0, 3), (3, 6), (6, 10)]),
        (
            100 * MIB,
            4,
            MIB,
            [(0, 25 * MIB), (25 * MIB, 50 * MIB), (50 * MIB, 75 * MIB), (75 * MIB, 100 * MIB)],
        ),
        (100 * MIB, 1, MIB, [(0, 100 * MIB)]),
    ],
)
def test_plan_segments(size: int, connections: int, minimum: int, expected: list[tuple[int, int]]):
    plan = plan_segments(size, connections, minimum)
    assert [(s.start, s.end) for s in plan] == expected
    assert all(s.pos == s.start for s in plan)


def test_split_takes_the_unfetched_half_of_the_largest_remaining():
    segments = [Segment(0, 100, 90), Segment(100, 200, 120), Segment(200, 300, 300)]
    taken = split_largest(segments, 10)
    assert taken == Segment(160, 200, 160)
    assert segments == [Segment(0, 100, 90), Segment(100, 160, 120), taken, Segment(200, 300, 300)]


def test_split_refuses_a_tail_below_twice_the_minimum():
    segments = [Segment(0, 100, 81)]
    assert split_largest(segments, 10) is None
    assert segments == [Segment(0, 100, 81)]
    assert split_largest([Segment(0, 100, 80)], 10) == Segment(90, 100, 90)


def test_contiguous_prefix_stops_at_the_first_unfinished_segment():
    segments = [Segment(0, 10, 10), Segment(10, 20, 15), Segment(20, 30, 30)]
    assert contiguous_prefix(segments) == 15
    assert bytes_done(segments) == 25
    assert contiguous_prefix([Segment(0, 10, 10), Segment(10, 20, 20)]) == 20


@given(
    size=st.integers(0, 10**9),
    connections=st.integers(1, 64),
    minimum=st.integers(1, 10**7),
    steps=st.lists(st.tuples(st.integers(0, 63), st.floats(0, 1), st.booleans()), max_size=60),
)
def test_any_progress_and_splits_keep_an_exact_cover(size, connections, minimum, steps):
    segments = plan_segments(size, connections, minimum)
    assert covers_exactly(segments, size)
    for which, fraction, split in steps:
        segment = segments[which % len(segments)]
        segment.pos += int(segment.remaining * fraction)
        if split:
            before = bytes_done(segments)
            taken = split_largest(segments, minimum)
            if taken is not None:
                assert taken.pos == taken.start and taken.remaining >= minimum
            assert bytes_done(segments) == before
        assert covers_exactly(segments, size)
        assert contiguous_prefix(segments) <= bytes_done(segments)


@given(
    size=st.integers(0, 10**9),
    connections=st.integers(1, 64),
    steps=st.lists(st.tuples(st.integers(0, 63), st.floats(0, 1)), max_size=40),
)
def test_aligned_plans_and_splits_keep_blocks_whole(size, connections, steps):
    block = 1 << 20
    segments = plan_segments(size, connections, 2 * block, align=block)
    for which, fraction in steps:
        segment = segments[which % len(segments)]
        segment.pos += int(segment.remaining * fraction)
        split_largest(segments, block, align=block)
        assert covers_exactly(segments, size)
        assert all(s.start % block == 0 for s in segments)


def test_aligned_plan_of_an_odd_size():
    plan = plan_segments(10 * MIB + 5, 4, 2 * MIB, align=MIB)
    assert [(s.start, s.end) for s in plan] == [
        (0, 2 * MIB),
        (2 * MIB, 5 * MIB),
        (5 * MIB, 7 * MIB),
        (7 * MIB, 10 * MIB + 5),
    ]


@pytest.mark.parametrize(
    ("size", "connections", "expected"),
    [
        pytest.param(1024 * MIB, 1, 1, id="one-connection-reads-in-order-anyway"),
        pytest.param(1024 * MIB, 4, 32, id="large-file-in-32-mib-pieces"),
        pytest.param(64 * MIB, 4, 4, id="never-fewer-than-the-connections"),
        pytest.param(0, 4, 4, id="empty-file-left-to-plan-segments"),
    ],
)
def test_ordered_count(size: int, connections: int, expected: int) -> None:
    assert ordered_count(size, connections, 32 * MIB) == expected
