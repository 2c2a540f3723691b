"""What a second process does to a Drive gate, for tests/integration/test_drive_gate.py (a
function a spawned process can import by name)."""

from __future__ import annotations

import asyncio

from evio_fetch.engine.drive_gate import DriveGate


def throttle_with_two_open(gate: DriveGate, pause: float) -> None:
    async def two_places_then_refused() -> None:
        async with gate.place(), gate.place():
            gate.throttled(pause)

    asyncio.run(two_places_then_refused())
