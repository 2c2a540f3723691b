"""The segment board: every byte is owned by one connection at a time, written once, and the
row of segments stays an exact, short cover of the file, whatever the connections do."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evio_fetch.engine.segment_board import (
    UNBOUNDED,
    BoardShape,
    Segment,
    SegmentBoard,
    contiguous_prefix,
)

MIB = 1024 * 1024
BLOCK = MIB


def shape(connections: int, piece: int = 32 * MIB, min_piece: int = 2 * MIB) -> BoardShape:
    return BoardShape(connections, piece, min_piece, min_split=BLOCK, align=BLOCK)


def covers_exactly(segments: list[Segment], size: int) -> bool:
    edge = 0
    for segment in segments:
        if segment.start != edge or not segment.start <= segment.pos <= segment.end:
            return False
        edge = segment.end
    return edge == size


def finish(board: SegmentBoard, segment: Segment) -> None:
    board.advance(segment, segment.remaining)
    board.release(segment)


def piece_starts(size: int, connections: int, piece: int) -> list[int]:
    """The pieces in the order they are claimed, each finished before the next claim."""
    board = SegmentBoard(size, shape(connections, piece))
    starts = []
    while (segment := board.claim()) is not None:
        starts.append(segment.start)
        finish(board, segment)
    return starts


@pytest.mark.parametrize(
    ("size", "connections", "piece", "expected"),
    [
        pytest.param(100 * MIB, 4, 32 * MIB, [0, 25, 50, 75], id="a-piece-per-connection"),
        pytest.param(200 * MIB, 4, 32 * MIB, [0, 32, 64, 96, 128, 160, 192], id="32-mib-pieces"),
        pytest.param(100 * MIB, 1, 32 * MIB, [0], id="one-connection-one-segment"),
        pytest.param(3 * MIB, 4, 32 * MIB, [0], id="too-small-to-cut"),
        pytest.param(5 * MIB + 1, 2, MIB, [0, 2], id="no-piece-below-the-minimum"),
    ],
)
def test_pieces_are_claimed_front_to_back(
    size: int, connections: int, piece: int, expected: list[int]
) -> None:
    assert piece_starts(size, connections, piece) == [s * MIB for s in expected]


def test_the_row_holds_only_the_work_in_flight_whatever_size_is_claimed() -> None:
    board = SegmentBoard(2**50, shape(16))
    claimed = [board.claim() for _ in range(16)]
    assert all(s is not None for s in claimed)
    assert len(board.segments) == 17  # sixteen pieces and the untouched rest
    assert covers_exactly(board.segments, 2**50)


def test_finished_neighbours_merge() -> None:
    board = SegmentBoard(100 * MIB, shape(4))
    first, second = board.claim(), board.claim()
    assert first is not None and second is not None
    finish(board, second)
    finish(board, first)
    assert [(s.start, s.end, s.pos) for s in board.segments[:1]] == [(0, 50 * MIB, 50 * MIB)]
    assert board.prefix() == 50 * MIB


def test_a_take_over_leaves_what_was_asked_to_its_owner() -> None:
    board = SegmentBoard(64 * MIB, shape(2, piece=32 * MIB))
    first, second = board.claim(), board.claim()
    assert first is not None and second is not None
    stop = board.span_end(first)
    assert stop == 16 * MIB  # nothing left to claim: half of what the segment has left
    finish(board, second)
    taken = board.claim()
    assert taken is not None
    assert taken.start >= stop and first.end == taken.start
    assert taken.start == 24 * MIB  # half of the 16 MiB nobody had asked for


def test_one_connection_asks_for_the_whole_segment() -> None:
    board = SegmentBoard(200 * MIB, shape(1))
    segment = board.claim()
    assert segment is not None and (segment.start, segment.end) == (0, 200 * MIB)
    assert board.span_end(segment) == 200 * MIB
    board.advance(segment, 10 * MIB)
    assert board.span_end(segment) == 200 * MIB
    assert board.claim() is None  # nobody to take anything over


def test_pieces_waiting_to_be_claimed_are_asked_for_whole() -> None:
    board = SegmentBoard(200 * MIB, shape(4))
    segment = board.claim()
    assert segment is not None
    assert board.span_end(segment) == segment.end


def test_a_stream_of_unknown_length_ends_where_the_server_stops() -> None:
    board = SegmentBoard(None, shape(4))
    segment = board.claim()
    assert segment is not None and segment.end == UNBOUNDED
    assert board.claim() is None
    board.advance(segment, 1234)
    board.end_stream(segment)
    assert board.size == 1234 and board.complete


def test_a_resumed_row_continues_where_each_segment_stopped() -> None:
    row = [Segment(0, 32 * MIB, 10 * MIB), Segment(32 * MIB, 100 * MIB, 32 * MIB)]
    board = SegmentBoard(100 * MIB, shape(4), row)
    first = board.claim()
    assert first is not None and (first.start, first.pos) == (0, 10 * MIB)
    second = board.claim()
    assert second is not None and second.start == 32 * MIB
    assert second.end < 100 * MIB  # an untouched segment is cut into pieces too
    assert board.first_gap() == 10 * MIB


def test_contiguous_prefix_stops_at_the_first_unfinished_segment() -> None:
    segments = [Segment(0, 10, 10), Segment(10, 20, 15), Segment(20, 30, 30)]
    assert contiguous_prefix(segments) == 15
    assert contiguous_prefix([Segment(0, 10, 10), Segment(10, 20, 20)]) == 20


# Properties: connections that claim, ask, write and release in any order -------------------


@dataclass
class Connection:
    segment: Segment | None = None
    asked: int | None = None  # the end of the open request; None: no request open


@dataclass
class Written:
    """Every byte written so far, as a count per byte range written in one step."""

    spans: list[tuple[int, int]] = field(default_factory=list)

    def add(self, first: int, stop: int) -> None:
        assert all(stop <= a or b <= first for a, b in self.spans), "a byte written twice"
        self.spans.append((first, stop))

    def total(self) -> int:
        return sum(b - a for a, b in self.spans)


# The properties hold at any scale: small units keep each example quick.
UNIT = 16


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.integers(0, 200),
    tail=st.integers(0, UNIT - 1),
    connections=st.integers(1, 8),
    piece_blocks=st.integers(1, 40),
    data=st.data(),
)
def test_connections_write_every_byte_exactly_once(
    blocks: int, tail: int, connections: int, piece_blocks: int, data: st.DataObject
) -> None:
    size = blocks * UNIT + tail
    board = SegmentBoard(size, BoardShape(connections, piece_blocks * UNIT, 2 * UNIT, UNIT, UNIT))
    pool = [Connection() for _ in range(connections)]
    written = Written()
    for _ in range(20_000):
        if board.complete and all(c.segment is None for c in pool):
            break
        step(board, data.draw(st.sampled_from(pool)), written, data)
        assert covers_exactly(board.segments, size)
        assert all(s.start % UNIT == 0 for s in board.segments)
        assert len(board.segments) <= 2 * connections + 2
        assert sum(s.claimed for s in board.segments) <= connections
        assert board.bytes_done() == written.total()
        assert board.prefix() <= board.bytes_done()
        # No byte in flight is abandoned: a take-over never cuts into an open request.
        assert all(c.segment is None or c.asked is None or c.asked <= c.segment.end for c in pool)
    else:
        pytest.fail("the connections never finished the file")
    assert written.total() == size


def step(board: SegmentBoard, conn: Connection, written: Written, data: st.DataObject) -> None:
    """One thing a connection does: claim work, open a request, or write some of its bytes."""
    segment = conn.segment
    if segment is None:
        conn.segment = board.claim()
        if conn.segment is not None:
            assert conn.segment.claimed and conn.segment.asked == conn.segment.pos
        return
    if conn.asked is None:
        conn.asked = board.span_end(segment)
        assert segment.pos < conn.asked <= segment.end
        return
    stop = conn.asked
    left = stop - segment.pos
    # The whole span first: what hypothesis draws most often must let the file finish.
    count = data.draw(st.sampled_from(sorted({1, max(1, left // 3), left}, reverse=True)))
    written.add(segment.pos, segment.pos + count)
    board.advance(segment, count)
    if segment.pos >= stop:
        conn.asked = None
        if segment.done:
            board.release(segment)
            conn.segment = None
