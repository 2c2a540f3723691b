"""The one promise every adversarial test checks after each run of the command.

Whatever a server or a planted file does, evio-fetch may fail a file but never lie about it:

(a) a file reported ``downloaded`` (or ``present``) is a regular file at its reported path,
    inside the output root, with no symlink on the way from the root to it;
(b) a ``downloaded`` file holds exactly one whole representation of its source: the bytes the
    server served, in one piece, as one version of that file (never a splice of two), of
    the size the manifest gives when it gives one;
(c) its reported ``sha256`` is the SHA256 of those bytes, and its ``size_verified`` (when the
    report has the key) says whether a size was known to check it against;
(d) a file reported ``failed`` left nothing at its target;
(e) nothing of the download is left beside a downloaded file (``*.evio-part``,
    ``*.evio-state``, ``*.evio-state.tmp``);
(f) the directory planted beside the root is unchanged: every entry's type, mode, bytes and
    symlink target.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIDECARS = (".evio-part", ".evio-state", ".evio-state.tmp")
# The grain at which a wrong file is described as pieces of the versions it mixes.
PIECE = 256 * 1024


@dataclass(frozen=True)
class Expect:
    """What one file of a run (by its ``--json`` label) may become."""

    representations: Sequence[bytes]
    """Every whole version its source served; a downloaded file must hold exactly one."""
    target: Path | None = None
    """Where it lands if it lands (known for manifest entries): nothing there if it fails."""
    size_known: bool = True
    """Whether a size was known (manifest, Content-Length or Content-Range) to verify."""
    size: int | None = None
    """The size the manifest gives, if any."""


# The planted directory ------------------------------------------------------------------------

Shape = tuple[Any, ...]


def snapshot(directory: Path) -> dict[str, Shape]:
    """Every entry under ``directory`` (itself included, as ``.``), never following links."""
    shapes: dict[str, Shape] = {".": _shape(directory)}
    pending = [directory]
    while pending:
        current = pending.pop()
        for entry in os.scandir(current):
            path = Path(entry.path)
            shapes[path.relative_to(directory).as_posix()] = _shape(path)
            if entry.is_dir(follow_symlinks=False):
                pending.append(path)
    return shapes


def _shape(path: Path) -> Shape:
    info = path.lstat()
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return ("symlink", os.readlink(path))
    if stat.S_ISREG(info.st_mode):
        return ("file", oct(mode), hashlib.sha256(path.read_bytes()).hexdigest(), info.st_size)
    if stat.S_ISDIR(info.st_mode):
        return ("directory", oct(mode))
    return ("other", stat.S_IFMT(info.st_mode), oct(mode))


def changes(before: Mapping[str, Shape], after: Mapping[str, Shape]) -> list[str]:
    found = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was != now:
            found.append(f"outside/{name}: was {was}, now {now}")
    return found


# The check ------------------------------------------------------------------------------------


def check(
    report: Mapping[str, Any] | None,
    root: Path,
    expected: Mapping[str, Expect],
    outside: Path,
    outside_before: Mapping[str, Shape],
) -> None:
    """Raise AssertionError listing every broken promise of one run. ``report`` is the parsed
    ``--json`` document, or None when the run wrote none (refused before downloading)."""
    __tracebackhide__ = True
    problems = changes(outside_before, snapshot(outside))
    files = report["files"] if report is not None else []
    seen = {item["label"] for item in files}
    for item in files:
        expect = expected.get(item["label"])
        if expect is None:
            problems.append(f"{item['label']}: in the report, but the test expected no such file")
            continue
        problems += _check_file(item, expect, root)
    if report is None:  # nothing was reported, so nothing may have landed
        for label, expect in expected.items():
            if expect.target is not None and os.path.lexists(expect.target):
                problems.append(f"{label}: no report, yet {expect.target} exists")
    else:
        problems += [f"{label}: missing from the report" for label in expected.keys() - seen]
    assert not problems, "the invariant is broken:\n  " + "\n  ".join(problems)


def _check_file(item: Mapping[str, Any], expect: Expect, root: Path) -> list[str]:
    label, outcome = item["label"], item["outcome"]
    if outcome == "failed":
        if expect.target is not None and os.path.lexists(expect.target):
            return [f"{label}: failed ({_code(item)}), yet {expect.target} exists"]
        return []
    if outcome not in ("downloaded", "present"):
        return []
    path = Path(item["path"] or "")
    problems = [f"{label}: {outcome} at {path}, {p}" for p in _confinement(path, root)]
    if problems or outcome == "present":
        return problems
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if data not in expect.representations:
        problems.append(f"{label}: {path} holds {_describe(data, expect.representations)}")
    if expect.size is not None and len(data) != expect.size:
        problems.append(f"{label}: {len(data)} bytes landed, the manifest says {expect.size}")
    if item["sha256"] != digest:
        problems.append(f"{label}: reported sha256 {item['sha256']}, the bytes have {digest}")
    if "size_verified" in item and item["size_verified"] is not expect.size_known:
        problems.append(
            f"{label}: size_verified is {item['size_verified']!r}, expected {expect.size_known!r}"
        )
    problems += [
        f"{label}: {path.name}{suffix} is left beside the downloaded file"
        for suffix in SIDECARS
        if os.path.lexists(path.with_name(path.name + suffix))
    ]
    return problems


def _code(item: Mapping[str, Any]) -> str:
    return str((item.get("error") or {}).get("code"))


def _confinement(path: Path, root: Path) -> list[str]:
    """What is wrong with ``path`` as a file inside ``root`` reached through no symlink."""
    if not path.is_absolute():
        return ["which is not an absolute path"]
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return [f"which is outside the root {root}"]
    if not parts or ".." in parts:
        return [f"which does not name a file under the root {root}"]
    current = root
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            return [f"but {current} does not exist"]
        if stat.S_ISLNK(mode):
            return [f"but {current} is a symlink to {os.readlink(current)}"]
        last = index == len(parts) - 1
        if last and not stat.S_ISREG(mode):
            return ["which is not a regular file"]
    return []


def _describe(data: bytes, versions: Sequence[bytes]) -> str:
    """What a wrong file holds, in terms of the versions served: sizes, and which version
    each piece of it comes from (a splice shows as pieces of different versions)."""
    sizes = ", ".join(f"v{i + 1}: {len(v)}" for i, v in enumerate(versions))
    text = f"{len(data)} bytes, none of the {len(versions)} version(s) served ({sizes})"
    runs: list[tuple[str, int, int]] = []
    for offset in range(0, len(data), PIECE):
        piece = data[offset : offset + PIECE]
        owner = next(
            (f"v{i + 1}" for i, v in enumerate(versions) if v[offset : offset + PIECE] == piece),
            "other bytes",
        )
        if runs and runs[-1][0] == owner:
            runs[-1] = (owner, runs[-1][1], offset + len(piece))
        else:
            runs.append((owner, offset, offset + len(piece)))
    if 1 < len(runs) <= 12 or (runs and runs[0][0] != "other bytes"):
        text += "; pieces: " + ", ".join(f"[{a}, {b}) {o}" for o, a, b in runs[:12])
    return text
