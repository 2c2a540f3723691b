"""The user's netrc file (``$NETRC``, else ``~/.netrc``), read as wget and pip read it: a
missing file means no credentials, and one that cannot be read or parsed is left aside with a
warning (naming the line, never its tokens, which may be passwords)."""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path

from evio_fetch.engine.credentials import Login, Logins


def netrc_path(environ: Mapping[str, str]) -> Path:
    given = environ.get("NETRC")
    return Path(given).expanduser() if given else Path.home() / ".netrc"


def load_logins(environ: Mapping[str, str] = os.environ) -> tuple[Logins, str | None]:
    """The credentials in the netrc file, and why it was left aside (None when it was read,
    or is not there)."""
    path = netrc_path(environ)
    try:
        # Given its path, the stdlib reads the file as curl does, whatever its mode.
        parsed = netrc.netrc(str(path))
    except FileNotFoundError:
        return Logins(), None
    except netrc.NetrcParseError as error:
        return (
            Logins(),
            f"{path}: cannot be parsed near line {error.lineno}; its credentials are unused",
        )
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not text"
        return Logins(), f"{path} cannot be read ({reason}); its credentials are unused"
    return _logins(parsed), None


def _logins(parsed: netrc.netrc) -> Logins:
    machines: dict[str, Login] = {}
    default = None
    for host, (user, _, password) in parsed.hosts.items():
        login = Login(user or "", password or "")
        if host == "default":
            default = login
        else:
            machines[host.lower()] = login
    return Logins(machines, default)
