"""A manifest entry's ``mirrors``: more http(s) URLs of the same bytes, checked like ``url``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evio_fetch.engine.errors import ManifestError
from evio_fetch.engine.manifest import decode_manifest
from evio_fetch.engine.model import SourceId

FILE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
URL = "https://example.org/a.bin"
MIRROR = "https://mirror.example.net/pub/a.bin?token=x"


def decoded(tmp_path: Path, **fields: Any) -> Any:
    data = json.dumps({"datasets": [{"path": "a.bin", **fields}]}).encode()
    return decode_manifest(data, tmp_path, "m.json").entries[0]


def test_mirrors_are_sources_after_the_url_and_the_drive_file(tmp_path: Path) -> None:
    spec = decoded(tmp_path, url=URL, id=FILE_ID, mirrors=[MIRROR])
    assert spec.mirrors == (MIRROR,)
    assert spec.sources() == [SourceId(URL), SourceId(FILE_ID, drive=True), SourceId(MIRROR)]


def test_an_entry_without_mirrors_has_its_url_and_drive_file(tmp_path: Path) -> None:
    assert decoded(tmp_path, url=URL).sources() == [SourceId(URL)]
    assert decoded(tmp_path, id=FILE_ID, mirrors=[]).sources() == [SourceId(FILE_ID, drive=True)]


def test_a_mirror_is_listed_once_and_never_as_the_url_again(tmp_path: Path) -> None:
    spec = decoded(tmp_path, url=URL, mirrors=[MIRROR, URL, MIRROR])
    assert spec.mirrors == (MIRROR,)


@pytest.mark.parametrize(
    ("mirrors", "problem", "hint"),
    [
        (MIRROR, "datasets[0].mirrors: expected a list, got a string", "list of http(s) URLs"),
        ([3], "datasets[0].mirrors[0]: expected a string, got a whole number", "list of http"),
        (
            ["ftp://h.org/a.bin"],
            "datasets[0].mirrors[0]: 'ftp://h.org/a.bin' is not an http(s)",
            "list",
        ),
        ([MIRROR, "https://"], "datasets[0].mirrors[1]: 'https://' is not an http(s) URL", "list"),
        (
            ["https://h.org/a b"],
            "datasets[0].mirrors[0]: 'https://h.org/a b' contains spaces",
            "list",
        ),
        (
            [f"https://drive.google.com/file/d/{FILE_ID}/view"],
            "datasets[0].mirrors[0]: https://drive.google.com/file/d/",
            "give the Drive file under id",
        ),
    ],
)
def test_bad_mirrors_refuse_the_manifest(
    tmp_path: Path, mirrors: Any, problem: str, hint: str
) -> None:
    with pytest.raises(ManifestError) as refused:
        decoded(tmp_path, url=URL, mirrors=mirrors)
    assert refused.value.message.startswith(f"m.json: {problem}"), refused.value.message
    assert hint in refused.value.hint
