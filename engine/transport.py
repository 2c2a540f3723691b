"""The HTTP client edge: the only module that imports aiohttp. It opens one session per
worker, sends requests, and turns every aiohttp and socket failure into our own errors, here
and nowhere else."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from evio_fetch.engine.connection_sizer import ceiling
from evio_fetch.engine.content_range import content_length
from evio_fetch.engine.credentials import Header, access_headers, without_userinfo
from evio_fetch.engine.errors import (
    DownloadError,
    HTTPStatusError,
    PageTooLargeError,
    TransportError,
)
from evio_fetch.engine.model import Options
from evio_fetch.engine.netrc_file import load_logins
from evio_fetch.engine.pacing import SharedPace, buffer_sizes
from evio_fetch.engine.proxies import proxy_for
from evio_fetch.engine.trust import connector_trust
from evio_fetch.engine.version import VERSION

USER_AGENT = f"evio-fetch/{VERSION}"
# Bigger socket reads mean fewer trips through Python per megabyte; the reader pauses the
# socket at twice this, which bounds the bytes buffered per connection.
READ_BUFFER = 1024 * 1024
# What one worker's connections may buffer together when it cannot keep up with them
# (dozens of capped connections): the read buffer shrinks so their sum stays within this.
WORKER_BUFFERS = 24 * 1024 * 1024
MIN_READ_BUFFER = 64 * 1024
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_HEADER = 16 * 1024


class Reply:
    """A response whose headers have arrived; its body is read through ``chunks``. ``url`` is
    where it came from, after redirects; ``home`` the URL whose origin gets the user's
    headers and credentials (see ``Transport.get``)."""

    def __init__(
        self, response: aiohttp.ClientResponse, home: str, pace: SharedPace | None = None
    ) -> None:
        self._response = response
        self._pace = pace
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self.url = str(response.url)
        self.home = home

    async def chunks(self) -> AsyncIterator[bytes]:
        with _mapped_errors(self.url):
            while True:
                # One chunk as the socket delivered it: unlike iter_any(), which joins
                # whatever is buffered into a new bytes, this copies nothing.
                data, chunk_end = await self._response.content.readchunk()
                if not data:
                    if chunk_end:
                        continue  # the end of an HTTP chunk, not of the body
                    return
                if self._pace is not None:
                    # Not reading on is what slows the server: TCP's window closes.
                    await asyncio.sleep(self._pace.take(len(data)))
                yield data

    async def read(self, limit: int) -> bytes:
        """The whole body, for pages that are inspected, never saved. A body longer than
        ``limit`` bytes raises ``PageTooLargeError`` (before any of it is read, when its
        Content-Length says so); one cut off raises ``TransportError``."""
        declared = content_length(self.headers)
        if declared is not None and declared > limit:
            raise _too_large(self.url, limit)
        body = bytearray()
        with _mapped_errors(self.url):
            # One read returns what has arrived so far, not the whole page: read to the end.
            while data := await self._response.content.read(limit + 1 - len(body)):
                body += data
                if len(body) > limit:
                    raise _too_large(self.url, limit)
        return bytes(body)

    def abandon(self) -> None:
        """Drop the connection: the rest of the body is not wanted."""
        self._response.close()


class Transport:
    """One aiohttp session with the options' timeouts, proxies, headers and trusted CAs; use
    as an async context manager. Redirects are followed here, in one place, so that each hop
    carries what its own origin may see (engine.credentials) through its own proxy
    (engine.proxies)."""

    def __init__(self, options: Options, pace: SharedPace | None = None) -> None:
        self._options = options
        self._pace = pace
        self._session: aiohttp.ClientSession | None = None
        # Read once per session: the environment's proxies and the netrc file.
        self._proxies = getproxies_environment()
        self._logins, _ = load_logins()
        # What a request adds and which proxy it takes depend on its URL's and its home's
        # scheme and authority alone: worked out once per pair, not once per file.
        self._access: dict[tuple[str, str, str, str], tuple[list[Header], str | None]] = {}

    async def __aenter__(self) -> Transport:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._options.timeout, sock_read=self._options.timeout
        )
        read_buffer, receive_buffer = read_buffer_size(self._options), None
        if self._pace is not None:
            connections = ceiling(self._options.segments) * self._options.concurrency
            paced, receive_buffer = buffer_sizes(self._pace.rate, connections)
            read_buffer = min(read_buffer, paced)  # a high cap must not lift the worker's budget
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=0,
                ttl_dns_cache=300,
                socket_factory=_socket_factory(receive_buffer),
                ssl=connector_trust(self._options.ca_bundle),
            ),
            timeout=timeout,
            # unsafe: keep cookies for IP-address hosts too (Drive's flow, loopback tests).
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            # Bodies are stored exactly as served, never decoded (as curl does without
            # --compressed), so sizes, ranges and hashes all refer to the same bytes.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            auto_decompress=False,
            read_bufsize=read_buffer,
            max_line_size=MAX_HEADER,
            max_field_size=MAX_HEADER,
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    @asynccontextmanager
    async def get(
        self, url: str, headers: Mapping[str, str], home: str | None = None
    ) -> AsyncIterator[Reply]:
        """GET ``url`` with ``headers``, following redirects. ``home`` is the URL the user
        gave for this source (default: ``url``): requests to its origin carry the user's
        headers and credentials, requests elsewhere do not."""
        home = url if home is None else home
        response = await self._follow(url, headers, home)
        # Errors from the caller's own code pass through untouched: only the request is mapped.
        try:
            yield Reply(response, home, self._pace)
        finally:
            response.release()

    async def _follow(
        self, url: str, headers: Mapping[str, str], home: str
    ) -> aiohttp.ClientResponse:
        hop = url
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._send(url, hop, headers, home)
            try:
                target = _redirect_target(url, response)
            except DownloadError:
                response.release()
                raise
            if target is None:
                return response
            response.release()
            hop = target
        raise DownloadError(
            f"{url}: too many redirects (more than {MAX_REDIRECTS})",
            "the link may be a redirect loop; open it in a browser to check",
        )

    async def _send(
        self, url: str, hop: str, headers: Mapping[str, str], home: str
    ) -> aiohttp.ClientResponse:
        assert self._session is not None, "Transport used outside 'async with'"
        added, proxy = self._access_for(hop, home)
        asked = CIMultiDict(headers)
        asked.extend(added)
        with _mapped_errors(url, proxy):
            return await self._session.get(
                without_userinfo(hop), headers=asked, allow_redirects=False, proxy=proxy
            )

    def _access_for(self, hop: str, home: str) -> tuple[list[Header], str | None]:
        """The headers a request for ``hop`` adds for a source whose URL is ``home``, and its
        proxy (None: direct)."""
        hop_parts, home_parts = urlsplit(hop), urlsplit(home)
        key = (hop_parts.scheme, hop_parts.netloc, home_parts.scheme, home_parts.netloc)
        found = self._access.get(key)
        if found is None:
            if len(self._access) >= MAX_REMEMBERED_HOSTS:
                self._access.clear()
            added = access_headers(hop, home, self._options.headers, self._logins)
            found = self._access[key] = (added, proxy_for(hop, self._options.proxy, self._proxies))
        return found


# Pairs of authorities whose headers and proxy are remembered, at most (memory stays flat
# whatever the number of hosts a manifest names).
MAX_REMEMBERED_HOSTS = 1024


def read_buffer_size(options: Options) -> int:
    """The read buffer per connection: 1 MiB, less when one worker holds many connections."""
    workers = max(1, min(options.workers, options.concurrency))
    files_per_worker = -(-options.concurrency // workers)
    connections = ceiling(options.segments) * files_per_worker
    share = WORKER_BUFFERS // (2 * connections)
    return max(MIN_READ_BUFFER, min(READ_BUFFER, share))


def _socket_factory(
    receive_buffer: int | None,
) -> Callable[[tuple[Any, ...]], socket.socket] | None:
    """Under a speed cap, a small receive buffer set before connecting: the window the
    server sees stays small, so it cannot run far ahead of the cap."""
    if receive_buffer is None:
        return None

    def make(info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, _ = info
        sock = socket.socket(family=family, type=kind, proto=proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        return sock

    return make


def _too_large(url: str, limit: int) -> PageTooLargeError:
    return PageTooLargeError(f"{url}: the page is longer than {limit:,} bytes")


def _redirect_target(url: str, response: aiohttp.ClientResponse) -> str | None:
    """Where a redirect leads (None: the response is no redirect to follow)."""
    location = response.headers.get("Location")
    if response.status not in REDIRECT_STATUSES or location is None:
        return None
    try:
        target = response.url.join(URL(location))
    except ValueError:
        raise DownloadError(
            f"{url}: redirected to something that is not a URL", "open the link in a browser"
        ) from None
    if target.scheme not in ("http", "https"):
        raise DownloadError(
            f"{url}: redirected to a {target.scheme or 'schemeless'} URL, not http(s)",
            "open the link in a browser to see where it leads",
        )
    return str(target)


@contextmanager
def _mapped_errors(url: str, proxy: str | None = None) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientConnectorCertificateError as error:
        raise DownloadError(
            f"{url}: the server's TLS certificate was not accepted ({error.certificate_error})",
            "if the server uses a private CA, pass --ca-bundle with its certificate "
            "(or point SSL_CERT_FILE at it)",
        ) from None
    except aiohttp.InvalidURL:
        raise DownloadError(f"{url}: not a valid URL", "check the link") from None
    except aiohttp.ClientHttpProxyError as error:
        raise _proxy_refused(url, proxy, error.status) from None
    except aiohttp.ClientResponseError as error:
        raise DownloadError(
            f"{url}: {_malformed(error.message)}",
            "check that the link leads to an HTTP server; open it in a browser",
        ) from None
    except aiohttp.ClientProxyConnectionError as error:
        raise TransportError(
            f"{url}: cannot connect to the proxy {_proxy_address(proxy)} "
            f"({error.os_error.strerror or error.os_error})",
            "check --proxy, or HTTP_PROXY / HTTPS_PROXY / ALL_PROXY and NO_PROXY",
        ) from None
    except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as error:
        what, hint = _describe(error)
        raise TransportError(f"{url}: {what}", hint) from None


def _proxy_refused(url: str, proxy: str | None, status: int) -> HTTPStatusError:
    """The proxy's answer to CONNECT, when it was not a tunnel."""
    hint = (
        "the proxy wants credentials: give them in its URL, http://USER:PASSWORD@HOST:PORT"
        if status == 407
        else "the proxy could not reach the server; check the URL, or NO_PROXY for hosts "
        "reached directly"
    )
    return HTTPStatusError(
        f"{url}: the proxy {_proxy_address(proxy)} refused the tunnel (HTTP {status})",
        hint,
        status,
    )


