"""A worker process: its own uvloop event loop and one HTTP session, running the downloads
the parent hands it and reporting back over a pipe. Nothing raises across the process
boundary: every outcome leaves as a msgspec event."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from evio_fetch.engine.fetcher import Context, Download, fetch
from evio_fetch.engine.landing import Lander
from evio_fetch.engine.model import (
    Batch,
    Command,
    Event,
    Failed,
    FileSpec,
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

if TYPE_CHECKING:
    from multiprocessing.connection import _ConnectionBase as Channel

# A few progress messages per second per worker: enough for a smooth display, and no
# per-chunk traffic.
REPORT_INTERVAL = 0.25


def worker_main(conn: Channel, options: bytes, budgets: SharedBudgets) -> None:
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
    def __init__(self, conn: Channel, options: Options, budgets: SharedBudgets) -> None:
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
        self._outbox: list[Event] = []
        self._stopping = asyncio.Event()

    async def serve(self) -> None:
        stop_listening = listen(self._conn, self._on_command, self._on_parent_gone)
        try:
            async with Transport(self._options, self._budgets.pace) as transport:
                self._context = Context(
                    transport,
                    self._options,
                    self._send,
                    self._verdict,
                    self._place,
                    drive_gate=self._budgets.drive,
                    lander=Lander(),
                )
                reporter = asyncio.create_task(self._report_progress())
                await self._stopping.wait()
                reporter.cancel()
                await self._cancel_all()
        finally:
            stop_listening()
            self._flush()  # what the cancelled downloads said last

    def _on_parent_gone(self) -> None:
        # Even SIGKILL closes the parent's end: stop writing at once.
        self._stopping.set()

    def _on_command(self, data: bytes) -> None:
        command = self._decoder.decode(data)
        if isinstance(command, Job):
            for spec in command.specs:
                self._start(spec)
        elif isinstance(command, Verdict | Placed):
            future = self._answers.pop(command.file, None)
            if future is not None and not future.done():
                future.set_result(command)
        elif isinstance(command, Stop):
            self._stopping.set()

    def _start(self, spec: FileSpec) -> None:
        download = Download(spec)
        self._downloads[spec.index] = download
        self._tasks[spec.index] = asyncio.create_task(self._run(download))

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
        """Queue ``event`` for the parent: everything said during one turn of the event loop
        leaves together, as one message."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(event)

    def _flush(self) -> None:
        if not self._outbox:
            return
        batch, self._outbox = Batch(self._outbox), []
        try:
            self._conn.send_bytes(self._encoder.encode(batch))
        except OSError:
            self._stopping.set()

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            for event in self._fresh_progress(list(self._downloads.values())):
                self._send(event)

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


def listen(
    conn: Channel, on_command: Callable[[bytes], None], on_gone: Callable[[], None]
) -> Callable[[], None]:
    """Hand each message from the parent to ``on_command`` on the running loop, and call
    ``on_gone`` once the pipe has closed; returns what stops listening. The loop watches the
    pipe where it can (a POSIX pipe is a file descriptor); Windows' loops cannot watch a
    pipe, and there a thread waits on it instead."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_reader(conn.fileno(), _receive, conn, on_command, on_gone)
    except NotImplementedError:
        return listen_on_thread(conn, loop, on_command, on_gone)

    def stop() -> None:
        loop.remove_reader(conn.fileno())

    return stop


def _receive(
    conn: Channel, on_command: Callable[[bytes], None], on_gone: Callable[[], None]
) -> None:
    try:
        data = conn.recv_bytes()
    except (EOFError, OSError):
        on_gone()
        return
    on_command(data)


def listen_on_thread(
    conn: Channel,
    loop: asyncio.AbstractEventLoop,
    on_command: Callable[[bytes], None],
    on_gone: Callable[[], None],
) -> Callable[[], None]:
    """``listen`` by a daemon thread that blocks on the pipe and passes each message to the
    loop. It ends when the pipe closes or the loop has; the process does not wait for it."""
    thread = threading.Thread(
        target=_read_commands, args=(conn, loop, on_command, on_gone), daemon=True
    )
    thread.start()
    return lambda: None


def _read_commands(
    conn: Channel,
    loop: asyncio.AbstractEventLoop,
    on_command: Callable[[bytes], None],
    on_gone: Callable[[], None],
) -> None:
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                loop.call_soon_threadsafe(on_gone)
                return
            loop.call_soon_threadsafe(on_command, data)
    except RuntimeError:
        return  # the loop is closed: nobody is listening any more
