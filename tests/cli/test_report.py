"""The end of a run (summary line, --json, exit status) and the units they are written in."""

from __future__ import annotations

import json
import math
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.cli.report import (
    JsonDocument,
    exit_status,
    interrupted_lines,
    json_document,
    json_parts,
    summary_line,
)
from evio_fetch.cli.units import clock_duration, human_bytes, human_duration, human_rate
from evio_fetch.engine.checksums import Checksum
from evio_fetch.engine.model import Failure, FileResult, FileSpec, Outcome

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def result(
    outcome: Outcome,
    nbytes: int = 0,
    *,
    index: int = 0,
    failure: Failure | None = None,
    url: str | None = None,
    drive_id: str | None = "1vB1cOZ",
) -> FileResult:
    spec = FileSpec(index=index, label=f"evio/data/{index}.dat", url=url, drive_id=drive_id)
    if outcome == "failed" and failure is None:
        failure = Failure("http_status", "HTTP 404 Not Found", "check the URL")
    target = f"/root/evio/data/{index}.dat" if outcome != "skipped" else None
    return FileResult(
        spec=spec,
        outcome=outcome,
        target=target,
        bytes=nbytes,
        seconds=1.23456,
        sha256="ab" * 32 if outcome == "downloaded" else None,
        failure=failure,
    )


# Units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (MIB - 1, "1.0 MiB"),  # 1023.999 KiB rounds up into the next unit, never "1024.0 KiB"
        (round(212.3 * MIB), "212.3 MiB"),
        (round(1.4 * GIB), "1.40 GiB"),
        (1024 * GIB, "1.00 TiB"),
    ],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


@given(st.integers(min_value=0, max_value=2**62))
def test_human_bytes_is_short_and_close(n: int) -> None:
    text = human_bytes(n)
    match = re.fullmatch(r"(\d+(?:\.\d{1,2})?) (B|KiB|MiB|GiB|TiB|PiB|EiB)", text)
    assert match is not None, text
    assert len(text) <= 10
    value = float(match[1])
    assert value < 1024
    scale = 1024 ** ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"].index(match[2])
    assert math.isclose(value * scale, n, rel_tol=0.05, abs_tol=0.5)


@pytest.mark.parametrize(
    ("bps", "text"),
    [
        (20 * MIB, "20.0 MiB/s"),
        (512.4, "512 B/s"),
        (0.0, "0 B/s"),
        (-5.0, "0 B/s"),
        (math.nan, "0 B/s"),
        (1.5 * GIB, "1.50 GiB/s"),
    ],
)
def test_human_rate(bps: float, text: str) -> None:
    assert human_rate(bps) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0 s"),
        (0.4, "0.4 s"),
        (9.96, "10 s"),
        (12.0, "12 s"),
        (59.6, "1 min 00 s"),  # never "60 s"
        (185.0, "3 min 05 s"),
        (3599.6, "1 h 00 min"),
        (3720.0, "1 h 02 min"),
        (-1.0, "0.0 s"),
        (math.inf, "?"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(21.33, "21.3 s"), (59.96, "1 min 00 s"), (61.0, "1 min 01 s")]
)
def test_precise_duration_keeps_tenths_below_a_minute(seconds: float, text: str) -> None:
    assert human_duration(seconds, precise=True) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-:--"),
        (math.inf, "-:--"),
        (0.0, "0:00"),
        (4.2, "0:05"),
        (185, "3:05"),
        (3725, "1:02:05"),
    ],
)
def test_clock_duration(seconds: float | None, text: str) -> None:
    assert clock_duration(seconds) == text


# Summary line ---------------------------------------------------------------------------


def test_summary_line_names_each_outcome_bytes_time_and_speed() -> None:
    total = round(1.4 * GIB)
    results = [
        result("downloaded", total - 2 * MIB, index=0),
        result("downloaded", MIB, index=1),
        result("downloaded", MIB, index=2),
        result("present", 5 * GIB, index=3),  # already there: neither bytes nor speed
        result("failed", index=4),
    ]
    assert (
        summary_line(results, 21.33)
        == "3 downloaded, 1 already present, 1 failed · 1.40 GiB in 21.3 s (67.2 MiB/s)"
    )


