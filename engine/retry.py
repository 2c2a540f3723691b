"""When and how long to wait before trying a request again, as a value.

Pure: the random source is injected, and the caller does the sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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

    def delay(self, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt: full-jitter exponential backoff, or the
        server's Retry-After when it asks for longer (capped by ``max_delay``)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, self.failures - 1))
        wait = self.rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait
