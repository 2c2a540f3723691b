"""What Google Drive allows this machine is one budget for every worker process: a pause one
worker is asked for, and the fewer connections Drive takes, hold for all of them."""

from __future__ import annotations

import asyncio
import multiprocessing

from gate_child import throttle_with_two_open

from evio_fetch.engine.drive_gate import DriveGate


def test_a_throttle_in_one_process_holds_in_another() -> None:
    context = multiprocessing.get_context("spawn")
    gate = DriveGate(context)
    worker = context.Process(target=throttle_with_two_open, args=(gate, 600.0))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    # Two responses were open when Drive refused a third: two is what it takes now.
    assert gate.ceiling == 2
    assert gate._pause_left() > 500  # the pause the other process was asked for


def test_places_beyond_the_ceiling_wait_for_one_to_be_given_back() -> None:
    gate = DriveGate(multiprocessing.get_context("spawn"))

    async def scenario() -> list[str]:
        seen: list[str] = []
        async with gate.place():
            gate.throttled(0.0)  # one open when another was refused: a ceiling of one
        async with gate.place():
            waiting = asyncio.create_task(_enter(gate, seen))
            for _ in range(20):
                await asyncio.sleep(0)  # let it try: it must not get in
            seen.append("first left")
        await waiting
        return seen

    assert asyncio.run(scenario()) == ["first left", "second in"]


async def _enter(gate: DriveGate, seen: list[str]) -> None:
    async with gate.place():
        seen.append("second in")
