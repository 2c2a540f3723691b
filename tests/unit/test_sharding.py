"""--shard K/N: every entry in exactly one shard, the same partition on every machine, and
shards balanced by bytes."""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.sharding import assign, parse_shard, shard

sizes = st.one_of(st.none(), st.integers(min_value=0, max_value=10**12))
labels = st.text(alphabet="abcxyz/._-0123456789", min_size=1, max_size=12)


def specs_of(entries: Sequence[tuple[str, int | None]], root: str = "/data") -> list[FileSpec]:
    return [
        FileSpec(index=i, label=label, url=f"http://h/{label}", target=f"{root}/{label}", size=size)
        for i, (label, size) in enumerate(entries)
    ]


@st.composite
def manifests(draw: st.DrawFn, size: st.SearchStrategy[int | None] = sizes) -> list[FileSpec]:
    names = draw(st.lists(labels, max_size=40, unique=True))
    return specs_of([(name, draw(size)) for name in names])


def shards_of(specs: list[FileSpec], count: int) -> list[list[FileSpec]]:
    return [shard(specs, k, count) for k in range(1, count + 1)]


def loads(parts: list[list[FileSpec]]) -> list[int]:
    return [sum(spec.size or 0 for spec in part) for part in parts]


@given(manifests(), st.integers(min_value=1, max_value=12))
def test_every_entry_lands_in_exactly_one_shard_in_manifest_order(
    specs: list[FileSpec], count: int
) -> None:
    parts = shards_of(specs, count)
    taken = [spec.index for part in parts for spec in part]
    assert sorted(taken) == [spec.index for spec in specs]
    for part in parts:
        assert [spec.index for spec in part] == sorted(spec.index for spec in part)


@given(manifests(), st.integers(min_value=1, max_value=12), st.randoms(use_true_random=False))
def test_the_partition_does_not_depend_on_the_listing_order(
    specs: list[FileSpec], count: int, rnd: Random
) -> None:
    shuffled = list(specs)
    rnd.shuffle(shuffled)
    for k in range(1, count + 1):
        assert {s.label for s in shard(specs, k, count)} == {
            s.label for s in shard(shuffled, k, count)
        }


@given(manifests(st.integers(min_value=0, max_value=10**12)), st.integers(1, 12))
def test_no_shard_holds_more_than_another_plus_the_largest_file(
    specs: list[FileSpec], count: int
) -> None:
    bytes_per_shard = loads(shards_of(specs, count))
    largest = max((spec.size or 0 for spec in specs), default=0)
    assert max(bytes_per_shard) <= min(bytes_per_shard) + largest


@given(manifests(st.none()), st.integers(1, 12))
def test_entries_of_unknown_size_are_spread_by_count(specs: list[FileSpec], count: int) -> None:
    counts = [len(part) for part in shards_of(specs, count)]
    assert max(counts) - min(counts) <= 1


@given(manifests(st.just(0)), st.integers(1, 12))
def test_empty_files_are_spread_by_count(specs: list[FileSpec], count: int) -> None:
    counts = [len(part) for part in shards_of(specs, count)]
    assert max(counts) - min(counts) <= 1


def test_the_root_does_not_move_entries_between_shards() -> None:
    entries = [(f"f{i}.dat", (i * 7919) % 1000 + 1) for i in range(30)]
    here, there = specs_of(entries, "/data"), specs_of(entries, "/mnt/scratch/other")
    assert assign(here, 4) == assign(there, 4)


def test_the_partition_is_pinned() -> None:
    # Machines running different versions must still agree: a change of the rule is a
    # breaking change, and this test says so.
    entries = [
        ("a.dat", 100),
        ("b.dat", 300),
        ("c.dat", None),
        ("d.dat", 300),
        ("e.dat", 50),
        ("f.dat", 0),
        ("g.dat", 200),
    ]
    # Weights: c counts as the mean of the known sizes, 950 // 6 = 158.
    # Largest first, ties by label: b d g c a e f, each to the shard with the fewest bytes
    # (then files, then the lowest number): b→1 d→2 g→3 c→3 a→1 e→2 f→2.
    assert assign(specs_of(entries), 3) == [1, 1, 3, 2, 2, 2, 3]


def test_more_shards_than_entries_leaves_some_empty() -> None:
    specs = specs_of([("a", 5), ("b", 3)])
    assert [len(part) for part in shards_of(specs, 4)] == [1, 1, 0, 0]
    assert shard([], 1, 3) == []


def test_one_shard_is_everything() -> None:
    specs = specs_of([("a", 5), ("b", None), ("c", 0)])
    assert shard(specs, 1, 1) == specs


@pytest.mark.parametrize("index", [0, 5, -1])
def test_shard_refuses_an_index_outside_1_to_n(index: int) -> None:
    with pytest.raises(ValueError):
        shard(specs_of([("a", 1)]), index, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/1", (1, 1)), ("2/4", (2, 4)), ("4/4", (4, 4)), (" 3 / 10 ", (3, 10)), ("07/8", (7, 8))],
)
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3/2", "'3/2': K must be between 1 and N"),
        ("0/4", "'0/4': K must be between 1 and N"),
        ("1/0", "'1/0': N must be between 1 and"),
        ("2", "'2' is not K/N"),
        ("a/b", "'a/b' is not K/N"),
        ("-1/4", "'-1/4' is not K/N"),
        ("1/4/2", "'1/4/2' is not K/N"),
        ("", "'' is not K/N"),
        ("\u0661/\u0662", "is not K/N"),  # Arabic-Indic digits: int() takes them, we do not
        ("1/1000000", "N must be between 1 and 100000"),
    ],
)
def test_parse_shard_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard(text)
    assert message in caught.value.message
    assert "from 1" in caught.value.hint
