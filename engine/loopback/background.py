"""Running a loopback server on its own event loop in a daemon thread, for synchronous code.

Tests, the demo and the benchmarks are synchronous and often run the client in a subprocess;
the servers they talk to are asynchronous. A ``BackgroundServer`` runs its async ``_open``
and ``_close`` on a loop of its own, and ``ServingThread`` is one for a ``Startable`` server.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, Protocol, Self, TypeVar

if sys.platform == "win32":
    new_event_loop = asyncio.new_event_loop
else:
    import uvloop

    new_event_loop = uvloop.new_event_loop

START_TIMEOUT = 10.0

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class BackgroundServer(ABC):
    """Runs ``_open()`` on a loop of its own when started, and ``_close()`` when stopped.

    ``what`` names the server in messages ("the loopback server"). ``loop_factory=None`` is
    asyncio's own loop, as ``asyncio.run`` makes it. An instance can be started only once.
    """

    def __init__(
        self, *, thread_name: str, what: str, loop_factory: LoopFactory | None = new_event_loop
    ) -> None:
        self._thread_name = thread_name
        self._what = what
        self._loop_factory = loop_factory
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._opened = False
        self._failure: OSError | None = None

    @abstractmethod
    def start(self, timeout: float = START_TIMEOUT) -> object:
        """Start serving; return once listening."""

    @abstractmethod
    async def _open(self) -> None:
        """Start listening; an OSError (e.g. the port is taken) is re-raised by start()."""

    @abstractmethod
    async def _close(self) -> None: ...

    def _start_thread(self, timeout: float) -> None:
        """Return once ``_open()`` has finished; re-raise the OSError it raised, if any."""
        if self._thread is not None:
            raise RuntimeError(f"a {type(self).__name__} can be started only once")
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self._what} did not start within {timeout} s")
        if self._failure is not None:
            raise self._failure
        if not self._opened:
            raise RuntimeError(f"{self._what} thread failed; see its traceback")

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        """Stop serving and wait for the thread to end. Safe to call more than once."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"{self._what} did not stop within {timeout} s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=self._loop_factory) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        try:
            await self._open()
            self._opened = True
        except OSError as error:
            self._failure = error
            return
        finally:
            self._ready.set()
        try:
            await stopping.wait()
        finally:
            await self._close()


class Startable(Protocol):
    """An asynchronous server that listens on ``host:port`` and tells its URL."""

    async def start(self, host: str, port: int) -> str: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


class ServingThread(BackgroundServer, Generic[S]):
    """A ``Startable`` server on its own thread."""

    def __init__(self, server: S, host: str, port: int, *, thread_name: str, what: str) -> None:
        super().__init__(thread_name=thread_name, what=what)
        self._server = server
        self._host = host
        self._port = port
        self._url = ""

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start serving; return the server's URL once the socket is listening."""
        self._start_thread(timeout)
        return self._url

    async def _open(self) -> None:
        self._url = await self._server.start(self._host, self._port)

    async def _close(self) -> None:
        await self._server.stop()
