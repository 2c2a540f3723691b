"""Which TLS certificates are trusted: the system's (``SSL_CERT_FILE`` and ``SSL_CERT_DIR``
replace its defaults, as OpenSSL reads them) and, with ``--ca-bundle PATH``, the CAs in that
PEM file as well."""

from __future__ import annotations

import ssl
from pathlib import Path

from evio_fetch.engine.errors import UsageError


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying client context that trusts the system's CAs and ``ca_bundle``'s."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def connector_trust(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """What a session's connector verifies with: ``True``, the HTTP client's own verifying
    context, when no bundle is added (it is made from the same system defaults as it is
    imported, and a second would read every system CA again, about 20 ms of a run's start);
    with a bundle, a context of its own."""
    return True if ca_bundle is None else tls_context(ca_bundle)


def checked_ca_bundle(path: str | Path | None, where: str = "--ca-bundle") -> str | None:
    """``path`` made absolute, once it is known to hold certificates; UsageError otherwise."""
    if path is None:
        return None
    bundle = Path(path).expanduser().resolve()
    try:
        tls_context(str(bundle))
    except FileNotFoundError:
        raise UsageError(
            f"{where} {path}: no such file", "give a PEM file of CA certificates"
        ) from None
    except ssl.SSLError:
        raise UsageError(
            f"{where} {path}: holds no PEM certificate", "give a PEM file of CA certificates"
        ) from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or "not a PEM file"
        raise UsageError(
            f"{where} {path}: cannot be used ({reason})",
            "give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- …)",
        ) from None
    return str(bundle)
