"""The displays: what a run looks like on a terminal, in a log, and with --quiet."""

from __future__ import annotations

import io
import re

import msgspec
import pytest
from rich.cells import cell_len
from rich.console import Console

from evio_fetch.cli.board import RESUME_NOTE_SECONDS
from evio_fetch.cli.columns import shorten
from evio_fetch.cli.line_displays import PlainDisplay, QuietDisplay
from evio_fetch.cli.live_display import LiveDisplay
from evio_fetch.cli.rate_meter import STALL_GRACE_SECONDS, RateMeter
from evio_fetch.cli.render import make_display
from evio_fetch.engine.model import Failure, FileResult, FileSpec, PlanItem

MIB = 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def spec(index: int, size: int | None = None, label: str | None = None) -> FileSpec:
    return FileSpec(
        index=index,
        label=label or f"evio/data/fan/recording_{index}.dat",
        drive_id=f"id{index}",
        size=size,
    )


def plan(*specs: FileSpec) -> list[PlanItem]:
    return [PlanItem(s, "fetch", "missing") for s in specs]


def downloaded(s: FileSpec, nbytes: int, seconds: float = 1.0) -> FileResult:
    return FileResult(
        spec=s, outcome="downloaded", target=f"/data/{s.label}", bytes=nbytes, seconds=seconds
    )


def failed(s: FileSpec, message: str, hint: str = "", status: int = 1) -> FileResult:
    return FileResult(
        spec=s,
        outcome="failed",
        target=None,
        failure=Failure("http_status", message, hint, status),
    )


def terminal(width: int = 80) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=width, record=True)


def render(display: LiveDisplay, width: int) -> list[str]:
    """The board's lines as a terminal of ``width`` columns would show them."""
    console = terminal(width)
    console.print(display.frame())
    return [line.rstrip() for line in console.export_text().splitlines()]


def screen_lines(console: Console) -> list[str]:
    """What was written, split where the terminal starts a line (\n) or rewrites one (\r)."""
    assert isinstance(console.file, io.StringIO)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())
    return [line.rstrip() for line in re.split(r"[\r\n]", plain) if line.strip()]


def live(width: int = 80) -> tuple[LiveDisplay, Console, FakeClock]:
    console = terminal(width)
    clock = FakeClock()
    return LiveDisplay(console, clock=clock, auto_refresh=False), console, clock


def stream(display: LiveDisplay, clock: FakeClock, s: FileSpec, rate: float, seconds: float) -> int:
    """Feed ``rate`` bytes/s for ``seconds`` in reports four times a second, as workers batch."""
    done = 0
    for _ in range(round(seconds * 4)):
        clock.now += 0.25
        done += round(rate * 0.25)
        display.advanced(s, done)
    return done


# The live board -------------------------------------------------------------------------


def test_rows_only_for_files_in_flight() -> None:
    display, _, _ = live()
    specs = [spec(i, 10 * MIB) for i in range(5)]
    display.planned(plan(*specs))
    for s in specs:
        display.started(s, f"/data/{s.label}", 10 * MIB, 0)
    assert len(render(display, 80)) == 6
    for s in specs[:3]:
        display.finished(downloaded(s, 10 * MIB))
    lines = render(display, 80)
    assert len(lines) == 3  # the overall row and exactly the two files still in flight
    assert lines[0].startswith("3/5 files")
    assert [line.split()[0] for line in lines[1:]] == ["recording_3.dat", "recording_4.dat"]


def test_rows_tell_files_of_the_same_name_apart() -> None:
    display, _, _ = live()
    labels = ["events-a/events.dat", "events-b/events.dat", "events-b/notes.txt"]
    specs = [
        FileSpec(index=i, label=label, url=f"http://h/{i}", target=f"/data/{label}", size=MIB)
        for i, label in enumerate(labels)
    ]
    display.planned(plan(*specs))
    for s in specs[:2]:
        display.started(s, s.target or "", MIB, 0)
    names = [line.split()[0] for line in render(display, 80)[1:]]
    assert names == ["events-a/events.dat", "events-b/events.dat"]
    # A file named by its server, like one already planned, gets a name that tells them apart.
    late = FileSpec(index=3, label="http://h/events.dat", url="http://h/events.dat")
    display.started(late, "/out/events.dat", MIB, 0)
    names = [line.split()[0] for line in render(display, 80)[1:]]
    assert names == ["events-a/events.dat", "events-b/events.dat", "out/events.dat"]


