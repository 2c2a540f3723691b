"""Which proxy a request goes through: the environment's variables as curl and pip read them,
--proxy over them, NO_PROXY over both, and proxies evio-fetch cannot speak to refused."""

from __future__ import annotations

import pytest

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.proxies import bypassed, checked_proxy, proxy_for

HTTP = "http://web:3128"
TLS = "http://tls:3128"
ALL = "http://all:3128"

CHOICES = [
    # (url, environment, --proxy, expected)
    ("http://a.org/x", {"http": HTTP, "https": TLS}, None, HTTP),
    ("https://a.org/x", {"http": HTTP, "https": TLS}, None, TLS),
    ("https://a.org/x", {"http": HTTP}, None, None),  # HTTPS_PROXY never falls back on HTTP_PROXY
    ("https://a.org/x", {"http": HTTP, "all": ALL}, None, ALL),
    ("http://a.org/x", {"all": ALL}, None, ALL),
    ("http://a.org/x", {}, None, None),
    ("http://a.org/x", {"http": HTTP}, "http://given:8080", "http://given:8080"),
    ("https://a.org/x", {}, "http://given:8080", "http://given:8080"),
    ("http://a.org/x", {"http": HTTP}, "", None),  # --proxy '': direct
    ("http://a.org/x", {"http": "web:3128"}, None, "http://web:3128"),  # no scheme: http://
    # NO_PROXY applies to the environment's proxies and to --proxy alike.
    ("http://a.org/x", {"http": HTTP, "no": "a.org"}, None, None),
    ("http://a.org/x", {"no": "a.org"}, "http://given:8080", None),
    ("http://dl.a.org/x", {"http": HTTP, "no": ".a.org"}, None, None),
    ("http://dl.a.org/x", {"http": HTTP, "no": "b.org, a.org"}, None, None),
    ("http://nota.org/x", {"http": HTTP, "no": "a.org"}, None, HTTP),
    ("http://A.ORG/x", {"http": HTTP, "no": "a.org"}, None, None),
    ("http://a.org:8080/x", {"http": HTTP, "no": "a.org:8080"}, None, None),
    ("http://a.org/x", {"http": HTTP, "no": "a.org:8080"}, None, HTTP),
    ("http://a.org/x", {"http": HTTP, "no": "*"}, None, None),
    ("http://10.1.2.3/x", {"http": HTTP, "no": "10.0.0.0/8"}, None, None),
    ("http://10.1.2.3/x", {"http": HTTP, "no": "2.3"}, None, HTTP),  # no suffixes of addresses
    ("http://127.0.0.1:9/x", {"http": HTTP, "no": "127.0.0.1"}, None, None),
    ("http://[::1]:9/x", {"http": HTTP, "no": "::1"}, None, None),
    ("http://[::1]:9/x", {"http": HTTP, "no": "[::1]"}, None, None),
    ("http://[::1]:9/x", {"http": HTTP, "no": "localhost"}, None, HTTP),
]


@pytest.mark.parametrize(("url", "environment", "explicit", "expected"), CHOICES)
def test_proxy_for(
    url: str, environment: dict[str, str], explicit: str | None, expected: str | None
) -> None:
    assert proxy_for(url, explicit, environment) == expected


def test_no_proxy_is_blank_or_unset() -> None:
    assert not bypassed("a.org", 80, "")
    assert not bypassed("a.org", 80, " , ")


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [
        (None, None),
        ("", ""),
        ("  ", ""),
        ("proxy:3128", "http://proxy:3128"),
        ("https://u:p@proxy:3128", "https://u:p@proxy:3128"),
    ],
)
def test_checked_proxy_normalises(explicit: str | None, expected: str | None) -> None:
    assert checked_proxy(explicit, {}) == expected


@pytest.mark.parametrize(
    ("explicit", "environment", "named"),
    [
        ("socks5://u:Pw0rd@h:1080", {}, "--proxy socks5://***@h:1080"),
        ("http://u:Pw0rd@h:99999", {}, "--proxy http://***@h:99999"),
        ("http://u:Pw0rd@:8080", {}, "--proxy http://***@:8080"),
        (None, {"all": "socks5h://u:Pw0rd@h:1080"}, "ALL_PROXY=socks5h://***@h:1080"),
        (None, {"https": "socks4://h:1080"}, "HTTPS_PROXY=socks4://h:1080"),
    ],
)
def test_unusable_proxies_are_refused_without_their_password(
    explicit: str | None, environment: dict[str, str], named: str
) -> None:
    with pytest.raises(UsageError) as raised:
        checked_proxy(explicit, environment)
    assert raised.value.message.startswith(named + ":")
    assert "Pw0rd" not in raised.value.message + raised.value.hint


def test_an_unused_proxy_variable_is_not_checked() -> None:
    # ALL_PROXY is never used when both schemes have a proxy of their own.
    environment = {"http": HTTP, "https": TLS, "all": "socks5://h:1080"}
    assert checked_proxy(None, environment) is None
