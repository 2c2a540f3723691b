"""Content-Range and Content-Length reading: exact on good input, None on anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.content_range import (
    ContentRange,
    content_length,
    parse_content_range,
    range_header,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-99/100", ContentRange(0, 99, 100)),
        ("bytes 1048576-2097151/6764573184", ContentRange(1048576, 2097151, 6764573184)),
        ("BYTES 5-5/6", ContentRange(5, 5, 6)),
        ("bytes 0-99/*", ContentRange(0, 99, None)),
        ("bytes */100", ContentRange(None, None, 100)),
        ("bytes 5-4/100", None),
        ("bytes 0-100/100", None),
        ("bytes 0-99", None),
        ("items 0-99/100", None),
        ("bytes -1-99/100", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_content_range(value: str | None, expected: ContentRange | None) -> None:
    assert parse_content_range(value) == expected


@given(st.text())
def test_parse_content_range_never_raises(value: str) -> None:
    span = parse_content_range(value)
    if span is not None and span.first is not None:
        assert span.last is not None and span.first <= span.last
        assert span.total is None or span.last < span.total


@given(first=st.integers(0, 2**62), length=st.integers(1, 2**40), extra=st.integers(0, 2**40))
def test_round_trip(first: int, length: int, extra: int) -> None:
    last, total = first + length - 1, first + length + extra
    assert parse_content_range(f"bytes {first}-{last}/{total}") == (first, last, total)
    assert range_header(first, last) == f"bytes={first}-{last}"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Content-Length": "10"}, 10),
        ({"Content-Length": "10", "Content-Encoding": "gzip"}, 10),  # bodies are stored as served
        ({"Content-Length": "10", "Content-Encoding": "identity"}, 10),
        ({"Content-Length": "ten"}, None),
        ({"Content-Length": "\u0661\u0662"}, None),  # digits to Python, not to HTTP
        ({}, None),
    ],
)
def test_content_length(headers: dict[str, str], expected: int | None) -> None:
    assert content_length(headers) == expected
