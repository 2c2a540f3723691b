"""Command-line SOURCE arguments become file specs, or a usage error naming the argument."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.redaction import redact_url
from evio_fetch.engine.sources import specs_from_sources

FILE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
DOC_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcde"
KEY = "0-Ye4stR8bq1ZXhTnM3Wc2ug"

ACCEPTED = [
    # (source, url, drive_id, resource_key)
    ("https://example.org/big.bin", "https://example.org/big.bin", None, None),
    ("http://127.0.0.1:8080/files/a.dat?x=1", "http://127.0.0.1:8080/files/a.dat?x=1", None, None),
    ("HTTPS://EXAMPLE.ORG/X", "HTTPS://EXAMPLE.ORG/X", None, None),
    (" https://example.org/big.bin ", "https://example.org/big.bin", None, None),
    # a Drive export URL is an ordinary download
    (
        f"https://docs.google.com/document/d/{DOC_ID}/export?format=docx",
        f"https://docs.google.com/document/d/{DOC_ID}/export?format=docx",
        None,
        None,
    ),
    (FILE_ID, None, FILE_ID, None),
    (f"https://drive.google.com/file/d/{FILE_ID}/view?usp=sharing", None, FILE_ID, None),
    (f"https://drive.google.com/open?id={FILE_ID}", None, FILE_ID, None),
    (f"https://drive.google.com/uc?id={FILE_ID}&export=download", None, FILE_ID, None),
    (f"https://drive.usercontent.google.com/download?id={FILE_ID}", None, FILE_ID, None),
    (f"https://drive.google.com/file/d/{FILE_ID}/view?resourcekey={KEY}", None, FILE_ID, KEY),
]


@pytest.mark.parametrize(("source", "url", "drive_id", "key"), ACCEPTED)
def test_accepted_sources(
    tmp_path: Path, source: str, url: str | None, drive_id: str | None, key: str | None
) -> None:
    (spec,) = specs_from_sources([source], tmp_path)
    assert spec == FileSpec(
        index=0,
        label=redact_url(source),
        url=url,
        drive_id=drive_id,
        resource_key=key,
        output_dir=str(tmp_path),
    )


def test_labels_hide_secrets_and_urls_keep_them(tmp_path: Path) -> None:
    signed = "https://alice:pw@example.org/a.bin?X-Amz-Signature=abc"
    shared = f"https://drive.google.com/open?id={FILE_ID}&resourcekey={KEY}"
    web, drive = specs_from_sources([signed, shared], tmp_path)
    assert (web.label, web.url) == ("https://***@example.org/a.bin?X-Amz-Signature=***", signed)
    assert drive.label == f"https://drive.google.com/open?id={FILE_ID}&resourcekey=***"
    assert (drive.drive_id, drive.resource_key) == (FILE_ID, KEY)


def test_refusals_hide_secrets(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        specs_from_sources(["https://alice:pw@example.org/a b?sig=abc"], tmp_path)
    assert caught.value.message.startswith("source 'https://***@example.org/a b?sig=***' ")


def test_indexes_follow_start_index_in_order(tmp_path: Path) -> None:
    sources = ["https://example.org/a", FILE_ID, "https://example.org/b"]
    specs = specs_from_sources(sources, tmp_path, start_index=7)
    assert [(spec.index, spec.label) for spec in specs] == [
        (7, sources[0]),
        (8, FILE_ID),
        (9, sources[2]),
    ]


def test_output_dir_is_made_absolute_and_need_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (spec,) = specs_from_sources(["https://example.org/a"], Path("data/../new"))
    assert spec.output_dir == os.path.join(tmp_path, "new")
    assert spec.target is None


def test_no_sources_no_specs(tmp_path: Path) -> None:
    assert specs_from_sources([], tmp_path) == []


REFUSED = [
    # (source, message, hint fragment)
    (
        f"https://drive.google.com/drive/folders/{FILE_ID}",
        f"source https://drive.google.com/drive/folders/{FILE_ID} is a Google Drive folder; "
        "evio-fetch downloads files",
        f"evio-fetch manifest https://drive.google.com/drive/folders/{FILE_ID}",
    ),
    (
        f"https://docs.google.com/spreadsheets/d/{DOC_ID}/edit#gid=0",
        f"source 'https://docs.google.com/spreadsheets/d/{DOC_ID}/edit#gid=0' is a Google Docs "
        "document, which has no file to download",
        f"https://docs.google.com/spreadsheets/d/{DOC_ID}/export?format=xlsx",
    ),
    (
        f"https://docs.google.com/forms/d/{DOC_ID}/edit",
        f"source https://docs.google.com/forms/d/{DOC_ID}/edit is a Google Docs document, "
        "which has no file to download",
        "File > Download",
    ),
    (
        "ftp://example.org/x",
        "source ftp://example.org/x uses ftp:, which evio-fetch does not fetch",
        "http(s)",
    ),
    (
        "file:///etc/passwd",
        "source file:///etc/passwd uses file:, which evio-fetch does not fetch",
        "http(s)",
    ),
    (
        "example.org/big.bin",
        "source example.org/big.bin has no scheme; did you mean https://example.org/big.bin ?",
        "http(s)",
    ),
    (
        "./missing.bin",
        "source ./missing.bin looks like a local path, not a URL or Drive file ID",
        "http(s)",
    ),
    (
        "C:\\data\\x.bin",
        "source 'C:\\data\\x.bin' looks like a local path, not a URL or Drive file ID",
        "http(s)",
    ),
    ("hello", "source hello is not a URL, a Google Drive link or a Drive file ID", "http(s)"),
    ("", "source '' is empty", "http(s)"),
    ("https:///x", "source https:///x has no host name", "http(s)"),
    (
        "https://[::1/x",
        "source 'https://[::1/x' is not a valid URL: its host or port cannot be read",
        "percent-encode",
    ),
    (
        "http://a:pw/x@127.0.0.1/f",
        "source 'http://***@127.0.0.1/f' is not a valid URL: its host or port cannot be read",
        "percent-encode",
    ),
    (
        "https://exa mple.org/",
        "source 'https://exa mple.org/' contains spaces or control characters",
        "%20",
    ),
    (
        "https://example.org/a\x00b",
        "source 'https://example.org/a\x00b' contains spaces or control characters",
        "%20",
    ),
]


@pytest.mark.parametrize(("source", "message", "hint"), REFUSED)
def test_refused_sources_name_the_argument(
    tmp_path: Path, source: str, message: str, hint: str
) -> None:
    with pytest.raises(UsageError) as caught:
        specs_from_sources(["https://example.org/ok", source], tmp_path)
    assert caught.value.message == message
    assert hint in caught.value.hint
    assert caught.value.exit_status == 2


def test_an_existing_local_file_is_called_one(tmp_path: Path) -> None:
    local = tmp_path / "data.bin"
    local.write_bytes(b"x")
    with pytest.raises(UsageError) as caught:
        specs_from_sources([str(local)], tmp_path)
    assert caught.value.message == (
        f"source {local} is a local file or directory, not a URL or Drive file ID"
    )


@given(st.lists(st.text(max_size=40), max_size=4))
def test_any_text_gives_specs_or_a_usage_error(sources: list[str]) -> None:
    out = Path("/nonexistent/out")
    try:
        specs = specs_from_sources(sources, out)
    except UsageError as error:
        assert error.message.startswith("source ")
        return
    assert [spec.label for spec in specs] == [redact_url(source) for source in sources]
    for spec in specs:
        assert (spec.url is None) != (spec.drive_id is None)
        assert spec.output_dir == "/nonexistent/out"