def test_columns_do_not_narrow_when_a_long_name_finishes() -> None:
    display, _, _ = live()
    long, short = spec(0, 10 * MIB, "a_rather_long_recording_name.dat"), spec(1, 10 * MIB, "b.dat")
    display.planned(plan(long, short))
    for s in (long, short):
        display.started(s, f"/data/{s.label}", 10 * MIB, 0)
    before = render(display, 80)[2]
    display.finished(downloaded(long, 10 * MIB))
    after = render(display, 80)[1]
    # The bar of the file still in flight starts where it did: nothing shifts sideways.
    assert after.startswith("b.dat")
    assert re.search("[━╸╺]", after).start() == re.search("[━╸╺]", before).start()


def test_the_bar_stays_put_when_speed_and_eta_appear() -> None:
    display, _, clock = live()
    s = spec(0, 100 * MIB)
    display.planned(plan(s))
    display.started(s, f"/data/{s.label}", 100 * MIB, 0)
    before = render(display, 80)[1]
    stream(display, clock, s, 20 * MIB, 2.0)
    after = render(display, 80)[1]
    assert "MiB/s" in after and "MiB/s" not in before
    assert re.search("[━╸╺]", after).start() == re.search("[━╸╺]", before).start()


def test_no_row_before_started_and_5000_files_stay_one_row() -> None:
    display, _, _ = live()
    display.planned(plan(*(spec(i, MIB) for i in range(5000))))
    lines = render(display, 80)
    assert len(lines) == 1
    assert lines[0].startswith("0/5000 files")
    assert "0 B/4.88 GiB" in lines[0]


def test_finished_lines_are_printed_above_the_board() -> None:
    display, console, clock = live()
    a, b, c = spec(0, 2 * MIB), spec(1, 2 * MIB), spec(2)
    with display:
        display.planned(plan(a, b, c))
        display.started(a, "/data/a.dat", 2 * MIB, 0)
        clock.now = 1.0
        display.advanced(a, 2 * MIB)
        display.finished(downloaded(a, 2 * MIB, seconds=1.0))
        display.finished(FileResult(spec=b, outcome="present", target="/data/b.dat"))
        display.finished(failed(c, "quota exceeded for X", "wait a day, or download it by hand"))
    lines = screen_lines(console)
    assert "✓ evio/data/fan/recording_0.dat  2.0 MiB in 1.0 s (2.0 MiB/s)" in lines
    assert "· evio/data/fan/recording_1.dat  already present" in lines
    failure_at = next(i for i, line in enumerate(lines) if line.startswith("✗ "))
    assert lines[failure_at] == "✗ evio/data/fan/recording_2.dat: quota exceeded for X"
    assert lines[failure_at + 1] == "  hint: wait a day, or download it by hand"


def test_a_resumed_files_line_gives_the_speed_of_this_runs_bytes() -> None:
    s = spec(0, 100 * MIB, "data/events.dat")
    # 90.2 MiB were there already: 9.8 MiB in 0.25 s is 39.2 MiB/s, not 400 MiB/s.
    result = msgspec.structs.replace(
        downloaded(s, 100 * MIB, seconds=0.25), resumed=round(90.2 * MIB)
    )
    console, out = plain_console()
    PlainDisplay(console).finished(result)
    assert out.getvalue() == (
        "downloaded data/events.dat 100.0 MiB in 0.2 s (39.2 MiB/s), resumed from 90.2 MiB\n"
    )
    display, live_console, _ = live(100)
    display.finished(result)
    assert screen_lines(live_console) == [
        "✓ data/events.dat  100.0 MiB in 0.2 s (39.2 MiB/s), resumed from 90.2 MiB"
    ]


