"""The adversary can plant files in the output root before the run: a symlink, a directory, a
FIFO or a hard link where evio-fetch keeps its partial file and its state, a state file that
is a link, a directory that leads out of the root, a link under the name the server picks.
Each points at the directory planted beside the root, which must come out unchanged.

The promise: evio-fetch writes nothing outside the directory it was given. Files beside a
target are never followed through links nor reused when they are not what evio-fetch
itself made: the file fails with ``unsafe_path``, naming the culprit."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
from adversary import Adversary, File, Outside, Url
from faults import KIB, LAST_MODIFIED, MIB, FaultServer, Hold, Served
from invariant import Expect
from support import wait_until

from evio_fetch.engine import state as state_file
from evio_fetch.engine.blocks import BLOCK_SIZE
from evio_fetch.engine.platform_io import PLATFORM
from evio_fetch.engine.state import SegmentState, State

FAST_FAIL = ("--retries", "1", "--timeout", "3")
# A FIFO must never make the run wait: a hang fails the test well before pytest's own limit.
HANG = 30.0

Plant = Callable[[Path, Outside], None]


def symlink_to_victim(path: Path, outside: Outside) -> None:
    path.symlink_to(outside.victim)


def directory(path: Path, outside: Outside) -> None:
    path.mkdir()
    (path / "inside").write_bytes(b"mine")


def fifo(path: Path, outside: Outside) -> None:
    os.mkfifo(path)


def hard_link_to_victim(path: Path, outside: Outside) -> None:
    os.link(outside.victim, path)


@pytest.fixture
def served(server: FaultServer) -> Served:
    return server.add("/t.bin", size=2 * MIB)


@pytest.mark.parametrize(
    ("suffix", "plant"),
    [
        (".evio-part", symlink_to_victim),
        (".evio-state", symlink_to_victim),
        (".evio-part", directory),
        pytest.param(".evio-part", fifo, marks=pytest.mark.posix),
        (".evio-part", hard_link_to_victim),
    ],
    ids=["part-symlink", "state-symlink", "part-directory", "part-fifo", "part-hard-link"],
)
def test_a_planted_sidecar_fails_the_file_unsafe_path(
    adversary: Adversary, outside: Outside, served: Served, suffix: str, plant: Plant
) -> None:
    """Before the run, ``T.evio-part`` (or ``T.evio-state``) is planted as a symlink to a file
    outside the root, a directory, a FIFO, or a hard link to a file outside the root (a part
    file with more than one link was not made by evio-fetch).
    Expected: the file fails with ``unsafe_path`` and a message naming the planted path,
    exit 2; no ``T`` is created; the outside file is unchanged; the run never blocks."""
    target = adversary.target("data/t.bin")
    target.parent.mkdir(parents=True)
    planted = target.with_name(target.name + suffix)
    plant(planted, outside)
    outcome = adversary.fetch(
        [File(served, "data/t.bin", sha256=True)], *FAST_FAIL, "--segments", "2", timeout=HANG
    )
    assert outcome.status == 2, outcome.describe()  # its only file failed
    error = outcome.error("data/t.bin")
    assert error["code"] == "unsafe_path", error
    assert planted.name in error["message"], error


def genuine_state(served: Served, target: Path) -> State:
    """The state a run left after fetching nothing yet of ``served`` into ``target``."""
    return State(
        label="data/t.bin",
        url=served.url,
        target=str(target),
        size=served.size,
        etag=f'"{served.sha256[:20]}"',
        last_modified=LAST_MODIFIED,
        sha256=served.sha256,
        block_size=BLOCK_SIZE,
        segments=[SegmentState(0, served.size, 0)],
    )


def test_a_planted_state_temporary_is_never_written_through(
    adversary: Adversary, outside: Outside, served: Served
) -> None:
    """Beside ``T``, a partial download to resume (its state and part file) and
    ``T.evio-state.tmp``, where the next state is written before its rename, planted as a
    symlink to a file outside the root.
    Expected: the outside file is unchanged; the file either lands whole or fails with
    ``unsafe_path``."""
    target = adversary.target("data/t.bin")
    target.parent.mkdir(parents=True)
    state_file.save(target.with_name("t.bin.evio-state"), genuine_state(served, target))
    target.with_name("t.bin.evio-part").write_bytes(bytes(served.size))
    target.with_name("t.bin.evio-state.tmp").symlink_to(outside.victim)
    outcome = adversary.fetch([File(served, "data/t.bin", sha256=True)], *FAST_FAIL)
    entry = outcome.file("data/t.bin")
    if entry["outcome"] != "downloaded":
        assert outcome.error("data/t.bin")["code"] == "unsafe_path", outcome.describe()


def resume_from(adversary: Adversary, served: Served, state: Path) -> None:
    """``--resume-state state`` must be refused (exit 2), with nothing outside changed and
    nothing at the target."""
    target = adversary.target("data/t.bin")
    outcome = adversary.run(
        "--resume-state",
        str(state),
        *FAST_FAIL,
        expected=lambda: {"data/t.bin": Expect([served.data], target)},
        timeout=HANG,
    )
    assert outcome.status == 2, outcome.describe()


def test_resume_state_refuses_a_state_file_that_is_a_symlink(
    adversary: Adversary, outside: Outside, served: Served
) -> None:
    """``--resume-state root/data/t.bin.evio-state``, where that state file is a symlink to
    a genuine-looking state kept outside the root (beside it, a part file of the right size).
    Expected: refused, exit 2; the outside files are unchanged; no ``T``."""
    target = adversary.target("data/t.bin")
    target.parent.mkdir(parents=True)
    kept = outside.path / "t.bin.evio-state"
    state_file.save(kept, genuine_state(served, target))
    outside.taken()
    link = target.with_name("t.bin.evio-state")
    link.symlink_to(kept)
    target.with_name("t.bin.evio-part").write_bytes(bytes(served.size))
    resume_from(adversary, served, link)


def test_resume_state_refuses_a_part_file_that_is_a_symlink(
    adversary: Adversary, outside: Outside, served: Served
) -> None:
    """A genuine state file beside ``T``, whose ``T.evio-part`` is a symlink to a file
    outside the root.
    Expected: ``--resume-state`` refuses, exit 2; the outside file is unchanged; no ``T``."""
    target = adversary.target("data/t.bin")
    target.parent.mkdir(parents=True)
    state = target.with_name("t.bin.evio-state")
    state_file.save(state, genuine_state(served, target))
    target.with_name("t.bin.evio-part").symlink_to(outside.victim)
    resume_from(adversary, served, state)


def test_a_manifest_directory_that_links_out_of_the_root_is_refused(
    adversary: Adversary, outside: Outside, served: Served
) -> None:
    """``root/link`` is a symlink to the directory beside the root, and an entry's path is
    ``link/x.bin``.
    Expected: the manifest is refused before anything is fetched, exit 2, the message
    naming the entry's field (``datasets[0].path``) and the symlink."""
    (adversary.root / "link").symlink_to(outside.path)
    outcome = adversary.fetch([File(served, "link/x.bin")])
    assert outcome.status == 2, outcome.describe()
    assert outcome.report is None
    assert "datasets[0].path" in outcome.stderr, outcome.describe()
    assert "symlink" in outcome.stderr, outcome.describe()
    assert adversary.server.count("/t.bin") == 0


