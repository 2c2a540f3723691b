"""Whether a person is at the terminal: kept apart from the prompt and the display so that
asking it imports nothing."""

from __future__ import annotations

import sys


def is_interactive() -> bool:
    """A person is there to answer: both stdin and stderr are terminals."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
