"""The command that resumes an interrupted run, as the user typed it, fit to show: the same
words shell-quoted, without ``--no-resume`` (it would throw away what was kept), and with
every secret hidden (a header's value, a password or signature in a URL, a proxy's
password), since what is shown may end up in a log. Pure: words in, text out."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from evio_fetch.engine.redaction import HIDDEN, scrub_urls

NO_RESUME = "--no-resume"
HEADER = "--header"
PROXY = "--proxy"


def _names(word: str, option: str, shortest: int) -> bool:
    """Whether ``word`` names ``option``, whole or abbreviated as argparse allows."""
    name = word.partition("=")[0]
    return len(name) >= shortest and option.startswith(name)


def _hidden_header(value: str) -> str:
    name, colon, _ = value.partition(":")
    return f"{name.strip()}: {HIDDEN}" if colon else HIDDEN


def _hidden_proxy(value: str) -> str:
    # A proxy may be given without a scheme (alice:pw@proxy:3128): its password still goes.
    rest = value.partition("://")[2] or value
    if "@" not in rest:
        return value
    return value[: len(value) - len(rest)] + f"{HIDDEN}@" + rest.rpartition("@")[2]


def _shown(words: Sequence[str]) -> list[str]:
    shown: list[str] = []
    hide = None
    for word in words:
        if hide is not None:
            shown.append(hide(word))
            hide = None
        elif _names(word, NO_RESUME, len("--no")):
            continue
        elif _names(word, HEADER, len("--hea")) or _names(word, PROXY, len("--pr")):
            hider = _hidden_header if _names(word, HEADER, len("--hea")) else _hidden_proxy
            option, equals, value = word.partition("=")
            if equals:
                shown.append(f"{option}={hider(value)}")
            else:
                shown.append(word)
                hide = hider
        else:
            shown.append(scrub_urls(word))
    return shown


def rerun_command(program: str, words: Sequence[str]) -> tuple[str, bool]:
    """The command line that runs ``program`` with ``words`` again, to resume, and whether
    something in it is hidden (then it must be typed as it was, not pasted as shown)."""
    kept = [w for w in words if not _names(w, NO_RESUME, len("--no"))]
    shown = _shown(words)
    return shlex.join([program, *shown]), shown != kept