def test_long_failure_lines_are_not_cut() -> None:
    # A Drive link in a failure must survive whole: the terminal wraps it, rich does not cut it.
    display, console, _ = live(width=60)
    link = "https://drive.google.com/uc?export=download&id=" + "x" * 40
    display.finished(failed(spec(0), f"Drive quota exceeded; download it by hand: {link}"))
    assert link in console.export_text()
    assert f"\n{link}" not in console.export_text()


def test_row_removed_on_finish_even_when_failed() -> None:
    display, _, _ = live()
    a = spec(0, 100)
    display.planned(plan(a))
    display.started(a, "/data/a.dat", 100, 0)
    assert len(render(display, 80)) == 2
    display.finished(failed(a, "boom"))
    assert render(display, 80) == [render(display, 80)[0]]


def test_unknown_size_shows_bytes_and_speed_without_percent() -> None:
    display, _, clock = live()
    s = spec(0)
    display.planned(plan(s))
    display.started(s, "/data/unknown.raw", None, 0)
    stream(display, clock, s, 4 * MIB, 5.0)
    overall, row = render(display, 80)
    assert row.split() == [
        "unknown.raw",
        "━" * len(row.split()[1]),
        "20.0",
        "MiB",
        "4.0",
        "MiB/s",
        "-:--",
    ]
    # The overall row cannot know the total either: bytes without "/total", no ETA.
    assert "20.0 MiB " in overall
    assert "/" not in overall.replace("MiB/s", "").replace("0/1 files", "")
    assert overall.endswith("-:--")


def test_zero_byte_file() -> None:
    display, console, clock = live()
    s = spec(0, 0)
    display.planned(plan(s))
    display.started(s, "/data/empty.dat", 0, 0)
    _, row = render(display, 80)
    assert "100%" in row
    assert "0 B/0 B" in row
    clock.now = 0.1
    display.finished(downloaded(s, 0, seconds=0.0))
    assert "✓ evio/data/fan/recording_0.dat  0 B in 0.0 s" in console.export_text()
    assert render(display, 80)[0].startswith("1/1 files")


def test_sizes_come_from_plan_and_are_refined_by_started() -> None:
    display, _, _ = live()
    known, unknown = spec(0, 100 * MIB), spec(1)
    display.planned(plan(known, unknown))
    assert "0 B " in render(display, 80)[0]
    assert "/" not in render(display, 80)[0].split("files")[1].replace("MiB/s", "")
    display.started(unknown, "/data/b.dat", 50 * MIB, 0)
    assert "0 B/150.0 MiB" in render(display, 80)[0]


def test_skipped_plan_items_count_as_files_not_bytes() -> None:
    display, _, _ = live()
    fetch, skip = spec(0, 10 * MIB), spec(1, 99 * MIB)
    display.planned([PlanItem(fetch, "fetch", "missing"), PlanItem(skip, "skip", "present")])
    display.finished(FileResult(spec=skip, outcome="present", target="/data/x"))
    assert render(display, 80)[0].startswith("1/2 files")
    assert "0 B/10.0 MiB" in render(display, 80)[0]


def test_a_failed_files_rest_leaves_the_total() -> None:
    display, _, clock = live()
    a, b = spec(0, 10 * MIB), spec(1, 10 * MIB)
    display.planned(plan(a, b))
    display.started(a, "/data/a", 10 * MIB, 0)
    clock.now = 1.0
    display.advanced(a, 4 * MIB)
    display.finished(failed(a, "reset"))
    assert "4.0 MiB/14.0 MiB" in render(display, 80)[0]


def test_verifying_replaces_speed_and_eta() -> None:
    display, _, clock = live()
    s = spec(0, 8 * MIB)
    display.planned(plan(s))
    display.started(s, "/data/a.dat", 8 * MIB, 0)
    clock.now = 1.0
    display.advanced(s, 8 * MIB)
    display.verifying(s)
    row = render(display, 80)[1]
    assert row.endswith("verifying")
    assert "100%" in row


