"""Block digests and what a resume trusts, on real files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.blocks import BLOCK_SIZE, BlockDigests
from evio_fetch.engine.resume import trusted_point
from evio_fetch.engine.state import SegmentState, State

B = BLOCK_SIZE


def reference(data: bytes) -> dict[int, int]:
    return {
        i: xxhash.xxh3_64_intdigest(data[i * B : (i + 1) * B]) for i in range(-(-len(data) // B))
    }


@given(cuts=st.lists(st.integers(1, 3 * B), max_size=12), tail=st.integers(0, B - 1))
def test_digests_do_not_depend_on_chunking(cuts: list[int], tail: int) -> None:
    data = random.Random(len(cuts)).randbytes(3 * B + tail)
    digests = BlockDigests(len(data))
    offset = 0
    for cut in [*cuts, len(data)]:
        piece = data[offset : offset + cut]
        digests.add(offset, piece)
        offset += len(piece)
    assert digests.completed() == reference(data)


def test_reopened_block_continues_from_disk(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(2 * B)
    path = tmp_path / "f"
    path.write_bytes(data[: B + 1000])
    digests = BlockDigests(len(data), reference(data[:B]))
    fd = os.open(path, os.O_RDONLY)
    try:
        digests.reopen(B + 1000, fd)
    finally:
        os.close(fd)
    digests.add(B + 1000, data[B + 1000 :])
    assert digests.completed() == reference(data)


def state_for(data: bytes, segments: list[tuple[int, int, int]], tails: bool = True) -> State:
    done_blocks = {}
    for start, _end, done in segments:
        for index in range(start // B, -(-done // B)):
            if min((index + 1) * B, len(data)) <= done:
                done_blocks[index] = reference(data)[index]
    return State(
        label="x",
        url="http://127.0.0.1/x",
        target="/x",
        size=len(data),
        block_size=B,
        segments=[SegmentState(*s, _tail(data, s[2]) if tails else None) for s in segments],
        blocks=done_blocks,
    )


def _tail(data: bytes, done: int) -> int | None:
    start = done - done % B
    return xxhash.xxh3_64_intdigest(data[start:done]) if done > start else None


@pytest.mark.parametrize(
    ("damaged_block", "check_all", "expected"),
    [
        (None, False, [3 * B + 500, 8 * B]),  # all good: continue at the flushed ends
        (2, False, [2 * B, 8 * B]),  # the last complete block of segment 0 is bad
        (0, False, [3 * B + 500, 8 * B]),  # an earlier block is only found by checking all
        (0, True, [0, 8 * B]),
        (7, False, [3 * B + 500, 7 * B]),  # segment 1 finished, its last block damaged
        (6, True, [3 * B + 500, 6 * B]),
    ],
)
def test_trusted_point(
    tmp_path: Path, damaged_block: int | None, check_all: bool, expected: list[int]
) -> None:
    data = random.Random(2).randbytes(8 * B)
    state = state_for(data, [(0, 4 * B, 3 * B + 500), (4 * B, 8 * B, 8 * B)])
    on_disk = bytearray(data)
    if damaged_block is not None:
        on_disk[damaged_block * B + 7] ^= 0xFF
    path = tmp_path / "part"
    path.write_bytes(bytes(on_disk))
    fd = os.open(path, os.O_RDONLY)
    try:
        point = trusted_point(fd, state, check_all)
    finally:
        os.close(fd)
    assert [s.pos for s in point.segments] == expected
    # Blocks to be fetched again carry no digest: theirs is made from the new bytes.
    refetched = {i for s in point.segments for i in range(-(-s.pos // B), -(-s.end // B))}
    assert not refetched & point.digests.keys()


@pytest.mark.parametrize("tail", ["none", "wrong"])
def test_bytes_past_the_last_block_are_trusted_only_with_their_digest(
    tmp_path: Path, tail: str
) -> None:
    # A state written before the tail was kept, or edited to vouch for bytes never written:
    # the segment goes on from its last whole block, never from an unproven end.
    data = random.Random(3).randbytes(4 * B)
    state = state_for(data, [(0, 4 * B, 2 * B + 500)], tails=tail == "wrong")
    path = tmp_path / "part"
    path.write_bytes(data[: 2 * B] + bytes(2 * B))  # the 500 bytes were never written
    fd = os.open(path, os.O_RDONLY)
    try:
        point = trusted_point(fd, state, check_all=False)
    finally:
        os.close(fd)
    assert [s.pos for s in point.segments] == [2 * B]