@pytest.mark.parametrize(
    ("outcomes", "elapsed", "text"),
    [
        ([], 0.2, "0 downloaded, 0 already present, 0 skipped, 0 failed · 0 B in 0.2 s"),
        (["present"] * 5, 0.2, "5 already present · 0 B in 0.2 s"),
        (
            ["downloaded", "skipped", "skipped"],
            200.0,
            "1 downloaded, 2 skipped · 10.0 MiB in 3 min 20 s (51.2 KiB/s)",
        ),
        (["failed", "failed"], 1.0, "2 failed · 0 B in 1.0 s"),
        (["downloaded"], 0.0, "1 downloaded · 10.0 MiB in 0.0 s"),
    ],
)
def test_summary_line_cases(outcomes: list[Outcome], elapsed: float, text: str) -> None:
    results = [
        result(o, 10 * MIB if o == "downloaded" else 0, index=i) for i, o in enumerate(outcomes)
    ]
    assert summary_line(results, elapsed) == text


INTERRUPTED = Failure("interrupted", "stopped before it finished", "run the same command again")


def test_interrupted_files_are_not_failures_and_their_kept_bytes_count() -> None:
    results = [
        result("downloaded", 10 * MIB, index=0),
        # Stopped in flight: 40 MiB kept, 30 of them fetched by this run.
        msgspec.structs.replace(
            result("failed", index=1, failure=INTERRUPTED), kept=40 * MIB, resumed=10 * MIB
        ),
        # Stopped before anything was kept.
        result("failed", index=2, failure=INTERRUPTED),
        result("skipped", index=3),
    ]
    assert summary_line(results, 4.0) == (
        "1 downloaded, 2 interrupted, 1 skipped · 40.0 MiB in 4.0 s (10.0 MiB/s)"
        " · 10.0 MiB resumed from an earlier run"
    )
    assert interrupted_lines(results, "evio-fetch -o data", hidden=False) == [
        "interrupted: 40.0 MiB kept in 1 partial file; run the same command again to resume:",
        "  evio-fetch -o data",
    ]


def test_a_resumed_download_counts_only_this_runs_bytes() -> None:
    # 100 MiB in place, of which 90.2 MiB an earlier run left: 9.8 MiB in 0.25 s.
    resumed = msgspec.structs.replace(result("downloaded", 100 * MIB), resumed=round(90.2 * MIB))
    assert summary_line([resumed], 0.25) == (
        "1 downloaded · 9.8 MiB in 0.2 s (39.2 MiB/s) · 90.2 MiB resumed from an earlier run"
    )


@pytest.mark.parametrize(
    ("kept", "hidden", "lines"),
    [
        (
            [5 * MIB, 0, MIB],
            False,
            [
                "interrupted: 6.0 MiB kept in 2 partial files; run the same command again to "
                "resume:",
                "  evio-fetch u",
            ],
        ),
        (
            [0],
            True,
            [
                "interrupted before anything was kept; run the same command again to start:",
                "  evio-fetch u",
                "  (*** stands for what is not shown: type it as you did)",
            ],
        ),
    ],
)
def test_interrupted_lines(kept: list[int], hidden: bool, lines: list[str]) -> None:
    results = [
        msgspec.structs.replace(result("failed", index=i, failure=INTERRUPTED), kept=k)
        for i, k in enumerate(kept)
    ]
    assert interrupted_lines(results, "evio-fetch u", hidden) == lines


# --json ---------------------------------------------------------------------------------


def sample() -> list[FileResult]:
    return [
        result("present", 7, index=0),
        result("downloaded", 100, index=1, url="https://example.org/a.bin", drive_id="ignored"),
        result(
            "failed",
            index=2,
            failure=Failure("disk_full", "no space left on /data", "free space, then re-run", 2),
        ),
        result("skipped", index=3),
        result("downloaded", 50, index=4),
    ]


def test_json_document_gives_the_checksum_as_algorithm_and_digest() -> None:
    checked = msgspec.structs.replace(result("downloaded", 3), checksum=Checksum("md5", "0f" * 16))
    (written,) = json.loads(json_document([checked], 1.0, "0.1.0"))["files"]
    assert written["checksum"] == "md5:" + "0f" * 16


