"""A line names its file once: messages' subjects against the label put in front of them."""

from __future__ import annotations

import pytest

from evio_fetch.engine.subjects import about, what_happened

URL = "http://127.0.0.1:8080/d/a.bin"


@pytest.mark.parametrize(
    ("label", "message", "line"),
    [
        # The subject is the label: said once.
        (
            "a.bin",
            "a.bin: SHA256 mismatch: got 00, expected 11",
            "a.bin: SHA256 mismatch: got 00, expected 11",
        ),
        (URL, f"{URL}: the response body was cut off", f"{URL}: the response body was cut off"),
        # Another subject (the URL of a manifest entry, a path beside it) is information.
        (
            "data/a.bin",
            f"{URL}: the server answered HTTP 404",
            f"data/a.bin: {URL}: the server answered HTTP 404",
        ),
        (
            "a.bin",
            "/d/a.bin.evio-state: describes another download",
            "a.bin: /d/a.bin.evio-state: describes another download",
        ),
        # Only a whole leading subject counts.
        ("a.bin", "a.bin.evio-part: busy", "a.bin: a.bin.evio-part: busy"),
        ("a", "no subject here", "a: no subject here"),
    ],
)
def test_about_names_the_file_once(label: str, message: str, line: str) -> None:
    assert about(label, message) == line


@pytest.mark.parametrize(
    ("label", "message", "reason"),
    [
        (
            "data/a.bin",
            f"{URL}: cannot connect (connection refused)",
            "cannot connect (connection refused)",
        ),
        (
            "data/a.bin",
            f"{URL}?sig=***: the server answered HTTP 503",
            "the server answered HTTP 503",
        ),
        (
            "data/a.bin",
            "data/a.bin: Google Drive is throttling requests",
            "Google Drive is throttling requests",
        ),
        # A subject that is neither the label nor a URL stays: it says where.
        ("data/a.bin", "/d/x: a reason: with colons", "/d/x: a reason: with colons"),
        ("data/a.bin", f"{URL}: the body ended at byte 5: cut", "the body ended at byte 5: cut"),
    ],
)
def test_what_happened_drops_the_subject(label: str, message: str, reason: str) -> None:
    assert what_happened(message, label) == reason
