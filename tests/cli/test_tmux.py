"""The live display as a person sees it: the real command in a real terminal (a tmux pane of
a fixed size), its screen read with ``tmux capture-pane`` while the run goes on and after.

Each test runs its own tmux server on a private socket, so no other session is touched, and
kills it however the test ends. The loopback server caps each connection's rate so that a run
lasts a couple of seconds: long enough to see the board move.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import FaultServer, Status
from rich.cells import cell_len
from support import MIB, cli_command, require, wait_until, write_manifest

from evio_fetch.cli.units import human_bytes
from evio_fetch.engine import state as state_file
from evio_fetch.engine.loopback.dataset import DataFile, generate
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

pytestmark = pytest.mark.posix  # tmux

TMUX = shutil.which("tmux")


@pytest.fixture(autouse=True)
def needs_tmux() -> None:
    require(TMUX is not None, "tmux on PATH (the live display needs a real terminal)")


# Six files of different sizes, one with a name too long for a narrow pane.
FILES = [
    ("fan/fan_const_rpm_01.dat", MIB + 300_000),
    ("fan/fan_const_rpm_02.raw", MIB - 200_000),
    ("drone/drone_idle_03.dat", MIB + 100_000),
    ("drone/drone_idle_recording_with_a_long_name_04.raw", MIB),
    ("notes/README_05.txt", 600_000),
    ("fan/fan_varying_rpm_06.dat", MIB + 500_000),
]
RATE = MIB  # bytes per second per connection: each file takes about a second
CONCURRENCY = 2
HEIGHT = 24
DEADLINE = 20.0  # seconds; a run takes about 3

# What the user's environment must not carry into the pane: any of these would change what
# rich draws (a forced width, no colour, a non-interactive console) or nest tmux.
UNSET = (
    "CI",
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_INTERACTIVE",
    "TTY_COMPATIBLE",
    "COLUMNS",
    "LINES",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
    "TMUX",
    "TMUX_PANE",
)
# rich draws bars with these (━ done and to do, ╸ ╺ half cells); nothing else on screen does.
BAR = re.compile("[━╸╺]")
EXITED = re.compile(r"\[exit ([0-9]+)\]")
DEAD = re.compile(r"Pane is dead \(")
OVERALL = re.compile(r"^(\d+)/(\d+) files\b.*?\b(\d+)%")

Served = tuple[Path, list[DataFile], ServerThread]


class Pane:
    """One tmux server on a private socket, with one session of one pane of a fixed size."""

    def __init__(self, tmp_path: Path, width: int) -> None:
        assert TMUX is not None
        self.width = width
        self.session = "evio"
        self._socket = f"evio-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._config = tmp_path / f"tmux-{width}.conf"
        self._config.write_text(
            # Keep the pane (and its last screen) when the command exits, so the end can be
            # read; no status line, so the pane is the whole window.
            "set -g remain-on-exit on\n"
            "set -g status off\n"
            "set -g default-terminal xterm-256color\n"
            "set -g history-limit 1000\n"
        )
        self._env = {k: v for k, v in os.environ.items() if k not in UNSET}
        self._env.update(TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run(
            [TMUX, "-u", "-L", self._socket, "-f", str(self._config), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            env=self._env,
            stdin=subprocess.DEVNULL,
        )
        return done.stdout

    def start(self, command: list[str], cwd: Path) -> None:
        """Run ``command`` in the pane; when it ends, a shell prints ``[exit STATUS]`` after
        its output. That line on screen says both that the command ended and that all its
        output was drawn (tmux's own pane_dead_status can stay empty: it sometimes leaves the
        process unreaped). The shell outlives a Ctrl-C sent to the pane: its trap runs
        nothing, and a trap, unlike an ignored signal, is not handed down to the command."""
        # Several words after the options: tmux runs them directly; the command reaches the
        # shell as "$@", with nothing to quote.
        report = ["sh", "-c", 'trap : INT; "$@"; printf "\\n[exit %d]\\n" "$?"', "sh"]
        size = ("-x", str(self.width), "-y", str(HEIGHT))
        self.tmux("new-session", "-d", "-s", self.session, *size, "-c", str(cwd), *report, *command)

    def screen(self) -> list[str]:
        """The pane's lines as shown, history included; -J joins a line the terminal wrapped,
        so a line too wide for the pane shows as one long line."""
        text = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.session)
        lines = [line.rstrip() for line in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def __enter__(self) -> Pane:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        # The session may be gone already, and with it the server: then both fail, harmlessly.
        with contextlib.suppress(subprocess.CalledProcessError):
            self.tmux("kill-session", "-t", self.session)
        with contextlib.suppress(subprocess.CalledProcessError):
            self.tmux("kill-server")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "served"
    files = generate(root, FILES, seed=31)
    with ServerThread(root, ServerConfig(rate_per_connection=RATE)) as server:
        yield root, files, server


def command(manifest: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        *("-m", "evio_fetch.cli", "--manifest", str(manifest)),
        *("--concurrency", str(CONCURRENCY), "--workers", "2", "--segments", "1"),
        *extra,
    ]


def prepare(tmp_path: Path, served: Served, name: str) -> tuple[Path, Path]:
    """A manifest of the served files, and the empty directory they land in."""
    _, files, server = served
    work = tmp_path / name
    work.mkdir()
    entries = [(server.url_for(f.path), f"data/{f.path}", f) for f in files]
    return write_manifest(work / "m.json", entries), work


def board(lines: list[str]) -> tuple[list[str], list[str]]:
    """The overall lines and the file rows (lines with a bar that are not the overall)."""
    overall = [line for line in lines if OVERALL.match(line)]
    rows = [line for line in lines if BAR.search(line) and not OVERALL.match(line)]
    return overall, rows


def basename(file: DataFile) -> str:
    return file.path.rsplit("/", 1)[-1]


def shown_name(line: str) -> str:
    """The name in a finished line ``✓ NAME  1.0 MiB in 1.1 s (…)``."""
    return line.removeprefix("✓ ").split("  ", 1)[0]


def names_match(shown: str, label: str) -> bool:
    """``shown`` is ``label``, or ``label`` cut in the middle with an ellipsis."""
    if "…" not in shown:
        return shown == label
    head, tail = shown.split("…", 1)
    return bool(head) and bool(tail) and label.startswith(head) and label.endswith(tail)


def exit_status(screen: list[str]) -> int | None:
    """None while the command runs; its exit status once it has ended (see Pane.start)."""
    ended = [EXITED.fullmatch(line) for line in screen]
    return next((int(match[1]) for match in ended if match), None)


def too_wide(lines: list[str], width: int) -> list[str]:
    return [line for line in lines if cell_len(line) > width]


def watch_run(pane: Pane) -> tuple[list[list[str]], int]:
    """Every distinct screen until the command ends, and its exit status."""
    frames: list[list[str]] = []
    status: list[int] = []

    def ended() -> bool:
        screen = pane.screen()
        if not frames or frames[-1] != screen:
            frames.append(screen)
        code = exit_status(screen)
        if code is not None:
            status.append(code)
        return code is not None

    try:
        wait_until(ended, DEADLINE, "the command to end")
    except AssertionError as error:
        raise AssertionError(f"{error}; the screen:\n" + "\n".join(frames[-1])) from None
    # The last frame is the end: everything up to the [exit] line, which is not the tool's,
    # nor is tmux's own word that the pane's shell has ended.
    frames[-1] = [
        line for line in frames[-1] if not EXITED.fullmatch(line) and not DEAD.match(line)
    ]
    while frames[-1] and not frames[-1][-1]:
        frames[-1].pop()
    return frames, status[0]


@pytest.mark.parametrize("width", [80, 60])
def test_the_live_display_in_a_real_terminal(served: Served, tmp_path: Path, width: int) -> None:
    served_root, files, _ = served
    manifest, work = prepare(tmp_path, served, f"w{width}")
    with Pane(tmp_path, width) as pane:
        pane.start(command(manifest, "--yes"), work)
        frames, status = watch_run(pane)
    final = frames[-1]
    assert status == 0, "\n".join(final)

    # While running: an overall line (files, a percentage) and one bar per file in flight.
    running = [frame for frame in frames if board(frame)[1]]
    assert running, "no screen showed a file in flight:\n" + "\n".join(frames[-1])
    for frame in frames:
        overall, rows = board(frame)
        shown = "\n".join(frame)
        assert len(rows) <= CONCURRENCY, f"more bars than files in flight:\n{shown}"
        assert len(overall) <= 1, shown
        if rows:
            assert overall, f"file rows without the overall line:\n{shown}"
            counts = OVERALL.match(overall[0])
            assert counts is not None
            done, total, percent = counts.groups()
            assert int(total) == len(files) and int(done) <= len(files)
            assert 0 <= int(percent) <= 100
            # Each row names a file in flight (its base name, maybe cut in the middle), and
            # never one already reported finished above the board.
            finished = {shown_name(line) for line in frame if line.startswith("✓ ")}
            for row in rows:
                named = [f for f in files if names_match(row.split()[0], basename(f))]
                assert len(named) == 1, f"a row that names no file:\n{shown}"
                assert not any(names_match(n, f"data/{named[0].path}") for n in finished), shown
        assert not too_wide(frame, width), f"a line wider than {width} columns:\n{shown}"
        assert "[y/N]" not in shown  # --yes asks nothing

    # At the end: the board is gone; one ✓ line per file, and the summary.
    assert not board(final)[0] and not board(final)[1], "\n".join(final)
    done_lines = [line for line in final if line.startswith("✓ ")]
    labels = [f"data/{f.path}" for f in files]
    matched = sorted(
        label for line in done_lines for label in labels if names_match(shown_name(line), label)
    )
    assert matched == sorted(labels), "\n".join(final)
    summary = [line for line in final if line.startswith(f"{len(files)} downloaded")]
    assert len(summary) == 1, "\n".join(final)
    for f in files:
        assert (work / "data" / f.path).read_bytes() == (served_root / f.path).read_bytes()


def answer_prompt(
    pane: Pane, server: ServerThread, work: Path, keys: str
) -> tuple[list[list[str]], int]:
    """Wait for the [y/N] prompt, check nothing was fetched before it, answer with ``keys``
    and watch the run to its end."""

    def asked() -> bool:
        screen = pane.screen()
        if exit_status(screen) is not None:
            raise AssertionError("ended without asking:\n" + "\n".join(screen))
        return any("[y/N]" in line for line in screen)

    wait_until(asked, DEADLINE, "the [y/N] prompt")
    assert server.stats.requests == 0
    assert not (work / "data").exists()
    pane.send(keys, "Enter")
    return watch_run(pane)


def test_the_confirmation_prompt_accepts_y(served: Served, tmp_path: Path) -> None:
    served_root, files, server = served
    manifest, work = prepare(tmp_path, served, "prompt")
    with Pane(tmp_path, 80) as pane:
        pane.start(command(manifest), work)
        frames, status = answer_prompt(pane, server, work, "y")
    final = frames[-1]
    assert status == 0, "\n".join(final)
    assert any(line.startswith(f"{len(files)} downloaded") for line in final), "\n".join(final)
    for f in files:
        assert (work / "data" / f.path).read_bytes() == (served_root / f.path).read_bytes()


def test_declining_the_prompt_fetches_nothing(served: Served, tmp_path: Path) -> None:
    _, _, server = served
    manifest, work = prepare(tmp_path, served, "declined")
    with Pane(tmp_path, 80) as pane:
        pane.start(command(manifest), work)
        frames, status = answer_prompt(pane, server, work, "n")
    assert status == 1, "\n".join(frames[-1])
    assert any("Nothing fetched." in line for line in frames[-1])
    assert server.stats.requests == 0
    assert not (work / "data").exists()


# Trouble, interruption and resumption --------------------------------------------------------


def test_a_file_waiting_for_a_retry_has_a_row_saying_so(tmp_path: Path) -> None:
    """The server answers 503 with Retry-After 2 to the first two requests: before its
    download ever starts, the file has a row that says it is retried, why, and when."""
    with FaultServer() as server:
        served = server.add(
            "/later.bin", size=2 * MIB, faults=[Status(code=503, retry_after=2, times=2)]
        )
        with Pane(tmp_path, 80) as pane:
            pane.start([*cli_command("-o", "out", "--yes", served.url)], tmp_path)
            frames, status = watch_run(pane)
    final = frames[-1]
    assert status == 0, "\n".join(final)
    notes = {
        tuple(line.split(maxsplit=1)) for frame in frames for line in frame if "retrying" in line
    }
    reason = "the server answered HTTP 503"
    assert ("later.bin", f"retrying 1/5: {reason}, next in 2 s") in notes, notes
    assert ("later.bin", f"retrying 2/5: {reason}, next in 2 s") in notes, notes
    for frame in frames:
        assert not too_wide(frame, 80), "\n".join(frame)
        assert sum("retrying" in line for line in frame) <= 1, "\n".join(frame)
    assert any(line.startswith(f"✓ {served.url}  2.0 MiB in ") for line in final), final
    assert final[-1].startswith("1 downloaded · 2.0 MiB in "), final


# Two recordings with one file name, slow enough to interrupt and resume.
PAIR = [("rec/events-a/events.dat", 4 * MIB), ("rec/events-b/events.dat", 4 * MIB)]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "served"
    files = generate(root, PAIR, seed=7)
    with ServerThread(root, ServerConfig(rate_per_connection=RATE)) as server:
        yield root, files, server


def test_an_interrupted_run_and_its_resume(pair: Served, tmp_path: Path) -> None:
    """Ctrl-C halfway: the run says what it kept and the command that resumes it; that command
    says where each file resumes from, and the speed of the bytes it fetched itself."""
    served_root, files, _ = pair
    manifest, work = prepare(tmp_path, pair, "resume")
    targets = [work / "data" / f.path for f in files]
    args = command(manifest, "--yes")
    with Pane(tmp_path, 80) as pane:
        pane.start(args, work)
        wait_until(
            lambda: all(state_file.kept_bytes(t) > MIB for t in targets), DEADLINE, "1 MiB kept"
        )
        running = pane.screen()
        pane.send("C-c")
        frames, status = watch_run(pane)
    final = frames[-1]
    assert status == 130, "\n".join(final)
    # The rows told the two files of one name apart.
    names = sorted(row.split()[0] for row in board(running)[1])
    assert names == ["events-a/events.dat", "events-b/events.dat"], "\n".join(running)
    kept = [state_file.kept_bytes(t) for t in targets]
    total = human_bytes(sum(kept))
    assert final[-3].startswith(f"2 interrupted · {total} in "), "\n".join(final)
    assert final[-2:] == [
        f"interrupted: {total} kept in 2 partial files; run the same command again to resume:",
        "  evio-fetch " + shlex.join(args[3:]),
    ], "\n".join(final)
    assert not any("failed" in line for line in final), "\n".join(final)
    # The board is gone, the ^C the terminal echoed under it included.
    assert board(final) == ([], []), "\n".join(final)

    with Pane(tmp_path, 80) as pane:
        pane.start(args, work)
        frames, status = watch_run(pane)
    final = frames[-1]
    assert status == 0, "\n".join(final)
    notes = {
        tuple(line.split(maxsplit=1)) for frame in frames for line in frame if "resuming" in line
    }
    assert notes == {
        ("events-a/events.dat", f"resuming from {human_bytes(kept[0])}"),
        ("events-b/events.dat", f"resuming from {human_bytes(kept[1])}"),
    }, notes
    for f, before in zip(files, kept, strict=True):
        label = f"data/{f.path}"
        (line,) = [
            line for line in final if line.startswith("✓ ") and names_match(shown_name(line), label)
        ]
        assert line.endswith(f", resumed from {human_bytes(before)}"), line
        rate = re.search(r"\(([0-9.]+) (KiB|MiB)/s\)", line)
        assert rate is not None, line
        # Only this run's bytes over this run's time, through one capped connection.
        assert float(rate[1]) * (MIB if rate[2] == "MiB" else 1024) <= 1.5 * RATE, line
        assert (work / "data" / f.path).read_bytes() == (served_root / f.path).read_bytes()
    assert final[-1].startswith("2 downloaded · "), "\n".join(final)
    assert final[-1].endswith(f" · {total} resumed from an earlier run"), "\n".join(final)
