"""Which proxy a request goes through, by the rules curl and pip follow.

Pure: the environment's proxy variables come in as the mapping that
``urllib.request.getproxies_environment()`` makes of them (``{"http": …, "https": …,
"all": …, "no": …}``; either case of ``HTTP_PROXY`` and the others, lower case winning).

- An ``http://`` URL goes through ``HTTP_PROXY``, an ``https://`` one through ``HTTPS_PROXY``
  (tunnelled with CONNECT); either falls back on ``ALL_PROXY``. ``HTTPS_PROXY`` never falls
  back on ``HTTP_PROXY``.
- ``--proxy URL`` replaces them all; ``--proxy ''`` means no proxy at all.
- ``NO_PROXY`` applies to both: ``*`` bypasses every host; a name bypasses itself and its
  sub-domains (``example.org`` and ``.example.org`` both cover ``dl.example.org``), optionally
  for one port (``example.org:8080``); an IP address or a network (``10.0.0.0/8``,
  ``::1``) bypasses the addresses in it. Names are never matched against addresses.
- A proxy given without a scheme (``proxy:3128``) is an ``http://`` one. evio-fetch speaks
  to HTTP proxies (``http://`` and ``https://``); another scheme (``socks5://``) is refused
  before anything is fetched, rather than going around the proxy.
- Credentials go in the proxy's URL (``http://user:password@proxy:3128``) and are sent to
  the proxy alone, as ``Proxy-Authorization``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit
from urllib.request import (  # type: ignore[attr-defined]  # documented, but not in typeshed
    proxy_bypass_environment,
)

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.redaction import redact_url

PROXY_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
# The variable each URL scheme reads, for messages.
_VARIABLES = {"http": "HTTP_PROXY", "https": "HTTPS_PROXY", "all": "ALL_PROXY"}


def proxy_for(url: str, explicit: str | None, environment: Mapping[str, str]) -> str | None:
    """The proxy URL to send a request for ``url`` through, or None to go direct.
    ``explicit`` is ``--proxy`` (None: not given; ``""``: no proxy)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname
    if explicit == "" or host is None:
        return None
    chosen = explicit if explicit is not None else _from_environment(scheme, environment)
    if chosen is None:
        return None
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    if bypassed(host, port, environment.get("no", "")):
        return None
    return with_scheme(chosen)


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (``no_proxy``) says to reach ``host`` directly."""
    if not no_proxy.strip():
        return False
    if no_proxy.strip() == "*":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(proxy_bypass_environment(f"{host}:{port}", {"no": no_proxy}))
    return any(address in network for network in _networks(no_proxy))


def checked_proxy(
    explicit: str | None, environment: Mapping[str, str], where: str = "--proxy"
) -> str | None:
    """``--proxy`` as the engine takes it (a scheme added when missing), after checking it
    and, when it is not given, the environment's proxies that a download could use. Raises
    UsageError naming the option (``where``) or variable, never the proxy's credentials."""
    if explicit is not None:
        if explicit.strip() == "":
            return ""
        proxy = with_scheme(explicit.strip())
        _check(proxy, f"{where} {redact_url(proxy)}")
        return proxy
    for scheme in PROXY_SCHEMES:
        chosen = _from_environment(scheme, environment)
        if chosen is not None:
            proxy = with_scheme(chosen)
            _check(proxy, f"{_variable(scheme, environment)}={redact_url(proxy)}")
    return None


def with_scheme(proxy: str) -> str:
    """``proxy:3128`` is ``http://proxy:3128``, as curl and pip read it."""
    return proxy if "://" in proxy else f"http://{proxy}"


def _from_environment(scheme: str, environment: Mapping[str, str]) -> str | None:
    return environment.get(scheme) or environment.get("all") or None


def _variable(scheme: str, environment: Mapping[str, str]) -> str:
    return _VARIABLES[scheme if environment.get(scheme) else "all"]


def _check(proxy: str, shown: str) -> None:
    try:
        parts = urlsplit(proxy)
        port = parts.port
    except ValueError:
        raise UsageError(f"{shown}: not a valid proxy URL", _PROXY_FORM) from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise UsageError(
            f"{shown}: evio-fetch speaks to HTTP proxies only (http:// or https://), "
            f"not {parts.scheme}://",
            f"give an HTTP proxy ({_PROXY_FORM}), or --proxy '' to connect directly",
        )
    if not parts.hostname or port == 0:
        raise UsageError(f"{shown}: the proxy URL names no host", _PROXY_FORM)


_PROXY_FORM = "e.g. http://proxy.example.org:3128, or http://USER:PASSWORD@HOST:PORT"


def _networks(no_proxy: str) -> Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    for entry in no_proxy.split(","):
        try:
            yield ipaddress.ip_network(entry.strip().strip("[]"), strict=False)
        except ValueError:
            continue  # a host name, or nonsense: names are matched by the stdlib's rule
