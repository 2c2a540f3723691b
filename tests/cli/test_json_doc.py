"""docs/json.md keeps in step with the ``--json`` document the code writes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

from evio_fetch.cli.plan_json import PLAN_SCHEMA, plan_document
from evio_fetch.cli.report import SCHEMA, json_document
from evio_fetch.engine.errors import ALL_ERRORS
from evio_fetch.engine.model import Action, Failure, FileResult, FileSpec, Outcome, PlanItem

DOC = Path(__file__).resolve().parents[2] / "docs" / "json.md"
PLAN_SECTION = "\n## The plan: `--dry-run --json`\n"


def results() -> list[FileResult]:
    """One file of every outcome: a success, a skip by the plan, a failure, one not tried."""
    url = FileSpec(index=0, label="https://example.org/a.bin", url="https://example.org/a.bin")
    drive = FileSpec(index=1, label="evio/b.dat", drive_id="1vB1cOZ", target="/r/evio/b.dat")
    return [
        FileResult(
            spec=url,
            outcome="downloaded",
            target="/o/a.bin",
            bytes=5,
            seconds=0.5,
            sha256="ab" * 32,
        ),
        FileResult(spec=drive, outcome="present", target="/r/evio/b.dat", bytes=7),
        FileResult(
            spec=url,
            outcome="failed",
            target=None,
            seconds=0.2,
            failure=Failure("http_status", "HTTP 404", "check the URL"),
        ),
        FileResult(
            spec=drive,
            outcome="skipped",
            target="/r/evio/b.dat",
            failure=Failure("disk_full", "no space left", "free space", 2),
        ),
    ]


def key_paths(value: object, prefix: str = "") -> set[str]:
    """``summary.bytes``, ``files[].error.code``: every key of a decoded document."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found |= {path} | key_paths(inner, path)
    elif isinstance(value, list):
        for item in value:
            found |= key_paths(item, f"{prefix}[]")
    return found


def table_rows(text: str) -> list[str]:
    """The first cell of every table row that starts with a `code` cell."""
    return [line.split("|")[1].strip(" `") for line in text.splitlines() if line.startswith("| `")]


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def report_part() -> str:
    """docs/json.md up to the plan's section: the report's documentation."""
    text = DOC.read_text()
    return text[: text.index(PLAN_SECTION)]


def test_every_key_written_is_documented_and_every_documented_key_is_written() -> None:
    document = json.loads(json_document(results(), 1.23456, "9.9.9"))
    written = key_paths(document)
    documented = set(table_rows(report_part())) - set(get_args(Outcome))
    assert written == documented


def test_the_documented_schema_is_the_codes() -> None:
    text = DOC.read_text()
    match = re.search(r"^Schema version: \*\*(\d+)\*\*$", text, re.MULTILINE)
    assert match is not None and int(match[1]) == SCHEMA
    assert json.loads(json_document(results(), 0.0, "9.9.9"))["schema"] == SCHEMA
    assert f'{{"schema": {SCHEMA},' in text  # the example too


def test_every_outcome_is_documented() -> None:
    rows = table_rows(section(DOC.read_text(), "Outcomes"))
    assert rows == list(get_args(Outcome))


def test_the_example_has_the_documents_keys() -> None:
    text = DOC.read_text()
    start = text.index("```json\n") + len("```json\n")
    example = text[start : text.index("\n```", start)]
    written = key_paths(json.loads(json_document(results(), 0.0, "9.9.9")))
    assert key_paths(json.loads(example)) == written


def test_error_codes_are_those_of_errors_md() -> None:
    text = DOC.read_text()
    assert "[errors.md](errors.md)" in text
    codes = {error.code for error in ALL_ERRORS} | {"interrupted", "internal"}
    named = set(re.findall(r"`([a-z_]+)`", section(text, "`files[]`")))
    assert {"http_status", "checksum_mismatch", "interrupted"} <= named & codes


# The plan (--dry-run --json) ------------------------------------------------------------


def plan_items() -> list[PlanItem]:
    """One file of every action, a file named by the server among them."""
    manifest = FileSpec(index=0, label="evio/a.dat", drive_id="1vB1cOZ", target="/r/evio/a.dat")
    source = FileSpec(index=1, label="https://example.org/b.bin", url="https://example.org/b.bin")
    return [
        PlanItem(manifest, "resume", "partial download found", "/r/evio/a.dat", size=9, partial=4),
        PlanItem(manifest, "skip", "already present", "/r/evio/a.dat", size=9),
        PlanItem(source, "fetch", "named by the server", "/o/b.bin", guessed=True),
    ]


def plan_part() -> str:
    text = DOC.read_text()
    return text[text.index(PLAN_SECTION) :]


def test_every_plan_key_written_is_documented_and_every_documented_key_is_written() -> None:
    written = key_paths(json.loads(plan_document(plan_items(), "9.9.9", (2, 4))))
    documented = set(table_rows(plan_part())) - set(get_args(Action))
    assert written == documented


def test_the_plan_example_has_the_documents_keys() -> None:
    text = plan_part()
    start = text.index("```json\n") + len("```json\n")
    example = json.loads(text[start : text.index("\n```", start)])
    written = json.loads(plan_document(plan_items(), "9.9.9", None))
    assert key_paths(example) == key_paths(written)
    assert example["schema"] == written["schema"] == PLAN_SCHEMA


def test_the_documented_plan_schema_is_the_codes() -> None:
    match = re.search(r"^Plan schema version: \*\*(\d+)\*\*$", plan_part(), re.MULTILINE)
    assert match is not None and int(match[1]) == PLAN_SCHEMA


def test_every_action_is_documented() -> None:
    rows = table_rows(plan_part().split("The actions:")[1])
    assert rows == list(get_args(Action))
