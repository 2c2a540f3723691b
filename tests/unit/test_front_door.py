"""The front door (engine.front_door, engine.request): one request, prepared alike for the
command line and the API, its warnings and refusals worded as each caller writes names."""

from __future__ import annotations

from pathlib import Path

import pytest

from evio_fetch.engine import spelling
from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.front_door import prepare
from evio_fetch.engine.model import Options
from evio_fetch.engine.request import Request, check_request

DRIVE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"


@pytest.mark.parametrize(
    ("spelled", "words"),
    [(spelling.CLI, "--concurrency 6 against Google Drive"), (spelling.API, "concurrency=6")],
)
def test_a_drive_burst_is_warned_of_before_anything_starts(
    spelled: spelling.Spelling, words: str, tmp_path: Path
) -> None:
    request = Request(sources=[DRIVE_ID], output_dir=tmp_path)
    plan = prepare(request, Options(concurrency=6, workers=1), spelled)
    assert [w for w in plan.warnings if words in w]
    assert prepare(request, Options(concurrency=5, workers=1), spelled).warnings == []
    assert list(tmp_path.iterdir()) == []  # a plan writes nothing


def test_a_shard_takes_its_share_of_the_request(tmp_path: Path) -> None:
    sources = [f"http://127.0.0.1:1/{n}.bin" for n in range(7)]
    shares = [
        prepare(
            Request(sources=sources, output_dir=tmp_path, shard=(k, 3)), Options(), spelling.API
        )
        for k in (1, 2, 3)
    ]
    labels = sorted(spec.label for plan in shares for spec in plan.specs)
    assert labels == sorted(sources)
    assert all(plan.entries == 7 and plan.shard is not None for plan in shares)


@pytest.mark.parametrize(
    ("request_", "cli_words", "api_words"),
    [
        (
            Request(sources=["http://h/a"], manifest=Path("m.json")),
            "--manifest m.json and 1 SOURCE argument",
            "manifest='m.json' and 1 sources argument",
        ),
        (Request(), "give either sources or --manifest", "give either sources or manifest"),
        (
            Request(resume_state=Path("a.evio-state"), sources=["http://h/a"]),
            "--resume-state cannot be combined with SOURCE",
            "resume_state cannot be combined with sources",
        ),
    ],
)
def test_refusals_name_things_as_each_caller_writes_them(
    request_: Request, cli_words: str, api_words: str
) -> None:
    for spelled, words in ((spelling.CLI, cli_words), (spelling.API, api_words)):
        with pytest.raises(UsageError) as refused:
            check_request(request_, spelled)
        assert words in refused.value.message
