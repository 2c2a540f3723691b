"""The adversary is local: a manifest whose entries name each other's partial files, a state
file edited to vouch for bytes that were never written, a state file that names no file, and
two sources of one name and size that a second run must not mix up."""

from __future__ import annotations

import threading

import msgspec
import pytest
from adversary import Adversary, File, Url
from faults import KIB, MIB, Close, FaultServer
from support import wait_until
from test_confinement import genuine_state

from evio_fetch.engine import state as state_file

FAST_FAIL = ("--retries", "1", "--timeout", "5")


@pytest.mark.parametrize("suffix", [".evio-state", ".evio-part", ".evio-state.tmp", ".EVIO-PART"])
def test_an_entry_named_like_another_entrys_own_files_is_refused(
    adversary: Adversary, server: FaultServer, suffix: str
) -> None:
    """The manifest lists ``d/x.bin<suffix>`` and ``d/x.bin``: the first would be the second's
    partial or state file, and each download would destroy the other.
    Expected: the manifest is refused (exit 2) naming the entry; nothing is requested."""
    small = server.add("/small.bin", size=4096)
    big = server.add("/big.bin", size=MIB)
    outcome = adversary.fetch(
        [File(small, "d/x.bin" + suffix, sha256=True), File(big, "d/x.bin", sha256=True)]
    )
    assert outcome.status == 2, outcome.describe()
    assert "datasets[0].path" in outcome.stderr and suffix in outcome.stderr
    assert server.requests() == []


def test_a_state_claiming_bytes_never_written_is_not_trusted(
    adversary: Adversary, server: FaultServer
) -> None:
    """A first run is cut 512 KiB into the body and keeps its state. The state is then edited
    to vouch for 1 MiB - 1 bytes (inside the first block, which has no digest yet); the part
    holds zeros there. The manifest has no SHA256 to catch it.
    Expected: the second run fetches again what the state cannot prove and lands the
    server's bytes."""
    served = server.add("/w.bin", size=4 * MIB, faults=[Close(after=512 * KIB, times=1)])
    entry = File(served, "data/w.bin")
    args = ("--segments", "1", "--retries", "0", "--timeout", "5")
    assert adversary.fetch([entry], *args).status == 2  # its only file was cut
    path = adversary.target("data/w.bin.evio-state")
    saved = state_file.load(path)
    claimed = state_file.SegmentState(0, served.size, MIB - 1)
    state_file.save(path, msgspec.structs.replace(saved, segments=[claimed]))
    again = adversary.fetch([entry], *args)
    assert again.status == 0, again.describe()


@pytest.mark.parametrize("name", ["..", ".", ""])
def test_a_state_file_that_names_no_file_is_refused(
    adversary: Adversary, server: FaultServer, name: str
) -> None:
    """``--resume-state DIR/<name>.evio-state`` where ``<name>`` is ``..``, ``.`` or empty.
    Expected: refused with one line and exit 2, never a traceback; nothing is written."""
    served = server.add("/t.bin", size=2 * MIB)
    data = adversary.target("data")
    data.mkdir()
    state = data / (name + ".evio-state")
    state_file.save(state, genuine_state(served, adversary.target("data/t.bin")))
    before = sorted(p.name for p in data.iterdir())
    outcome = adversary.run("--resume-state", str(state), *FAST_FAIL, expected=dict)
    assert outcome.status == 2, outcome.describe()
    assert "Traceback" not in outcome.stderr
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_second_run_never_takes_one_source_for_another(
    adversary: Adversary, server: FaultServer
) -> None:
    """``/a/x.bin`` and ``/b/x.bin``: other bytes of one size. The first run lands them at
    ``x.bin`` and ``x (1).bin``. In the second, the one at ``x.bin`` answers last, so the
    other asks for a name first.
    Expected: each is reported where its own bytes are (present, or fetched again)."""
    a = server.add("/a/x.bin", size=MIB)
    b = server.add("/b/x.bin", size=MIB)
    first = adversary.fetch_urls([Url(a), Url(b)], "--concurrency", "1")
    assert first.status == 0, first.describe()
    late = a if first.landed(a.url).name == "x.bin" else b
    early = b if late is a else a
    gate = threading.Event()
    server.add(late.path, size=MIB, gate=gate)

    def open_the_gate() -> None:
        wait_until(lambda: server.count(early.path) >= 2, 60, "the early source's second probe")
        gate.set()

    opener = threading.Thread(target=open_the_gate)
    opener.start()
    again = adversary.fetch_urls([Url(a), Url(b)], "--concurrency", "2")
    opener.join()
    assert again.status == 0, again.describe()
    for served in (a, b):
        entry = again.file(served.url)
        with open(entry["path"], "rb") as landed:
            assert landed.read() == served.data, (served.path, entry)
