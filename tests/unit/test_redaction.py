"""What a URL looks like once its secrets are hidden, alone and inside a message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.errors import HTTPStatusError
from evio_fetch.engine.model import to_failure
from evio_fetch.engine.redaction import redact_url, scrub_urls

FILE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
KEY = "0-Ye4stR8bq1ZXhTnM3Wc2ug"

REDACTED = [
    ("https://example.org/a.bin", "https://example.org/a.bin"),
    ("https://alice:s3cret@example.org/a.bin", "https://***@example.org/a.bin"),
    ("https://ghp_token@example.org/a.bin", "https://***@example.org/a.bin"),
    ("http://u:p@ss@example.org:8080/", "http://***@example.org:8080/"),
    ("http://u:p@[::1]:8080/x", "http://***@[::1]:8080/x"),
    ("https://u:p@example.org", "https://***@example.org"),
    (
        "https://b.s3.amazonaws.com/k/a.bin?X-Amz-Date=1&X-Amz-Signature=abc",
        "https://b.s3.amazonaws.com/k/a.bin?X-Amz-Date=***&X-Amz-Signature=***",
    ),
    ("https://example.org/a?token", "https://example.org/a?***"),
    ("https://example.org/a?x=1&&y=", "https://example.org/a?x=***&&y="),
    ("https://example.org/a?", "https://example.org/a?"),
    ("https://example.org/get?id=42", "https://example.org/get?id=***"),
    ("https://example.org/a#gid=0", "https://example.org/a#gid=0"),
    ("https://u:p@example.org/a?s=1#f?g=2", "https://***@example.org/a?s=***#f?g=2"),
    # Google Drive: the file ID stays in sight, the resource key does not.
    (
        f"https://drive.google.com/open?id={FILE_ID}&resourcekey={KEY}",
        f"https://drive.google.com/open?id={FILE_ID}&resourcekey=***",
    ),
    (
        f"https://drive.google.com/file/d/{FILE_ID}/view?usp=sharing&resourcekey={KEY}",
        f"https://drive.google.com/file/d/{FILE_ID}/view?usp=***&resourcekey=***",
    ),
    (
        f"drive.google.com/uc?export=download&id={FILE_ID}&resourcekey={KEY}",
        f"drive.google.com/uc?export=***&id={FILE_ID}&resourcekey=***",
    ),
    (FILE_ID, FILE_ID),
    # Not URLs: left alone.
    ("data/what?.bin", "data/what?.bin"),
    ("user@example.org", "user@example.org"),
]


@pytest.mark.parametrize(("url", "shown"), REDACTED)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown  # hiding twice changes nothing


SCRUBBED = [
    (
        "https://u:p@h/a.bin?sig=abc: the server answered HTTP 404",
        "https://***@h/a.bin?sig=***: the server answered HTTP 404",
    ),
    ("see (https://h/x?sig=abc).", "see (https://h/x?sig=***)."),
    ("source 'https://u:p@h/a' is odd", "source 'https://***@h/a' is odd"),
    (
        "unexpected InvalidURL: URL('http://u:p@h/x')",
        "unexpected InvalidURL: URL('http://***@h/x')",
    ),
    ("from http://a/x?k=1 to https://u:p@b/y", "from http://a/x?k=*** to https://***@b/y"),
    ("data/a?b.bin: no such file", "data/a?b.bin: no such file"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "shown"), SCRUBBED)
def test_scrub_urls(text: str, shown: str) -> None:
    assert scrub_urls(text) == shown


SECRET_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%"


@given(
    password=st.text(SECRET_CHARS, min_size=6).map(lambda s: "Zq" + s),
    signature=st.text(SECRET_CHARS, min_size=6).map(lambda s: "Zq" + s),
    after=st.sampled_from(["", ": cut off", ". ", ") and more", "' quoted"]),
)
def test_no_secret_survives_in_a_message(password: str, signature: str, after: str) -> None:
    url = f"https://user:{password}@example.org:8443/d/a.bin?sig={signature}&n=1"
    shown = scrub_urls(f"fetching {url}{after}")
    assert password not in shown and signature not in shown
    assert "https://***@example.org:8443/d/a.bin?sig=***&n=***" in shown


def test_errors_hide_secrets_wherever_they_are_made() -> None:
    error = HTTPStatusError("https://u:pw@h/a?sig=abc: HTTP 404", "see https://h/x?format=a", 404)
    failure = to_failure(error)
    assert failure.message == "https://***@h/a?sig=***: HTTP 404"
    assert failure.hint == "see https://h/x?format=a"  # a link of ours, to be followed as is
    unexpected = to_failure(ValueError("bad https://u:pw@h/a"))
    assert "pw" not in unexpected.message
