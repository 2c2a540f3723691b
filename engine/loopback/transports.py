"""A value per client connection, for counters and per-connection pacing."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

V = TypeVar("V")

# Closed connections are forgotten only once this many are remembered: pruning walks them all.
PRUNE_AT = 256


class ByTransport(Generic[V]):
    """Keyed by ``id()``: uvloop transports cannot be weakly referenced. Holding the
    transport keeps its id from being reused while it is in the table."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[asyncio.BaseTransport, V]] = {}

    def __contains__(self, transport: asyncio.BaseTransport) -> bool:
        return id(transport) in self._known

    def get(self, transport: asyncio.BaseTransport) -> V | None:
        known = self._known.get(id(transport))
        if known is None or known[0] is not transport:
            return None
        return known[1]

    def put(self, transport: asyncio.BaseTransport, value: V) -> None:
        if len(self._known) >= PRUNE_AT:
            self._known = {
                key: known for key, known in self._known.items() if not known[0].is_closing()
            }
        self._known[id(transport)] = (transport, value)