def test_a_file_retried_before_it_starts_has_a_row_saying_so() -> None:
    display, _, clock = live()
    s = FileSpec(index=0, label="data/a.bin", url="http://h/a.bin", target="/d/data/a.bin")
    display.planned(plan(s, spec(1, 10 * MIB)))
    display.retrying(s, 1, 5, "cannot connect (connection refused)", 2.5)
    overall, row = render(display, 80)
    assert row.split(maxsplit=1) == [
        "a.bin",
        "retrying 1/5: cannot connect (connection refused), next in 3 s",
    ]
    assert overall.startswith("0/2 files")
    clock.now = 2.0
    assert render(display, 80)[1].endswith("(connection refused), next in 1 s")
    clock.now = 2.6  # the pause is over: the attempt is under way
    assert render(display, 80)[1].endswith("retrying 1/5: cannot connect (connection refused)")
    display.retrying(s, 2, 5, "the server answered HTTP 503", 4.0)
    row = render(display, 80)[1]
    assert row.endswith("retrying 2/5: the server answered HTTP 503, next in 4 s")
    display.started(s, "/d/data/a.bin", 10 * MIB, 0)
    row = render(display, 80)[1]
    assert "retrying" not in row and row.split()[2:4] == ["0%", "0"]


def test_a_retrying_connection_shows_until_bytes_flow_after_its_pause() -> None:
    display, _, clock = live()
    s = spec(0, 100 * MIB)
    display.planned(plan(s))
    display.started(s, "/data/a.dat", 100 * MIB, 0)
    done = stream(display, clock, s, 10 * MIB, 2.0)
    display.retrying(s, 1, 5, "the connection was reset", 1.0)
    clock.now += 0.5
    display.advanced(s, done + MIB)  # the file's other connections go on meanwhile
    assert "retrying 1/5: the connection was reset, next in 1 s" in render(display, 80)[1]
    clock.now += 0.5
    display.advanced(s, done + 2 * MIB)
    row = render(display, 80)[1]
    assert "retrying" not in row and "MiB/s" in row


def test_a_resumed_file_says_from_where_then_shows_its_progress() -> None:
    display, _, clock = live()
    s = spec(0, 100 * MIB)
    display.planned(plan(s))
    display.started(s, "/data/a.dat", 100 * MIB, round(90.2 * MIB))
    assert render(display, 80)[1].split(maxsplit=1) == ["a.dat", "resuming from 90.2 MiB"]
    stream(display, clock, s, 0, 1.0)
    assert render(display, 80)[1].split(maxsplit=1) == ["a.dat", "resuming from 90.2 MiB"]
    clock.now = RESUME_NOTE_SECONDS
    row = render(display, 80)[1]
    assert row.split()[2:4] == ["90%", "90.2"]


@pytest.mark.parametrize("width", [40, 60])
def test_notes_are_cut_to_the_width_and_never_wrap(width: int) -> None:
    display, _, _ = live(width)
    specs = [spec(0, 10 * MIB, "a.dat"), spec(1, 10 * MIB, "b.dat")]
    display.planned(plan(*specs))
    display.started(specs[0], "/data/a.dat", 10 * MIB, 0)
    display.retrying(specs[1], 3, 5, "cannot connect (connection refused) " * 3, 2.0)
    lines = render(display, width)
    assert len(lines) == 3 and all(cell_len(line) <= width for line in lines)
    assert lines[2].startswith("b.dat") and lines[2].endswith("…")
    # The note begins right after the name column, which the overall row's name sets.
    assert lines[2].index("retrying") == len("1/2 files ") == len("0/2 files ")


def test_eta_and_speed_of_a_steady_file() -> None:
    display, _, clock = live()
    s = spec(0, 100 * MIB)
    display.planned(plan(s))
    display.started(s, "/data/a.dat", 100 * MIB, 0)
    stream(display, clock, s, 10 * MIB, 5.0)
    overall, row = render(display, 80)
    assert row.split()[2:] == ["50%", "50.0", "MiB/100.0", "MiB", "10.0", "MiB/s", "0:05"]
    assert overall.endswith("10.0 MiB/s 0:05")