def test_json_document_shape_order_and_values() -> None:
    raw = json_document(sample(), 12.34567, "0.1.0")
    assert raw.endswith(b"\n")
    doc = json.loads(raw)
    assert list(doc) == ["schema", "evio_fetch", "elapsed_seconds", "summary", "files"]
    assert doc["schema"] == 1
    assert doc["evio_fetch"] == "0.1.0"
    assert doc["elapsed_seconds"] == 12.346
    assert doc["summary"] == {
        "downloaded": 2,
        "present": 1,
        "failed": 1,
        "skipped": 1,
        "bytes": 150,
    }
    files = doc["files"]
    assert [f["label"] for f in files] == [f"evio/data/{i}.dat" for i in range(5)]
    assert all(
        list(f)
        == [
            "label",
            "path",
            "source",
            "outcome",
            "bytes",
            "seconds",
            "sha256",
            "error",
            "size_verified",
            "checksum",
            "resumed_bytes",
            "kept_bytes",
            "sources_used",
        ]
        for f in files
    )
    present, fetched, broken, skipped, _ = files
    assert present == {
        "label": "evio/data/0.dat",
        "path": "/root/evio/data/0.dat",
        "source": "1vB1cOZ",
        "outcome": "present",
        "bytes": 7,
        "seconds": 1.235,
        "sha256": None,
        "error": None,
        "size_verified": True,
        "checksum": None,
        "resumed_bytes": 0,
        "kept_bytes": 0,
        "sources_used": [],
    }
    assert fetched["source"] == "https://example.org/a.bin"  # a url comes before a Drive id
    assert fetched["sha256"] == "ab" * 32
    assert broken["path"] is None
    assert broken["error"] == {
        "code": "disk_full",
        "message": "no space left on /data",
        "hint": "free space, then re-run",
    }
    assert skipped["path"] is None
    assert skipped["error"] is None


def test_json_document_decodes_into_its_own_schema() -> None:
    doc = msgspec.json.decode(json_document(sample(), 1.0, "0.1.0"), type=JsonDocument)
    assert [f.outcome for f in doc.files] == [
        "present",
        "downloaded",
        "failed",
        "skipped",
        "downloaded",
    ]


@pytest.mark.parametrize("files_per_part", [1, 2, 4, 5, 1000])
def test_json_parts_join_into_the_document_a_single_encoding_gives(files_per_part: int) -> None:
    """The document is written in parts so that a run of very many files never holds all
    their entries at once; cut anywhere, the parts are the same bytes."""
    results = sample()
    parts = list(json_parts(results, 1.0, "0.1.0", files_per_part))
    assert len(parts) == 2 + -(-len(results) // files_per_part)
    whole = json.loads(b"".join(parts))
    assert b"".join(parts).endswith(b"]}\n")
    one = msgspec.json.decode(b"".join(parts), type=JsonDocument)
    assert msgspec.json.encode(one) + b"\n" == b"".join(parts)
    assert [f["label"] for f in whole["files"]] == [r.spec.label for r in results]


def test_json_document_of_nothing() -> None:
    doc = json.loads(json_document([], 0.0, "0.1.0"))
    assert doc["files"] == []
    assert doc["summary"] == {"downloaded": 0, "present": 0, "failed": 0, "skipped": 0, "bytes": 0}


def test_a_failure_without_a_reason_still_has_an_error_object() -> None:
    bare = FileResult(spec=FileSpec(index=0, label="x"), outcome="failed", target=None)
    error = json.loads(json_document([bare], 0.0, "0.1.0"))["files"][0]["error"]
    assert set(error) == {"code", "message", "hint"}
    assert error["hint"]


def test_the_sources_used_are_listed_with_their_secrets_hidden() -> None:
    used = ("https://alice:pw@mirror.example.org/a.bin?X-Amz-Signature=9f", "1vB1cOZ")
    fetched = msgspec.structs.replace(result("downloaded", 5), sources_used=used)
    entry = json.loads(json_document([fetched], 0.0, "0.1.0"))["files"][0]
    assert entry["sources_used"] == [
        "https://***@mirror.example.org/a.bin?X-Amz-Signature=***",
        "1vB1cOZ",
    ]


# Exit status ----------------------------------------------------------------------------


def failure(status: int) -> Failure:
    return Failure("x", "failed", "", status)


@pytest.mark.parametrize(
    ("results", "status"),
    [
        ([], 0),
        ([result("present"), result("present")], 0),  # nothing to attempt, all there
        ([result("downloaded"), result("present"), result("skipped")], 0),
        ([result("downloaded"), result("failed", failure=failure(1))], 1),
        # Files the plan skipped as present count: this is a partial success.
        ([result("present"), result("failed", failure=failure(1))], 1),
        # Complete failure: every file attempted failed and none is there.
        ([result("failed", failure=failure(1))], 2),
        ([result("failed", failure=failure(1)), result("failed", failure=failure(1))], 2),
        ([result("failed", failure=failure(1)), result("skipped")], 2),
        ([result("failed", failure=failure(1)), result("failed", failure=failure(2))], 2),
        ([result("failed", failure=failure(2)), result("downloaded")], 2),
        (
            [
                FileResult(spec=FileSpec(index=0, label="x"), outcome="failed", target=None),
                result("downloaded"),
            ],
            1,
        ),
    ],
)
def test_exit_status(results: list[FileResult], status: int) -> None:
    assert exit_status(results) == status
