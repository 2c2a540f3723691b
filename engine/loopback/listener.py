"""Serving on one TCP port with aiohttp's low-level server, for both aiohttp loopback servers."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web

# aiohttp's grace period at stop() for anything the server did not cancel itself.
SHUTDOWN_TIMEOUT = 0.5

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class Listener:
    """Serves ``handler`` on one address; ``what`` names the server in messages."""

    def __init__(self, handler: Handler, what: str) -> None:
        self._handler = handler
        self._what = what
        self._runner: web.ServerRunner | None = None
        self._handlers: set[asyncio.Task[object]] = set()
        self.origin: str | None = None
        """``http://HOST:PORT`` with the address actually bound, while listening."""

    async def start(self, host: str, port: int) -> str:
        """Listen; return ``origin``."""
        if self._runner is not None:
            raise RuntimeError(f"{self._what} is already started")
        runner = web.ServerRunner(
            web.Server(self._handle, access_log=None), shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.origin = f"http://{shown}:{bound_port}"
        return self.origin

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self.origin = None
        if runner is None:
            return
        # aiohttp would give each transfer in flight a grace period; a throttled one never
        # finishes within it, and a stopping test server should vanish at once, as a
        # crashed one does.
        for task in self._handlers:
            task.cancel()
        await runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:  # always: aiohttp runs handlers in tasks
            self._handlers.add(task)
        try:
            return await self._handler(request)
        finally:
            if task is not None:
                self._handlers.discard(task)


class ListeningServer(ABC):
    """Start, stop and ``async with`` for a server that answers requests with ``_handle``;
    ``what`` names it in messages."""

    def __init__(self, what: str) -> None:
        self._listener = Listener(self._handle, what)

    @abstractmethod
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse: ...

    @property
    def listening(self) -> bool:
        return self._listener.origin is not None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; return the server's URL."""
        return await self._listener.start(host, port)

    async def stop(self) -> None:
        await self._listener.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
