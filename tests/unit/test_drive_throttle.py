"""Google throttling a client: HTTP 429, or its "automated queries" page with 403 or 503, is
a ``Throttled`` answer and a transient ``DriveThrottledError`` carrying Retry-After."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime

import pytest

from evio_fetch.engine.drive_pages import (
    Confirm,
    ErrorStatus,
    Quota,
    SignIn,
    Throttled,
    classify,
    throttle_from,
)
from evio_fetch.engine.errors import DriveThrottledError, HTTPStatusError
from evio_fetch.engine.retry import RetryPolicy

URL = "https://drive.usercontent.google.com/download?id=1Qv8pZk3nWfL0aTcR7sYh2JdXmBe6UgiN"
HTML = {"Content-Type": "text/html; charset=UTF-8"}
NOW = datetime(2025, 11, 15, 12, 0, 0, tzinfo=UTC)

# The two shapes of Google's notice, written for these tests after the pages users report.
SORRY = """<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"/>
<title>Sorry...</title><style>body { font-family: verdana, arial, sans-serif; }</style></head>
<body><div><table><tr><td><b><font color=#0039b6>G</font><font color=#c41200>o</font></b></td>
<td><div>Sorry...</div></td></tr></table></div>
<div style="margin-left: 4em;"><h1>We're sorry...</h1><p>... but your computer or network may
be sending automated queries. To protect our users, we can't process your request right
now.</p></div><div>See <a href="https://support.google.com/websearch/answer/86640">Google
Help</a> for more information.</div></body></html>"""

UNUSUAL = """<html><head><title>https://drive.google.com/uc?id=1Qv8pZk3&amp;export=download
</title></head><body><div style="max-width:400px;"><form id="captcha-form" action="index"
method="post"><input type="hidden" name="q" value="EgRkJx"><input type="submit"
name="submit" value="Submit"></form><div style="font-size:13px;"><b>About this page</b>
<br><br>Our systems have detected <i>unusual</i> traffic from your computer network. This page
checks to see if it's really you sending the requests, and not a robot.</div></div>
</body></html>"""

EXPIRED = (
    "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 403 (Forbidden)!!1</title>"
    "<p><b>403.</b> <ins>That's an error.</ins></p></html>"
)


def answer(status: int, body: str, **headers: str) -> object:
    return classify(status, {**HTML, **headers}, URL, body.encode())


@pytest.mark.parametrize("body", [SORRY, UNUSUAL, EXPIRED, "", "<p>Too many requests</p>"])
def test_429_is_throttling_whatever_the_page(body: str) -> None:
    assert answer(429, body) == Throttled(429)
    assert answer(429, body, **{"Retry-After": "30"}) == Throttled(429, "30")


def test_429_without_a_page() -> None:
    headers = {"Content-Type": "application/json", "retry-after": "7"}
    assert classify(429, headers, URL, b'{"error": {"code": 429}}') == Throttled(429, "7")
    assert classify(429, {}, URL, b"") == Throttled(429)


@pytest.mark.parametrize("status", [403, 503, 500])
@pytest.mark.parametrize("body", [SORRY, UNUSUAL])
def test_an_error_status_with_the_notice_is_throttling(status: int, body: str) -> None:
    assert answer(status, body, **{"Retry-After": "120"}) == Throttled(status, "120")


@pytest.mark.parametrize("status", [403, 503])
def test_the_same_statuses_without_the_notice_are_not(status: int) -> None:
    assert answer(status, EXPIRED) == ErrorStatus(status)
    assert classify(status, {"Content-Type": "application/json"}, URL, b"{}") == ErrorStatus(status)


def test_the_words_count_only_as_text_a_person_reads() -> None:
    hidden = (
        "<html><head><title>Error</title><script>var m = 'automated queries';</script>"
        "<style>p:after{content:'unusual traffic'}</style></head>"
        "<body><p>That's an error.</p></body></html>"
    )
    assert answer(403, hidden) == ErrorStatus(403)
    split = "<html><body><p>sending <b>automated</b>\n   queries</p></body></html>"
    assert answer(503, split) == Throttled(503)


def test_a_confirmation_page_naming_a_file_with_those_words_is_still_one() -> None:
    page = (
        "<html><head><title>Google Drive - Virus scan warning</title></head><body>"
        "<p>unusual traffic of automated queries.csv is too large to scan</p>"
        '<form id="download-form" action="https://drive.usercontent.google.com/download">'
        '<input type="hidden" name="id" value="X"><input type="hidden" name="confirm" value="t">'
        "</form></body></html>"
    )
    assert isinstance(answer(200, page), Confirm)


def test_quota_and_sign_in_outrank_throttling() -> None:
    quota = '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file'
    assert isinstance(answer(429, quota), Quota)
    assert answer(403, SORRY.replace("Sorry...</title>", "Sign in - Google Accounts</title>")) == (
        SignIn()
    )


def test_throttle_from_gives_the_error_to_raise() -> None:
    error = throttle_from(429, {"Retry-After": "90"}, None, label="fan.dat", now=NOW)
    assert isinstance(error, DriveThrottledError) and isinstance(error, HTTPStatusError)
    assert (error.code, error.status, error.retry_after, error.transient) == (
        "drive_throttled",
        429,
        90.0,
        True,
    )
    assert error.message.startswith("fan.dat: Google Drive is throttling")
    assert "90 s" in error.message
    assert "--segments" in error.hint and "--concurrency" in error.hint
    assert error.exit_status == 1


def test_throttle_from_reads_the_page_only_when_given() -> None:
    # A 403 mid-file is throttling only if its page says so; without the page, it is not.
    assert throttle_from(403, HTML, None, label="x") is None
    assert throttle_from(403, HTML, EXPIRED.encode(), label="x") is None
    error = throttle_from(403, HTML, SORRY.encode(), label="x", now=NOW)
    assert error is not None and (error.status, error.retry_after) == (403, None)
    assert error.transient  # although a bare 403 is not
    assert throttle_from(206, {"Content-Range": "bytes 0-0/9"}, None, label="x") is None
    assert throttle_from(200, HTML, SORRY.encode(), label="x") is None


def test_a_retry_after_date_becomes_seconds() -> None:
    date = "Sat, 15 Nov 2025 12:02:30 GMT"
    error = throttle_from(429, {"Retry-After": date}, None, label="x", now=NOW)
    assert error is not None and error.retry_after == 150.0
    unreadable = throttle_from(429, {"Retry-After": "soon"}, None, label="x", now=NOW)
    assert unreadable is not None and unreadable.retry_after is None
    assert "asks to wait" not in unreadable.message


def test_the_error_survives_a_process_boundary() -> None:
    error = throttle_from(503, HTML, UNUSUAL.encode(), label="x", now=NOW)
    assert error is not None
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DriveThrottledError
    assert (copy.message, copy.hint, copy.status, copy.retry_after) == (
        error.message,
        error.hint,
        503,
        None,
    )


def test_the_retry_policy_waits_as_long_as_google_asks() -> None:
    policy, rng = RetryPolicy(2), random.Random(1)
    error = throttle_from(429, {"Retry-After": "12"}, None, label="x", now=NOW)
    assert error is not None
    for _ in range(2):
        policy = policy.increment(error)
        assert policy.pause(error, rng) == 12.0
    with pytest.raises(type(error)):  # the budget is spent: the file fails, once
        policy.increment(error)
