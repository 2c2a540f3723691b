"""Row names: the shortest end of a path that tells it from the run's other files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.cli.row_names import RowNames, distinct_suffixes


@pytest.mark.parametrize(
    ("paths", "names"),
    [
        ([], []),
        (["/data/a.dat"], ["a.dat"]),
        (["/data/a.dat", "/data/b.dat"], ["a.dat", "b.dat"]),
        # The evio layout: recordings in folders of their own, with the same file name.
        (
            ["/d/events-a/events.dat", "/d/events-b/events.dat", "/d/events-b/notes.txt"],
            ["events-a/events.dat", "events-b/events.dat", "notes.txt"],
        ),
        # Told apart only further up.
        (["/x/fan/1/e.dat", "/y/fan/1/e.dat"], ["x/fan/1/e.dat", "y/fan/1/e.dat"]),
        # Each name as long as it needs to be, no longer.
        (
            ["/r/a/s/e.dat", "/r/b/s/e.dat", "/r/c/e.dat"],
            ["a/s/e.dat", "b/s/e.dat", "c/e.dat"],
        ),
        # One path is all of the other's end: it is shown whole.
        (["a/b.dat", "x/a/b.dat"], ["a/b.dat", "x/a/b.dat"]),
        (["/d/a.dat", "/d/a.dat"], ["/d/a.dat", "/d/a.dat"]),
    ],
)
def test_distinct_suffixes(paths: list[str], names: list[str]) -> None:
    assert distinct_suffixes(paths) == names


component = st.sampled_from(["a", "b", "events", "events.dat", "x.raw"])
unique_paths = st.lists(
    st.lists(component, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    unique=True,
    max_size=12,
)


@given(unique_paths)
def test_names_tell_files_apart_and_end_their_paths(paths: list[str]) -> None:
    names = distinct_suffixes(paths)
    for path, name in zip(paths, names, strict=True):
        assert path.endswith(name)
    # Distinct paths get distinct names, and no name is the end of another path, except a
    # whole path (which cannot be made longer).
    assert len(set(names)) == len(names)
    for i, name in enumerate(names):
        if name == paths[i]:
            continue
        clashes = [p for j, p in enumerate(paths) if j != i and ("/" + p).endswith("/" + name)]
        assert clashes == [], (name, clashes)


@given(unique_paths)
def test_names_are_as_short_as_they_can_be(paths: list[str]) -> None:
    for path, name in zip(paths, distinct_suffixes(paths), strict=True):
        if name == path or "/" not in name:
            continue
        shorter = name.split("/", 1)[1]
        others = [p for p in paths if p != path]
        assert any(("/" + p).endswith("/" + shorter) for p in others)


def test_row_names_grow_when_a_file_of_the_same_name_arrives() -> None:
    names = RowNames()
    names.add(["/d/events-a/events.dat", "/d/notes.txt"])
    assert names.name("/d/events-a/events.dat") == "events.dat"
    names.add(["/d/events-b/events.dat"])
    assert names.name("/d/events-a/events.dat") == "events-a/events.dat"
    assert names.name("/d/events-b/events.dat") == "events-b/events.dat"
    assert names.name("/d/notes.txt") == "notes.txt"
    assert names.name("/elsewhere/unknown.bin") == "unknown.bin"


@given(unique_paths, st.data())
def test_row_names_learnt_in_any_batches_are_the_suffixes_of_them_all(
    paths: list[str], data: st.DataObject
) -> None:
    """However the paths arrive (in batches, some more than once), each row is named as if
    all of them had been told apart at once."""
    names = RowNames()
    arrivals = data.draw(st.lists(st.sampled_from(paths), max_size=30)) if paths else []
    for start in range(0, len(arrivals), 3):
        names.add(arrivals[start : start + 3])
    names.add(paths)
    assert [names.name(p) for p in paths] == distinct_suffixes(paths)