def test_resumed_bytes_do_not_count_as_speed() -> None:
    display, _, clock = live()
    s = spec(0, 100 * MIB)
    display.planned(plan(s))
    display.started(s, "/data/a.dat", 100 * MIB, 60 * MIB)
    clock.now = 0.0
    for step in range(1, 9):
        clock.now = step * 0.25
        display.advanced(s, 60 * MIB + step * MIB // 4)
    assert "1.0 MiB/s" in render(display, 80)[1]


def test_speed_reads_unknown_until_warmed_up() -> None:
    display, _, clock = live()
    s = spec(0, 100 * MIB)
    display.planned(plan(s))
    display.started(s, "/data/a.dat", 100 * MIB, 0)
    clock.now = 0.1
    display.advanced(s, 50 * MIB)  # one huge first batch must not show as 500 MiB/s
    assert render(display, 80)[1].split()[-2:] == ["--", "-:--"]


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_no_row_wraps(width: int) -> None:
    display, _, clock = live(width)
    specs = [
        spec(0, 5 * 1024 * MIB, label="a"),
        spec(1, None, label="b"),
        spec(2, 0, label="c"),
        spec(3, 1023 * MIB, label="d"),
    ]
    display.planned(plan(*specs))
    names = [
        "fan_const_rpm_with_an_exceptionally_long_recording_name_2025-11-15.dat",
        "数据集_事件相机_录音_非常长的名字.raw",
        "z.dat",
        "short.dat",
    ]
    for s, name in zip(specs, names, strict=True):
        display.started(s, f"/data/{name}", s.size, 0)
    for _ in range(8):
        clock.now += 0.25
        display.advanced(specs[0], round(clock.now * 900 * MIB))
        display.advanced(specs[1], round(clock.now * 3 * MIB))
        display.advanced(specs[3], round(clock.now * 100 * MIB))
    lines = render(display, width)
    assert len(lines) == 5  # one line per row: nothing wrapped onto a second line
    assert all(cell_len(line) <= width for line in lines)
    assert "…" in lines[1]  # the long name was shortened in the middle
    assert lines[1].split()[0].endswith(".dat")


def test_entering_and_leaving_the_live_display_restores_the_terminal() -> None:
    console = terminal(60)
    display = make_display(console, quiet=False, clock=FakeClock())
    assert isinstance(display, LiveDisplay)
    with display as entered:
        assert entered is display
        s = spec(0, 10)
        display.planned(plan(s))
        display.started(s, "/data/x.dat", 10, 0)
        display.finished(downloaded(s, 10))
    assert "✓ evio/data/fan/recording_0.dat" in console.export_text()


# Speed smoothing ------------------------------------------------------------------------


def steady_meter(rate: float, seconds: float) -> tuple[RateMeter, float]:
    meter = RateMeter(0.0)
    now = 0.0
    for _ in range(round(seconds * 4)):
        now += 0.25
        meter.add(round(rate * 0.25), now)
    return meter, now


def test_steady_rate_is_reported_exactly() -> None:
    meter, now = steady_meter(20 * MIB, 10.0)
    assert meter.rate(now) == pytest.approx(20 * MIB, rel=1e-6)


@pytest.mark.parametrize(
    ("gap", "factor"),
    [
        (0.0, 4.0),  # two batches at the same instant, one of them four times the usual size
        (0.01, 4.0),  # a late batch arriving right behind the previous one
        (0.25, 4.0),  # one batch four times the usual size, on time
        (1.0, 8.0),  # a silent second, then everything at once
    ],
)
def test_a_burst_moves_the_speed_by_less_than_half(gap: float, factor: float) -> None:
    rate = 20 * MIB
    meter, now = steady_meter(rate, 10.0)
    before = meter.rate(now)
    assert before is not None
    meter.add(round(rate * 0.25 * factor), now + gap)
    after = meter.rate(now + gap)
    assert after is not None
    assert abs(after - before) / before < 0.5


def test_speed_is_unknown_before_warmup() -> None:
    meter = RateMeter(0.0)
    meter.add(10 * MIB, 0.1)
    assert meter.rate(0.1) is None
    meter.add(10 * MIB, 0.6)
    assert meter.rate(0.6) is not None


def test_a_stall_slows_the_speed_after_the_grace() -> None:
    meter, now = steady_meter(20 * MIB, 10.0)
    assert meter.rate(now + STALL_GRACE_SECONDS) == meter.rate(now)
    slowed = meter.rate(now + STALL_GRACE_SECONDS + 3.0)
    assert slowed is not None
    assert slowed < 0.5 * 20 * MIB


def test_the_speed_follows_a_real_change_within_seconds() -> None:
    meter, now = steady_meter(20 * MIB, 10.0)
    for _ in range(40):
        now += 0.25
        meter.add(round(5 * MIB * 0.25), now)
    assert meter.rate(now) == pytest.approx(5 * MIB, rel=0.15)
    for _ in range(40):
        now += 0.25
        meter.add(round(5 * MIB * 0.25), now)
    assert meter.rate(now) == pytest.approx(5 * MIB, rel=0.01)


# Names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("short.dat", 20, "short.dat"),
        ("fan_const_rpm_recording.dat", 15, "fan_con…ing.dat"),
        ("abcdef", 1, "…"),
        ("abcdef", 0, ""),
        ("数据集数据集.raw", 9, "数据….raw"),
    ],
)
def test_shorten(text: str, width: int, expected: str) -> None:
    assert shorten(text, width) == expected
    assert cell_len(shorten(text, width)) <= width


