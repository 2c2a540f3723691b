"""When and how long to wait before trying a request again, as a value.

Pure: the random source is injected, and the caller does the sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime

from evio_fetch.engine.errors import EvioError, HTTPStatusError
from evio_fetch.engine.model import FileSpec, Retrying
from evio_fetch.engine.subjects import what_happened

# A server asking for a longer pause than this is not waited for: the file fails now, with
# the server's word in the message, rather than holding the run for an hour.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many transient failures in a row one stream of work may meet, and how long to wait
    after each: a value, never changed in place. ``increment`` gives the policy after a failure
    (or raises that failure when it is not to be retried); ``after_progress`` gives the policy
    once bytes flowed again, so failures spread over a long download never add up to a
    spurious give-up. The file loop and every connection's loop consult the same rules."""

    retries: int
    failures: int = 0
    base_delay: float = 0.5
    max_delay: float = 30.0

    def increment(self, error: EvioError) -> RetryPolicy:
        """The policy after ``error``. Raises ``error`` when it is permanent, the attempts are
        spent, or the server asks for too long a pause."""
        asked = retry_after(error)
        if not error.transient or (asked is not None and asked > MAX_RETRY_AFTER):
            raise error
        after = replace(self, failures=self.failures + 1)
        if after.failures > self.retries:
            raise error
        return after

    def after_progress(self) -> RetryPolicy:
        return replace(self, failures=0) if self.failures else self

    def pause(self, error: EvioError, rng: random.Random) -> float:
        """Seconds to wait before the next attempt: full-jitter exponential backoff, or the
        server's Retry-After when it asks for longer."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, self.failures - 1))
        wait = rng.uniform(ceiling / 2, ceiling)
        asked = retry_after(error)
        return wait if asked is None else max(wait, asked)


def retry_event(spec: FileSpec, policy: RetryPolicy, error: EvioError, pause: float) -> Retrying:
    """What the parent is told when a request of ``spec`` is tried again after ``error``
    (``policy``: the policy after it), in ``pause`` seconds."""
    reason = what_happened(error.message, spec.label)
    return Retrying(spec.index, policy.failures, policy.retries, reason, pause)


def retry_after(error: EvioError) -> float | None:
    """The pause the server asked for with the answer behind ``error``, if any."""
    return error.retry_after if isinstance(error, HTTPStatusError) else None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delta-seconds or an HTTP date
    (RFC 9110 §10.2.3); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" is a digit to Python, not to float()
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
