"""The adversary picks the names: two URLs that map to one file name, a Content-Disposition
that names evio-fetch's own sidecar files, a name already taken by the user's file, names
that climb out of the directory or point at an absolute path.

The promise: with ``-o DIR`` every file lands inside ``DIR``, never over a different existing
file, never under a name ending in evio-fetch's own suffixes, and two sources never share one
target."""

from __future__ import annotations

import random
import re

import pytest
from adversary import Adversary, Outside, Url
from faults import MIB, Change, FaultServer

OWN_SUFFIXES = (".evio-part", ".evio-state", ".evio-state.tmp")


def named(name: str) -> list[tuple[str, str]]:
    return [("Content-Disposition", f'attachment; filename="{name}"')]


def test_two_urls_with_one_name_land_apart_and_a_rerun_adds_no_copy(
    adversary: Adversary, server: FaultServer
) -> None:
    """``/a/x.bin`` and ``/b/x.bin`` (other bytes, other sizes) on one command line.
    Expected: both ``downloaded``, at ``DIR/x.bin`` and ``DIR/x (1).bin`` in either order,
    each holding its own bytes; exit 0. The same command again leaves exactly those two
    files, unchanged (no third copy)."""
    a = server.add("/a/x.bin", size=MIB + 1)
    b = server.add("/b/x.bin", size=MIB + 2)
    first = adversary.fetch_urls([Url(a), Url(b)])
    assert first.status == 0, first.describe()
    paths = {first.landed(a.url), first.landed(b.url)}
    assert paths == {adversary.root / "x.bin", adversary.root / "x (1).bin"}
    again = adversary.fetch_urls([Url(a), Url(b)])
    assert again.status == 0, again.describe()
    assert sorted(p.name for p in adversary.root.iterdir()) == ["x (1).bin", "x.bin"]
    assert first.landed(a.url).read_bytes() == a.data
    assert first.landed(b.url).read_bytes() == b.data


@pytest.mark.parametrize("suffix", OWN_SUFFIXES)
def test_a_server_name_with_a_sidecar_suffix_cannot_touch_the_genuine_file(
    adversary: Adversary, server: FaultServer, suffix: str
) -> None:
    """One URL serves ``x.bin``; in the same run another answers with
    ``Content-Disposition: attachment; filename="x.bin<suffix>"``, the name of the first
    one's partial or state file.
    Expected: both ``downloaded``, exit 0; the genuine file lands as ``DIR/x.bin`` (or, if
    the hostile name is cut down to ``x.bin`` and wins it, ``DIR/x (1).bin``) holding its
    genuine bytes with the right SHA256; the hostile file lands under a name that ends in
    none of evio-fetch's own suffixes."""
    genuine = server.add("/g/x.bin", size=3 * MIB)
    hostile = server.add("/h/file", size=3 * MIB, headers=named("x.bin" + suffix))
    outcome = adversary.fetch_urls([Url(genuine), Url(hostile)], "--segments", "2")
    assert outcome.status == 0, outcome.describe()
    assert re.fullmatch(r"x( \(\d+\))?\.bin", outcome.landed(genuine.url).name)
    assert not outcome.landed(hostile.url).name.endswith(OWN_SUFFIXES)


@pytest.mark.parametrize("same_size", [False, True], ids=["different-file", "same-size"])
def test_a_server_name_taken_by_a_user_file(
    adversary: Adversary, server: FaultServer, same_size: bool
) -> None:
    """``DIR/x.bin`` already holds the user's own file, and the server names its file
    ``x.bin``.
    Expected: the user's file is never overwritten. A file of another size is a different
    file: the download lands at ``DIR/x (1).bin``. A file of the server's size is taken as
    the one asked for: ``present``, left alone. Exit 0 either way."""
    served = server.add("/x.bin", size=MIB)
    mine = random.Random(3).randbytes(MIB if same_size else 1000)
    user_file = adversary.root / "x.bin"
    user_file.write_bytes(mine)
    outcome = adversary.fetch_urls([Url(served)])
    assert outcome.status == 0, outcome.describe()
    kept = user_file.read_bytes() == mine
    assert kept, "the user's file was overwritten"
    entry = outcome.file(served.url)
    if same_size:
        assert (entry["outcome"], entry["path"]) == ("present", str(user_file)), entry
    else:
        assert outcome.landed(served.url) == adversary.root / "x (1).bin"


def test_names_that_climb_out_or_are_only_dots_land_inside(
    adversary: Adversary, outside: Outside, server: FaultServer
) -> None:
    """Content-Disposition names ``../../escape.bin``, the absolute path of a file beside the
    root, ``..\\..\\evil.bin`` and ``..``.
    Expected: every file lands inside ``DIR`` under the last component of its name
    (``escape.bin``, ``victim.bin``, ``evil.bin``), and a name that is only dots gives way to
    the URL's (``dots.bin``); the file beside the root is unchanged; exit 0."""
    names = {
        "/cd/climb": ("../../escape.bin", "escape.bin"),
        "/cd/absolute": (str(outside.victim), "victim.bin"),
        "/cd/backslash": ("..\\\\..\\\\evil.bin", "evil.bin"),
        "/cd/dots.bin": ("..", "dots.bin"),
    }
    served = {
        path: server.add(path, size=4096, headers=named(name)) for path, (name, _) in names.items()
    }
    outcome = adversary.fetch_urls([Url(s) for s in served.values()])
    assert outcome.status == 0, outcome.describe()
    landed = {path: outcome.landed(s.url) for path, s in served.items()}
    assert landed == {path: adversary.root / name for path, (_, name) in names.items()}


def test_a_file_that_starts_over_keeps_the_name_it_was_given(
    adversary: Adversary, server: FaultServer
) -> None:
    """The file changes right after the first request (same size, new bytes), so its download
    starts over from zero. Expected: the second attempt lands where the first was placed,
    ``DIR/s.bin``, holding exactly version 2; no numbered copy, nothing else in ``DIR``;
    exit 0."""
    served = server.add("/s.bin", size=8 * MIB, faults=[Change(skip=1, times=1)])
    outcome = adversary.fetch_urls([Url(served)], "--segments", "4")
    assert outcome.status == 0, outcome.describe()
    assert outcome.landed(served.url) == adversary.root / "s.bin"
    assert outcome.landed(served.url).read_bytes() == server.representations("/s.bin")[1]
    assert [p.name for p in adversary.root.iterdir()] == ["s.bin"]