def _proxy_address(proxy: str | None) -> str:
    """The proxy's host and port, never its credentials."""
    if proxy is None:
        return "(unknown)"
    parts = urlsplit(proxy)
    return parts.netloc.rpartition("@")[2]


def _malformed(detail: str) -> str:
    # aiohttp quotes the raw bytes it choked on; a person needs the reason, not the bytes.
    if "Got more than" in detail:
        return f"the server sent a response header longer than {MAX_HEADER // 1024} KiB"
    return f"the server sent a malformed response ({detail[:200]})"


# What helps against each way a connection fails (docs/errors.md, `connection`).
CUT_HINT = "the connection was cut; --retries sets how often it is tried again"
SILENT_HINT = (
    "the server sent nothing for --timeout seconds; raise --timeout for a slow server, "
    "--retries for an unsteady one"
)
CONNECT_HINT = (
    "check the link's host and port and that the server is up, or your network and --proxy; "
    "--retries sets how often it is tried again"
)


def _describe(error: BaseException) -> tuple[str, str]:
    """What went wrong, in words a person reads, and what helps ("" for the class's hint)."""
    if isinstance(error, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return "the connection went silent (idle timeout)", SILENT_HINT
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection", CUT_HINT
    if isinstance(error, aiohttp.ClientPayloadError):
        return "the response body was cut off", CUT_HINT
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({_os_reason(error.os_error)})", CONNECT_HINT
    if isinstance(error, ConnectionResetError):
        return "the connection was reset", CUT_HINT
    return str(error) or type(error).__name__, ""


def _os_reason(error: OSError) -> str:
    """``connection refused`` rather than the event loop's ``Connect call failed (…)``."""
    if isinstance(error, socket.gaierror) or not error.errno or error.errno < 0:
        return str(error.strerror or error)
    return os.strerror(error.errno).lower()
