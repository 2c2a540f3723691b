"""The running totals every display reads (engine.totals): fed Observer calls, they add up."""

from __future__ import annotations

from evio_fetch.engine.model import Failure, FileResult, FileSpec, PlanItem
from evio_fetch.engine.totals import RunTotals

MIB = 1024 * 1024


def spec(index: int, size: int | None) -> FileSpec:
    return FileSpec(index=index, label=f"f{index}", url=f"http://h/{index}", size=size)


def test_a_run_adds_up_resumed_restarted_failed_and_present_files() -> None:
    known, unknown, present, failing = spec(0, 10 * MIB), spec(1, None), spec(2, 5), spec(3, 8)
    totals = RunTotals()
    totals.planned(
        [
            PlanItem(known, "resume", "partial"),
            PlanItem(unknown, "fetch", "missing"),
            PlanItem(present, "skip", "present"),
            PlanItem(failing, "fetch", "missing"),
        ]
    )
    assert totals.files_total == 4 and totals.bytes_total is None
    totals.finished(FileResult(target=None, spec=present, outcome="present", bytes=5))
    assert (totals.bytes_done, totals.fetched.done) == (5, 0)

    totals.started(known, 10 * MIB, 4 * MIB)  # resumed: on disk, not arrived
    assert totals.advanced(known, 6 * MIB) == 2 * MIB
    totals.started(known, 10 * MIB, 0)  # started over: the best so far stands
    assert totals.advanced(known, 3 * MIB) == 0
    assert totals.advanced(known, 7 * MIB) == MIB
    assert totals.fetched.done == 7 * MIB

    totals.started(unknown, 3, 0)
    # Only files in flight are held one by one: the present file is in the sums alone.
    assert totals.files_in_flight == 2
    assert totals.bytes_total == 10 * MIB + 3 + 5 + 8
    assert totals.fetched.total == 10 * MIB + 3 + 8

    totals.advanced(failing, 2)
    failure = Failure("http_status", "the server answered HTTP 404", "check the URL")
    totals.finished(FileResult(target=None, spec=failing, outcome="failed", failure=failure))
    totals.finished(FileResult(target=None, spec=unknown, outcome="downloaded", bytes=3))
    totals.finished(FileResult(target=None, spec=known, outcome="downloaded", bytes=10 * MIB))
    # The failed file's rest left the total: everything counted is done.
    assert totals.bytes_done == totals.bytes_total == 10 * MIB + 3 + 5 + 2
    assert totals.fetched.done == totals.fetched.total == 10 * MIB + 3 + 2
    assert (totals.files_done, totals.files_failed) == (4, 1)
    assert totals.files_in_flight == 0


def test_a_file_the_plan_did_not_name_counts_as_it_comes() -> None:
    planned, stranger = spec(0, 4), spec(7, 6)
    totals = RunTotals()
    totals.planned([PlanItem(planned, "fetch", "missing")])
    assert totals.bytes_total == 4
    totals.advanced(stranger, 2)
    assert totals.bytes_total is None  # its size is not known yet
    totals.finished(FileResult(target=None, spec=stranger, outcome="downloaded", bytes=6))
    totals.finished(FileResult(target=None, spec=planned, outcome="downloaded", bytes=4))
    assert totals.bytes_done == totals.bytes_total == 10
    assert (totals.files_done, totals.files_total, totals.files_in_flight) == (2, 2, 0)