@pytest.mark.parametrize(
    ("text", "width", "tail", "expected"),
    [
        ("data/rec/events-a/events.dat", 24, 19, "data…events-a/events.dat"),
        # A tail wider than the room keeps what fits of it, beside one cell of the head.
        ("data/rec/events-a/events.dat", 20, 19, "d…vents-a/events.dat"),
        ("data/rec/events-a/events.dat", 10, 19, "d…ents.dat"),
        ("data/rec/events-a/events.dat", 24, 0, "data/rec/eve…/events.dat"),
    ],
)
def test_shorten_keeps_the_tail_that_tells_files_apart(
    text: str, width: int, tail: int, expected: str
) -> None:
    assert shorten(text, width, tail) == expected


def test_finished_lines_keep_the_name_that_told_their_rows_apart() -> None:
    display, console, _ = live(54)
    labels = ["data/rec/events-a/events.dat", "data/rec/events-b/events.dat"]
    specs = [
        FileSpec(index=i, label=label, url=f"http://h/{i}", target=f"/r/{label}", size=MIB)
        for i, label in enumerate(labels)
    ]
    display.planned(plan(*specs))
    for s in specs:
        display.started(s, s.target or "", MIB, 0)
    for s in specs:
        display.finished(downloaded(s, MIB, seconds=1.0))
    assert [line for line in screen_lines(console) if line.startswith("✓ ")] == [
        "✓ da…events-a/events.dat  1.0 MiB in 1.0 s (1.0 MiB/s)",
        "✓ da…events-b/events.dat  1.0 MiB in 1.0 s (1.0 MiB/s)",
    ]


# Plain and quiet ------------------------------------------------------------------------


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=40), out


def run_all(display: PlainDisplay | QuietDisplay) -> None:
    big = spec(0, label="evio/data/fan/x.dat")
    results = [
        downloaded(big, round(212.3 * MIB), seconds=3.1),
        FileResult(spec=spec(1, label="evio/data/fan/y.dat"), outcome="present", target="/y"),
        failed(spec(2, label="evio/data/fan/z.dat"), "HTTP 404 Not Found", "check the URL"),
        failed(spec(3, label="w.dat"), "disk full", status=2),
        FileResult(spec=spec(4, label="v.dat"), outcome="skipped", target=None),
    ]
    with display:
        display.planned(plan(*(r.spec for r in results)))
        display.started(big, "/data/x.dat", None, 0)
        display.advanced(big, 100)
        display.verifying(big)
        for result in results:
            display.finished(result)


def test_plain_lines_are_exact_and_never_wrap() -> None:
    console, out = plain_console()
    display = make_display(console, quiet=False)
    assert isinstance(display, PlainDisplay)
    run_all(display)
    assert out.getvalue().splitlines() == [
        "downloaded evio/data/fan/x.dat 212.3 MiB in 3.1 s (68.5 MiB/s)",
        "present evio/data/fan/y.dat",
        "FAILED evio/data/fan/z.dat: HTTP 404 Not Found (hint: check the URL)",
        "FAILED w.dat: disk full",
    ]


