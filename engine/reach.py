"""The options that reach a server: proxy, headers and trusted CAs, checked the same way for
the command line and the Python API before anything is started. Each problem is a
UsageError naming the option (never a header's value or a proxy's password)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from evio_fetch.engine.credentials import Header, check_header, parse_header
from evio_fetch.engine.errors import UsageError

HeadersArgument = Mapping[str, str] | Iterable[str] | None


def checked_proxy(proxy: str | None, where: str = "--proxy") -> str | None:
    """``proxy`` as Options take it, once it and the environment's proxies are checked."""
    if proxy is not None and not isinstance(proxy, str):
        raise UsageError(f"{where} must be a string, not {type(proxy).__name__}", _PROXY_FORM)
    if proxy is None and not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # nothing to check, and urllib.request is not worth importing for it
    # Imported here: the command line starts faster without urllib.request.
    from urllib.request import getproxies_environment  # noqa: PLC0415

    from evio_fetch.engine.proxies import checked_proxy as checked  # noqa: PLC0415

    return checked(proxy, getproxies_environment(), where)


def checked_ca_bundle(path: str | os.PathLike[str] | None, where: str) -> str | None:
    if path is None:
        return None
    # Imported here: ssl is needed only when a bundle is given.
    from evio_fetch.engine.trust import checked_ca_bundle as checked  # noqa: PLC0415

    return checked(os.fspath(path), where)


def api_headers(headers: HeadersArgument) -> tuple[Header, ...]:
    """The Python API's ``headers``: a mapping of names to values, or ``"Name: value"``
    strings."""
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return tuple(
            check_header(_text(name, n), _text(value, n), f"headers item #{n}")
            for n, (name, value) in enumerate(headers.items(), 1)
        )
    if isinstance(headers, str | bytes):
        raise UsageError(
            "headers must be a dict or a list of 'Name: value' strings, not one string",
            "e.g. headers={'Authorization': 'Bearer TOKEN'}",
        )
    return tuple(
        parse_header(_text(text, n), f"headers[{n - 1}]") for n, text in enumerate(headers, 1)
    )


def _text(value: Any, n: int) -> str:
    if not isinstance(value, str):
        raise UsageError(
            f"headers item #{n}: names and values must be strings, not {type(value).__name__}",
            "e.g. headers={'Authorization': 'Bearer TOKEN'}",
        )
    return value


_PROXY_FORM = "e.g. 'http://proxy.example.org:3128', or '' for no proxy"
