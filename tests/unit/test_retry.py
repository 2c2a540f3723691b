"""The retry policy as a value: backoff, Retry-After, refills, give-ups. Nothing sleeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.errors import EvioError, HTTPStatusError, RangeError, TransportError
from evio_fetch.engine.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@given(st.text())
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, NOW)
    assert result is None or result >= 0


RNG = random.Random(0)


def fail(policy: RetryPolicy, error: EvioError) -> tuple[RetryPolicy, float] | None:
    """The policy and the pause after ``error``, or None when the policy gives up."""
    try:
        after = policy.increment(error)
    except EvioError as raised:
        assert raised is error  # the failure itself goes on up, unchanged
        return None
    return after, after.pause(error, RNG)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy, waits = RetryPolicy(20), []
    for _ in range(12):
        outcome = fail(policy, TransportError("x"))
        assert outcome is not None
        policy, wait = outcome
        waits.append(wait)
    ceilings = [min(30.0, 0.5 * 2**i) for i in range(12)]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))


def test_gives_up_after_the_retries_and_refills_with_progress() -> None:
    policy = RetryPolicy(2)
    for _ in range(2):
        outcome = fail(policy, TransportError("x"))
        assert outcome is not None
        policy = outcome[0]
    assert fail(policy, TransportError("x")) is None
    policy = policy.after_progress()  # bytes flowed again: the budget is full
    for _ in range(2):
        outcome = fail(policy, TransportError("x"))
        assert outcome is not None
        policy = outcome[0]
    assert fail(policy, TransportError("x")) is None


def test_a_policy_is_a_value() -> None:
    policy = RetryPolicy(1)
    policy.increment(TransportError("x"))
    assert policy.failures == 0  # the old value is unchanged; the caller keeps the new one


def test_permanent_errors_are_not_retried() -> None:
    assert fail(RetryPolicy(3), RangeError("x")) is None
    assert fail(RetryPolicy(3), HTTPStatusError("x", status=404)) is None


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert fail(RetryPolicy(3), HTTPStatusError("x", status=status)) is not None


def test_retry_after_is_honoured_and_too_long_a_pause_gives_up() -> None:
    outcome = fail(RetryPolicy(3), HTTPStatusError("x", status=503, retry_after=12.0))
    assert outcome is not None and outcome[1] >= 12.0
    too_long = HTTPStatusError("x", status=429, retry_after=MAX_RETRY_AFTER + 1)
    assert fail(RetryPolicy(3), too_long) is None