@pytest.mark.parametrize("same_size", [False, True], ids=["other-size", "same-size"])
def test_a_server_chosen_name_planted_as_a_symlink_is_not_followed(
    adversary: Adversary, outside: Outside, server: FaultServer, same_size: bool
) -> None:
    """With ``-o DIR``, ``DIR/x.bin`` is a planted symlink to a file outside the root, and the
    server names its file ``x.bin``; that file is of another size than the outside one, or
    of the same size.
    Expected: the outside file is unchanged; the download lands as a regular file inside
    ``DIR`` (under a free name, or replacing the link), never reported ``present`` through
    the link; exit 0."""
    size = outside.victim.stat().st_size if same_size else MIB
    served = server.add("/x.bin", size=size)
    (adversary.root / "x.bin").symlink_to(outside.victim)
    outcome = adversary.fetch_urls([Url(served)])
    assert outcome.status == 0, outcome.describe()
    assert outcome.file(served.url)["outcome"] == "downloaded", outcome.describe()


def holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux's /proc)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fds)
    except FileNotFoundError:
        return False
    found = set()
    for name in names:
        with suppress(OSError):  # closed meanwhile
            found.add(os.readlink(fds / name))
    return str(path) in found


@pytest.mark.posix
@pytest.mark.skipif(
    not PLATFORM.hold_directories,
    reason="directories are not held open here: the path-named fallback leaves this race",
)
@pytest.mark.parametrize(
    "hashing", [False, pytest.param(True, marks=pytest.mark.linux)], ids=["early", "hashing"]
)
def test_a_target_directory_swapped_for_a_symlink_mid_download_leads_nowhere(
    adversary: Adversary, outside: Outside, server: FaultServer, hashing: bool
) -> None:
    """While ``data/t.bin`` downloads (its partial and state files written, the server
    holding the rest of the body; with ``hashing``, once the command has opened the partial
    file to check its first bytes), the adversary moves ``root/data`` aside and puts in its
    place a symlink to the directory beside the root, where files named like the download's
    partial, state and state temporary wait to be overwritten or removed.
    Expected: nothing outside the root is created, changed or removed; the file fails or
    lands in the directory it was begun in (now ``root/moved``), never outside. Once
    hashing has begun, the bytes check out and the rename is what is refused, as
    ``unsafe_path``: the directory is no longer where the target's path leads. Before, the
    check of its bytes may fail first (``download_failed``), finding no such file there."""
    served = server.add("/t.bin", size=4 * MIB, faults=[Hold(after=256 * KIB)])
    for suffix in (".evio-part", ".evio-state", ".evio-state.tmp"):
        outside.plant(f"t.bin{suffix}", f"outside's own t.bin{suffix}\n".encode())
    data, moved = adversary.root / "data", adversary.root / "moved"

    def swap(pid: int) -> None:
        state = data / "t.bin.evio-state"
        wait_until(lambda: server.held() > 0 and state.exists(), HANG, "a body held mid-way")
        if hashing:
            part = data / "t.bin.evio-part"
            wait_until(lambda: holds_open(pid, part), HANG, "the check of the first bytes")
        data.rename(moved)
        data.symlink_to(outside.path, target_is_directory=True)
        server.release()

    outcome = adversary.fetch(
        [File(served, "data/t.bin", sha256=True)], *FAST_FAIL, timeout=HANG, during=swap
    )
    entry = outcome.file("data/t.bin")
    if entry["outcome"] == "failed":
        codes = ("unsafe_path",) if hashing else ("unsafe_path", "download_failed")
        assert outcome.error("data/t.bin")["code"] in codes, outcome.describe()
        assert not (moved / "t.bin").exists()
    else:
        assert (moved / "t.bin").read_bytes() == served.data, outcome.describe()
