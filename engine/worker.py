"""A worker process: its own uvloop event loop and one HTTP session, running the downloads
the parent hands it and reporting back over a pipe. Nothing raises across the process
boundary: every outcome leaves as a msgspec event."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import sys
from multiprocessing.connection import Connection

import msgspec

from evio_fetch.engine.fetcher import Context, Download, fetch
from evio_fetch.engine.model import (
    Batch,
    Command,
    Event,
    Failed,
    Job,
    Named,
    Options,
    Placed,
    Progress,
    Stop,
    Verdict,
    to_failure,
)
from evio_fetch.engine.pool import SharedBudgets
from evio_fetch.engine.transport import Transport

# A few progress messages per second per worker: enough for a smooth display, and no
# per-chunk traffic.
REPORT_INTERVAL = 0.25


def worker_main(conn: Connection, options: bytes, budgets: SharedBudgets) -> None:
    """Process entry point (spawned by the runner)."""
    # Ctrl-C reaches the whole process group; the parent decides what it means and tells us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _tune_allocator()
    worker = Worker(conn, msgspec.msgpack.decode(options, type=Options), budgets)
    try:
        import uvloop  # noqa: PLC0415  (imported here: the parent never needs it)

        uvloop.run(worker.serve())
    except ImportError:
        asyncio.run(worker.serve())


def _tune_allocator() -> None:
    """Keep glibc from growing and trimming its heap around every socket read: large buffers
    come from mmap, and freed memory is not handed back at once."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1024 * 1024)
    libc.mallopt(m_trim_threshold, 256 * 1024 * 1024)


class Worker:
    def __init__(self, conn: Connection, options: Options, budgets: SharedBudgets) -> None:
        self._conn = conn
        self._options = options
        self._budgets = budgets
        self._decoder = msgspec.msgpack.Decoder(Command)
        self._encoder = msgspec.msgpack.Encoder()
        self._downloads: dict[int, Download] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # The parent's answer each file is waiting for: a Verdict, or where it may land.
        self._answers: dict[int, asyncio.Future[Verdict | Placed]] = {}
        self._reported: dict[int, Progress] = {}
        self._stopping = asyncio.Event()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self._conn.fileno(), self._on_command)
        try:
            async with Transport(self._options, self._budgets.pace) as transport:
                self._context = Context(
                    transport,
                    self._options,
                    self._send,
                    self._verdict,
                    self._place,
                    drive_gate=self._budgets.drive,
                )
                reporter = asyncio.create_task(self._report_progress())
                await self._stopping.wait()
                reporter.cancel()
                await self._cancel_all()
        finally:
            loop.remove_reader(self._conn.fileno())

    def _on_command(self) -> None:
        try:
            command = self._decoder.decode(self._conn.recv_bytes())
        except (EOFError, OSError):
            # The parent is gone (even SIGKILL closes its end): stop writing at once.
            self._stopping.set()
            return
        if isinstance(command, Job):
            self._start(command)
        elif isinstance(command, Verdict | Placed):
            future = self._answers.pop(command.file, None)
            if future is not None and not future.done():
                future.set_result(command)
        elif isinstance(command, Stop):
            self._stopping.set()

    def _start(self, job: Job) -> None:
        download = Download(job.spec)
        self._downloads[job.spec.index] = download
        self._tasks[job.spec.index] = asyncio.create_task(self._run(download))

    async def _run(self, download: Download) -> None:
        index = download.spec.index
        try:
            event = await fetch(download, self._context)
        except Exception as error:  # noqa: BLE001  every failure is reported, as a value
            event = Failed(index, to_failure(error))
        finally:
            self._downloads.pop(index, None)
            self._tasks.pop(index, None)
            self._reported.pop(index, None)
        self._send(event)

    async def _verdict(self, index: int) -> Verdict:
        answer = await self._answer(index)
        assert isinstance(answer, Verdict), "the parent answers Written with a Verdict"
        return answer

    async def _place(self, index: int, name: str, size: int | None) -> Placed:
        answer = self._answer(index)
        self._send(Named(index, name, size))
        placed = await answer
        assert isinstance(placed, Placed), "the parent answers Named with Placed"
        return placed

    def _answer(self, index: int) -> asyncio.Future[Verdict | Placed]:
        future: asyncio.Future[Verdict | Placed] = asyncio.get_running_loop().create_future()
        self._answers[index] = future
        return future

    def _send(self, event: Event) -> None:
        self._write(Batch([event]))

    def _write(self, batch: Batch) -> None:
        try:
            self._conn.send_bytes(self._encoder.encode(batch))
        except OSError:
            self._stopping.set()

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            events = self._fresh_progress(list(self._downloads.values()))
            if events:
                self._write(Batch(events))

    def _fresh_progress(self, downloads: list[Download]) -> list[Event]:
        events: list[Event] = []
        for download in downloads:
            progress = download.progress()
            if progress is None:
                continue  # not started yet: nothing to say
            if self._reported.get(progress.file) != progress:
                self._reported[progress.file] = progress
                events.append(progress)
        return events

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
