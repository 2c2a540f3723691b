"""When and how long to wait before trying a request again, as a value.

Pure: the random source is injected, and the caller does the sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

from evio_fetch.engine.errors import EvioError, HTTPStatusError

# A server asking for a longer pause than this is not waited for: the file fails now, with
# the server's word in the message, rather than holding the run for an hour.
MAX_RETRY_AFTER = 300.0


@dataclass(slots=True)
class RetryBudget:
    """Attempts left for one stream of work. Bytes arriving refill it, so failures spread over
    a long download never add up to a spurious give-up."""

    retries: int
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def exhausted(self) -> bool:
        return self.failures > self.retries

    def record_failure(self) -> None:
        self.failures += 1

    def record_progress(self) -> None:
        self.failures = 0

    def retry_after(self, error: EvioError) -> float | None:
        """The pause before trying again after ``error``, or None to give up: the error is
        permanent, the attempts are spent, or the server asks for too long a pause."""
        if not error.transient:
            return None
        self.record_failure()
        asked = error.retry_after if isinstance(error, HTTPStatusError) else None
        if self.exhausted() or (asked is not None and asked > MAX_RETRY_AFTER):
            return None
        return self.delay(asked)

    def delay(self, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt: full-jitter exponential backoff, or the
        server's Retry-After when it asks for longer."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, self.failures - 1))
        wait = self.rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


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