def test_quiet_shows_only_failures() -> None:
    console, out = plain_console()
    display = make_display(console, quiet=True)
    assert isinstance(display, QuietDisplay)
    run_all(display)
    assert out.getvalue().splitlines() == [
        "FAILED evio/data/fan/z.dat: HTTP 404 Not Found (hint: check the URL)",
        "FAILED w.dat: disk full",
    ]


def test_plain_says_each_retry_and_each_resume_in_one_line() -> None:
    console, out = plain_console()
    a, b = spec(0, 100 * MIB, "data/a.bin"), spec(1, None, "http://h/b.bin")
    with PlainDisplay(console) as display:
        display.planned(plan(a, b))
        display.retrying(a, 1, 5, "the server answered HTTP 503", 2.0)
        display.retrying(a, 2, 5, "cannot connect (connection refused)", 12.4)
        display.started(a, "/d/data/a.bin", 100 * MIB, round(90.2 * MIB))
        display.started(b, "/d/b.bin", None, 0)
        display.started(b, "/d/b.bin", None, 3 * MIB)
    assert out.getvalue().splitlines() == [
        "retrying data/a.bin (1/5, in 2.0 s): the server answered HTTP 503",
        "retrying data/a.bin (2/5, in 12 s): cannot connect (connection refused)",
        "resuming data/a.bin from 90.2 MiB of 100.0 MiB",
        "resuming http://h/b.bin from 3.0 MiB",
    ]


def test_quiet_says_nothing_of_retries_or_resumes() -> None:
    console, out = plain_console()
    with QuietDisplay(console) as display:
        display.retrying(spec(0), 1, 5, "the server answered HTTP 503", 2.0)
        display.started(spec(0), "/d/a.bin", MIB, MIB // 2)
    assert out.getvalue() == ""


def test_a_message_that_names_the_file_is_not_prefixed_with_it_again() -> None:
    url = "http://127.0.0.1:8/a.bin"
    results = [
        failed(spec(0, label="a.bin"), "a.bin: SHA256 mismatch: got 00, expected 11", "update"),
        failed(spec(1, label=url), f"{url}: the response body was cut off", "--retries"),
        failed(spec(2, label="data/c.bin"), f"{url}: the server answered HTTP 404", "check"),
    ]
    console, out = plain_console()
    display, live_console, _ = live(60)
    with PlainDisplay(console) as plain, display:
        for result in results:
            plain.finished(result)
            display.finished(result)
    assert out.getvalue().splitlines() == [
        "FAILED a.bin: SHA256 mismatch: got 00, expected 11 (hint: update)",
        f"FAILED {url}: the response body was cut off (hint: --retries)",
        f"FAILED data/c.bin: {url}: the server answered HTTP 404 (hint: check)",
    ]
    lines = screen_lines(live_console)
    assert "✗ a.bin: SHA256 mismatch: got 00, expected 11" in lines
    assert f"✗ {url}: the response body was cut off" in lines
    assert f"✗ data/c.bin: {url}: the server answered HTTP 404" in lines


def test_warnings_name_the_file_once() -> None:
    console, out = plain_console()
    PlainDisplay(console).warned(spec(0, label="a.bin"), "a.bin: changed on Drive; starting over")
    assert out.getvalue() == "warning: a.bin: changed on Drive; starting over\n"


def test_quiet_wins_on_a_terminal_too() -> None:
    assert isinstance(make_display(terminal(), quiet=True), QuietDisplay)


def test_a_dumb_terminal_gets_plain_lines() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, _environ={"TERM": "dumb"})
    assert isinstance(make_display(console, quiet=False), PlainDisplay)


def test_names_are_never_read_as_markup() -> None:
    console, out = plain_console()
    PlainDisplay(console).finished(
        FileResult(spec=spec(0, label="[bold]x[/bold].dat"), outcome="present", target="/x")
    )
    assert out.getvalue() == "present [bold]x[/bold].dat\n"
