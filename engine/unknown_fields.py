"""Naming the fields of a JSON document that nothing reads, so that a typo such as ``sha265``
never passes silently as "no hash": one line per unknown field, with the known field it is
closest to, if any."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence

# A field that every entry repeats is one line, not one per entry; a document with thousands
# of different unknown fields gets this many lines and a count of the rest.
MAX_LINES = 20
_MAX_NAME = 60


def unknown_fields(
    top: Mapping[str, object],
    top_known: Collection[str],
    entries: Sequence[object],
    entries_at: str,
    entry_known: Collection[str],
) -> list[str]:
    """``datasets[3].sha265: unknown field, ignored; did you mean sha256?`` for each field of
    ``top`` not in ``top_known``, and of its list ``entries`` (found at ``entries_at``) not in
    ``entry_known``: the first entry that has it is named."""
    lines = [_line(_shown(key), key, top_known, 0) for key in top if key not in top_known]
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        for key in entry:
            if key not in entry_known:
                first.setdefault(key, index)
                count[key] = count.get(key, 0) + 1
    for key, index in first.items():
        where = f"{entries_at}[{index}].{_shown(key)}"
        lines.append(_line(where, key, entry_known, count[key] - 1))
    if len(lines) > MAX_LINES:
        rest = len(lines) - MAX_LINES + 1
        lines[MAX_LINES - 1 :] = [f"and {rest} more unknown fields, ignored"]
    return lines


def _line(where: str, key: str, known: Collection[str], others: int) -> str:
    line = f"{where}: unknown field, ignored"
    if others:
        line += f" (also in {others} other {'entry' if others == 1 else 'entries'})"
    close = difflib.get_close_matches(key.lower(), known, n=1)
    return line + (f"; did you mean {close[0]}?" if close else "")


def _shown(key: str) -> str:
    # The name comes from the file: quoted when it could garble a terminal or a log line.
    if key and key.isprintable() and len(key) <= _MAX_NAME:
        return key
    return repr(key if len(key) <= _MAX_NAME else key[: _MAX_NAME - 3] + "...")
