"""Read and check a dataset manifest (SPEC §3), turning it into file specs.

Pure apart from reading the file and resolving paths: nothing is downloaded. A manifest is
taken whole or refused whole, with one ManifestError naming the file, the entry and the field
(``docs/data/datasets.json: datasets[3].path: …``), so nothing is fetched from a manifest
that is partly wrong. A field it does not know is no reason to refuse it, but never passes
unseen either: each one is named in the manifest's warnings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import msgspec

from evio_fetch.engine.checksums import ALGORITHMS, Checksum, parse_checksum
from evio_fetch.engine.drive_links import DriveRef, parse_drive_link
from evio_fetch.engine.errors import ManifestError
from evio_fetch.engine.file_buffer import file_buffer
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.naming import MAX_NAME_BYTES, NAME_MAX_BYTES
from evio_fetch.engine.sidecars import sidecar_suffix
from evio_fetch.engine.sources import ENCODE_HINT, UNREADABLE_URL
from evio_fetch.engine.unknown_fields import unknown_fields

_DRIVE_ID = re.compile(r"[-\w]{10,}", re.ASCII)
# Unicode's Cc category: C0 controls, DEL and C1 controls (one pattern, not a lookup per char).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SPACE_OR_CONTROL = re.compile("[\\s\x00-\x1f\x7f-\x9f]")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# Sizes travel to workers as msgpack, whose integers stop at 2**64 - 1; a signed 64-bit
# off_t stops earlier, and no real file comes near either.
_MAX_SIZE = 2**63 - 1

_EXAMPLE_ENTRY = '{"id": "1vB1cO…", "path": "evio/data/fan/fan_const_rpm.dat"}'
_FIELD_HINTS = {
    "": 'a manifest is one JSON object: {"version": "1.0", "datasets": [ENTRY, …]}',
    "datasets": f"list the files under datasets, one object each, e.g. {_EXAMPLE_ENTRY}",
    "entry": f"each entry is an object with a path and an id or url, e.g. {_EXAMPLE_ENTRY}",
    "path": "give a relative path under --root, with / between directories, ending in a file name",
    "id": "give the Drive file ID from its share link (/file/d/ID/view), or use url instead",
    "url": "give an http(s) URL, or a Drive file id under id",
    "mirrors": "give mirrors as a list of http(s) URLs that serve the same bytes",
    "size": "give the size in bytes as a whole number, or 0 (or leave it out) if unknown",
    "sha256": 'give the SHA256 as 64 hexadecimal digits, or "" (or leave it out) if unknown',
    "checksum": f'give the checksum as "ALGORITHM:HEX" with ALGORITHM one of '
    f'{", ".join(ALGORITHMS)} (e.g. "md5:9e107d9d372bb6826bd81d3542a419d6"), or "" '
    "(or leave it out) if unknown",
    "name": "give name as a string, or leave it out",
    "version": 'give version as a string, e.g. "1.0"',
    "source": "give source as a string, or leave it out",
    "generated": 'give generated as a string, e.g. "2025-11-15", or leave it out',
}


# Untracked by the garbage collector: an entry holds only strings, numbers and a list of
# strings, so it can be in no cycle, and a large manifest's entries cost 16 bytes less each.
class _Entry(msgspec.Struct, gc=False):
    # Every field optional, so that a missing one is reported in our words, not msgspec's.
    id: str | None = None
    url: str | None = None
    path: str | None = None
    name: str | None = None
    size: int | None = None
    sha256: str | None = None
    checksum: str | None = None
    mirrors: list[str] | None = None


class _KnownEntry(_Entry, forbid_unknown_fields=True):
    """An entry with no field that nothing reads."""


E = TypeVar("E", bound=_Entry)


class _Document(msgspec.Struct, Generic[E]):
    datasets: list[E] | None = None
    version: str | int | float | None = None
    source: str | None = None
    generated: str | None = None


class _KnownDocument(_Document[_KnownEntry], forbid_unknown_fields=True):
    """A document with no field that nothing reads: most manifests."""


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    origin: str
    root: str
    entries: list[FileSpec]
    version: str | None = None
    source: str | None = None
    generated: str | None = None
    # One line per unknown field: ``ORIGIN: datasets[3].sha265: unknown field, ignored; …``.
    warnings: list[str] = msgspec.field(default_factory=list)


class _Invalid(Exception):
    """One problem at one place of the document; _named adds the file name."""

    def __init__(self, where: str, problem: str, hint_key: str, hint: str = "") -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem
        self.hint = hint or _FIELD_HINTS.get(hint_key, "")


def load_manifest(path: Path, root: Path) -> Manifest:
    """Read the manifest at ``path``; its entry paths are relative to ``root``."""
    origin = str(path)
    # The file's bytes are gone once decoded, before the specs are made from them.
    with _named(origin), _read(path) as data:
        document, unknown = _decode(data)
    return _manifest(document, unknown, root, origin)


def decode_manifest(data: bytes, root: Path, origin: str) -> Manifest:
    """Check the manifest ``data`` (read from ``origin``) and make its file specs."""
    with _named(origin), memoryview(data) as view:
        document, unknown = _decode(view)
    return _manifest(document, unknown, root, origin)


@contextmanager
def _read(path: Path) -> Iterator[memoryview]:
    try:
        with file_buffer(path) as data:
            yield data
    except OSError as error:
        raise ManifestError(
            f"{path}: cannot read the manifest ({error.strerror or error})",
            "pass the manifest's location with --manifest PATH, "
            "or give URLs or Drive file IDs as arguments",
        ) from None


@contextmanager
def _named(origin: str) -> Iterator[None]:
    """A problem found in the document, as the error that names its file."""
    try:
        yield
    except _Invalid as invalid:
        where = f"{invalid.where}: " if invalid.where else ""
        raise ManifestError(f"{origin}: {where}{invalid.problem}", invalid.hint) from None


def _manifest(
    document: _Document[_KnownEntry] | _Document[_Entry],
    unknown: list[str],
    root: Path,
    origin: str,
) -> Manifest:
    with _named(origin):
        base = _resolve_root(root)
        entries = _specs(document.datasets, base)
    return Manifest(
        origin=origin,
        root=str(base),
        entries=entries,
        version=None if document.version is None else str(document.version),
        source=document.source,
        generated=document.generated,
        warnings=[f"{origin}: {line}" for line in unknown],
    )


# Decoding ---------------------------------------------------------------------------------


_BOM = b"\xef\xbb\xbf"
_BLANK = re.compile(rb"\s*")
# Pieces of a large manifest looked at as bytes one at a time, each small for malloc.
_PIECE = 64 * 1024


def _decode(data: memoryview) -> tuple[_Document[_KnownEntry] | _Document[_Entry], list[str]]:
    """The document as checked types, and a line for each field nothing reads."""
    # Editors on Windows like to start UTF-8 files with a byte order mark; JSON forbids it.
    with data[len(_BOM) if data[: len(_BOM)] == _BOM else 0 :] as text:
        return _decode_text(text)


def _decode_text(
    data: memoryview,
) -> tuple[_Document[_KnownEntry] | _Document[_Entry], list[str]]:
    if _BLANK.fullmatch(data):  # not strip(): that copies the file
        raise _Invalid("", "the file is empty", "")
    _check_utf8(data)
    # Most manifests are valid and hold only known fields: decoded straight into types, a
    # large one never exists twice in memory (as plain JSON values, then as types). Any
    # problem, or a field to warn about, takes the careful way below, which names it.
    try:
        return msgspec.json.decode(data, type=_KnownDocument), []
    except msgspec.DecodeError:
        pass
    raw, document = _decode_carefully(data)
    return document, _unknown_fields(raw)


def _decode_carefully(data: memoryview) -> tuple[object, _Document[_Entry]]:
    """The document as plain JSON values, and as checked types."""
    # Syntax first, types second: decoding straight into _Document would report a type error
    # early in the file and hide a syntax error further down.
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as error:
        raise _from_syntax(str(error), bytes(data)) from None
    try:
        return raw, msgspec.convert(raw, type=_Document[_Entry])
    except msgspec.ValidationError as error:
        raise _from_validation(str(error)) from None


def _unknown_fields(raw: object) -> list[str]:
    assert isinstance(raw, dict), "a document that converted is an object"
    entries = raw.get("datasets") or []
    return unknown_fields(
        raw, _Document.__struct_fields__, entries, "datasets", _Entry.__struct_fields__
    )


def _check_utf8(data: memoryview) -> None:
    # msgspec raises a bare UnicodeDecodeError for a bad string; say where it is instead.
    if all(bytes(data[at : at + _PIECE]).isascii() for at in range(0, len(data), _PIECE)):
        return  # no copy of a large manifest as text to learn what ASCII already tells
    try:
        str(data, "utf-8")
    except UnicodeDecodeError as error:
        line, column = _line_column(bytes(data), error.start)
        raise _Invalid(
            "",
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at line {line}, column {column})",
            "",
            "save the manifest as UTF-8",
        ) from None


_SYNTAX_AT = re.compile(r"^JSON is malformed: (?P<what>.*) \(byte (?P<at>[0-9]+)\)$")
_SYNTAX_HINT = "fix the JSON syntax; `python -m json.tool FILE` points at the first mistake"


def _from_syntax(message: str, data: bytes) -> _Invalid:
    match = _SYNTAX_AT.match(message)
    if match is None:
        # msgspec says "truncated" both for a cut-off document and for a lone \\uD800 escape.
        return _Invalid("", "not valid JSON: it ends inside a value", "", _SYNTAX_HINT)
    line, column = _line_column(data, int(match["at"]))
    problem = f"not valid JSON: {match['what']} near line {line}, column {column}"
    return _Invalid("", problem, "", _SYNTAX_HINT)


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    # Count characters, not bytes, so the column matches what an editor shows.
    column = len(data[line_start:offset].decode(errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


_VALIDATION_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`$")
_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}

# What was found is one concrete type; 1.5 where a whole number belongs is "a decimal number".
_GOT_WORDS = {**_TYPE_WORDS, "float": "a decimal number"}


def _from_validation(message: str) -> _Invalid:
    """msgspec's ``Expected `int | null`, got `str` - at `$.datasets[3].size```, in our words."""
    match = _VALIDATION_AT.match(message)
    problem, path = (match["problem"], match["path"] or "") if match else (message, "")
    where = path.removeprefix(".")
    expected = _EXPECTED.match(problem)
    if expected:
        want, got = _type_words(expected["want"]), _GOT_WORDS.get(expected["got"], "")
        problem = f"expected {want}, got {got or expected['got']}"
    else:
        problem = problem[:1].lower() + problem[1:]
    return _Invalid(where, problem, _hint_key(where))


def _type_words(types: str) -> str:
    # "null" stands for "left out" in our optional fields: not worth offering to the user.
    words = [_TYPE_WORDS.get(name, name) for name in types.split(" | ") if name != "null"]
    if "a number" in words and "a whole number" in words:
        words.remove("a whole number")
    return " or ".join(dict.fromkeys(words)) or "null"


def _hint_key(where: str) -> str:
    last = where.rsplit(".", 1)[-1]
    if last.startswith("mirrors["):
        return "mirrors"
    return "entry" if last.endswith("]") else last


# Entries ----------------------------------------------------------------------------------


def _resolve_root(root: Path) -> Path:
    try:
        return root.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python 3.11)
        raise _Invalid(
            "", f"cannot resolve the root {root}: {error}", "", "check --root DIR"
        ) from None


def _specs(datasets: Sequence[_Entry] | None, root: Path) -> list[FileSpec]:
    if datasets is None:
        raise _Invalid("datasets", "missing", "datasets")
    if not datasets:
        raise _Invalid("datasets", "empty: there is nothing to fetch", "datasets")
    places = _Places(root)
    # Files of one size share one int (28 bytes each): datasets of many small files are
    # often cut into pieces of one size.
    sizes: dict[int, int] = {}
    specs = [_spec(index, entry, root, places, sizes) for index, entry in enumerate(datasets)]
    _check_layout(((spec.index, spec.target) for spec in specs if spec.target), root)
    return specs


def _spec(
    index: int, entry: _Entry, root: Path, places: _Places, sizes: dict[int, int]
) -> FileSpec:
    at = f"datasets[{index}]"
    path_text = _check_path_text(f"{at}.path", entry.path)
    target = _target(f"{at}.path", path_text, root, places)
    url, drive_id, resource_key = _source(at, entry)
    sha256, checksum = _hashes(at, entry)
    size = _size(f"{at}.size", entry.size)
    return FileSpec(
        index=index,
        label=path_text,
        url=url,
        drive_id=drive_id,
        resource_key=resource_key,
        mirrors=_mirrors(f"{at}.mirrors", entry.mirrors, url),
        target=target,
        output_dir=places.root,
        size=None if size is None else sizes.setdefault(size, size),
        sha256=sha256,
        checksum=checksum,
    )


def _source(at: str, entry: _Entry) -> tuple[str | None, str | None, str | None]:
    """(url, drive_id, resource_key): with both, two sources of the file (``url`` first)."""
    drive_id = _drive_id(f"{at}.id", entry.id) if entry.id else None
    if not entry.url:
        if drive_id is None:
            raise _Invalid(at, "has neither id nor url", "entry")
        return None, drive_id, None
    url = _check_url(f"{at}.url", entry.url)
    ref = parse_drive_link(url)
    if ref is None:
        return url, drive_id, None
    # A Drive share link fetched as a plain URL yields an HTML page; fetch it as Drive does.
    _check_drive_url(f"{at}.url", url, ref, drive_id)
    return None, ref.id, ref.resource_key


def _mirrors(where: str, values: list[str] | None, url: str | None) -> tuple[str, ...]:
    """More http(s) URLs of the same bytes, each once (the entry's own ``url`` left out)."""
    found: list[str] = []
    for number, value in enumerate(values or ()):
        mirror = _check_url(f"{where}[{number}]", value, "mirrors")
        ref = parse_drive_link(mirror)
        if ref is not None:
            raise _Invalid(
                f"{where}[{number}]",
                f"{mirror} is a Google Drive link; a mirror is a plain URL",
                "mirrors",
                "give the Drive file under id: it is then one more source of the file",
            )
        if mirror != url and mirror not in found:
            found.append(mirror)
    return tuple(found)


def _check_drive_url(where: str, url: str, ref: DriveRef, given_id: str | None) -> None:
    if ref.kind == "folder":
        raise _Invalid(
            where,
            f"{url} is a Google Drive folder, not a file",
            "url",
            f"list its files as entries with `evio-fetch manifest {url}`",
        )
    if ref.kind == "document":
        fix = f"use its export URL {ref.export_url}" if ref.export_url else "export it first"
        raise _Invalid(where, f"{url} is a Google Docs document, not a file", "url", fix)
    if given_id is not None and given_id != ref.id:
        raise _Invalid(
            where,
            f"names Drive file {ref.id}, but id is {given_id}",
            "url",
            "keep one of the two, or make them agree",
        )


def _drive_id(where: str, value: str) -> str:
    if _DRIVE_ID.fullmatch(value) is None:
        raise _Invalid(where, f"{value!r} is not a Google Drive file ID", "id")
    return value


def _check_url(where: str, value: str, field: str = "url") -> str:
    try:
        url = urlsplit(value)
        host = url.hostname
        url.port  # noqa: B018  (reading it checks it: a password with "/" or "#" ends up here)
    except ValueError:
        # Not the parser's words: they quote the part it choked on, a password perhaps.
        raise _Invalid(where, f"{value!r} {UNREADABLE_URL}", field, ENCODE_HINT) from None
    if url.scheme.lower() not in ("http", "https") or not host:
        raise _Invalid(where, f"{value!r} is not an http(s) URL", field)
    if _SPACE_OR_CONTROL.search(value):
        raise _Invalid(where, f"{value!r} contains spaces or control characters", field)
    return value


def _size(where: str, value: int | None) -> int | None:
    if value is None or value == 0:
        return None
    if value < 0:
        raise _Invalid(where, f"{value} is negative", "size")
    if value > _MAX_SIZE:
        raise _Invalid(where, f"{value} is larger than any file can be", "size")
    return value


def _hashes(at: str, entry: _Entry) -> tuple[str | None, Checksum | None]:
    """The entry's SHA256 and other checksum; a SHA256 given as ``checksum`` is its SHA256."""
    sha256 = _sha256(f"{at}.sha256", entry.sha256)
    checksum = _checksum(f"{at}.checksum", entry.checksum)
    if checksum is None or checksum.algorithm != "sha256":
        return sha256, checksum
    if sha256 is not None and sha256 != checksum.hex:
        raise _Invalid(
            f"{at}.checksum",
            f"{checksum} differs from the entry's sha256 {sha256}",
            "checksum",
            "keep one of the two, or make them agree",
        )
    return checksum.hex, None


def _checksum(where: str, value: str | None) -> Checksum | None:
    if not value:
        return None
    try:
        return parse_checksum(value)
    except ValueError as error:
        raise _Invalid(where, str(error), "checksum") from None


def _sha256(where: str, value: str | None) -> str | None:
    if not value:
        return None
    if _SHA256.fullmatch(value) is None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise _Invalid(where, f"{shown!r} is not 64 hexadecimal digits", "sha256")
    lowered = value.lower()
    return value if lowered == value else lowered  # one string per file, not two


# Paths ------------------------------------------------------------------------------------


def _check_path_text(where: str, value: str | None) -> str:
    """The path as written, if it can only mean a file under the root."""
    if value is None:
        raise _Invalid(where, "missing", "path")
    problem = _path_text_problem(value)
    if problem:
        raise _Invalid(where, problem, "path")
    return value


def _path_text_problem(value: str) -> str | None:
    if not value:
        return "empty"
    control = _CONTROL.search(value)
    if control is not None:
        return f"{value!r} contains the control character U+{ord(control[0]):04X}"
    if "\\" in value:
        return f"{value} contains a backslash; use / between directories"
    if value.startswith("/"):
        return f"{value} is absolute; give it relative to the root"
    name = value.rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        return f"{value} names a directory, not a file"
    suffix = sidecar_suffix(name)
    if suffix is not None:
        # Another entry's partial or state file would be this one: each would destroy the other.
        return f"{value} ends in {suffix}, the name evio-fetch gives a download's own files"
    return _component_problem(value)


def _component_problem(value: str) -> str | None:
    parts = value.split("/")
    for number, part in enumerate(parts, start=1):
        limit = MAX_NAME_BYTES if number == len(parts) else NAME_MAX_BYTES
        if len(part.encode()) > limit:
            return f"{value}: the name {part[:40]}… is longer than {limit} bytes"
    return None


def _target(where: str, value: str, root: Path, places: _Places) -> str:
    if _leaves_root_lexically(value):
        raise _Invalid(where, f"{value} leaves the root through ..", "path")
    try:
        target = places.resolve(value)
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python 3.11)
        raise _Invalid(where, f"{value} cannot be resolved: {error}", "path") from None
    if target == places.root:
        raise _Invalid(where, f"{value} names the root itself, not a file", "path")
    if not target.startswith(places.inside):
        raise _Invalid(
            where,
            f"{value} resolves through a symlink to {target}, outside the root {root}",
            "path",
            "remove the symlink, or put the data under the root (--root DIR)",
        )
    return target


class _Places:
    """Where manifest paths lead, through symlinks as opening the file would: each directory
    is resolved once however many entries it holds, and a file is looked at only with one
    ``lstat``. Strings, not pathlib: this runs once per entry of manifests of any size."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.inside = os.path.join(self.root, "")
        self._directories: dict[str, str] = {}

    def resolve(self, value: str) -> str:
        directory, _, name = value.rpartition("/")
        path = os.path.join(self._directory(directory), name)
        if name in (".", "..") or os.path.islink(path):
            return str(Path(path).resolve())
        return path

    def _directory(self, directory: str) -> str:
        found = self._directories.get(directory)
        if found is None:
            # resolve() follows symlinks and ".." in order, as the kernel does (never
            # lexically: a/.. is not the root when a is a symlink), and refuses a loop.
            found = str(Path(self.root, directory).resolve())
            self._directories[directory] = found
        return found


def _leaves_root_lexically(value: str) -> bool:
    depth = 0
    for part in value.split("/"):
        if part == "..":
            depth -= 1
        elif part not in ("", "."):
            depth += 1
        if depth < 0:
            return True
    return False


def _check_layout(targets: Iterable[tuple[int, str]], root: Path) -> None:
    """No two entries share a file, and no entry needs a directory where another has a file.
    One pass over the paths as strings: a set of files and a set of the directories above
    them, so the cost grows with the number of path components, not with their pairs."""
    # Files by target: the spec's own string, where a key of its own would cost every entry
    # of a large manifest a copy while the manifest is read.
    files: dict[str, int] = {}
    directories: dict[str, int] = {}
    prefix = len(str(root))
    for index, target in targets:
        shown = target[prefix:].lstrip(os.sep)
        problem = _layout_problem(target, shown, files, directories)
        if problem:
            raise _Invalid(
                f"datasets[{index}].path",
                problem,
                "path",
                "give each entry its own path (and remove duplicate entries)",
            )
        files[target] = index
        for parent in _parents(shown):
            directories.setdefault(parent, index)


def _layout_problem(
    target: str, shown: str, files: dict[str, int], directories: dict[str, int]
) -> str | None:
    """What is wrong with ``target`` (``shown`` below the root) among the files and
    directories before it."""
    if target in files:
        return f"two entries share the target path {shown} (also datasets[{files[target]}])"
    if shown in directories:
        return f"{shown} is a file here but a directory in datasets[{directories[shown]}]"
    under = target[: len(target) - len(shown)]
    for parent in _parents(shown):
        if under + parent in files:
            return (
                f"{shown} needs a directory {parent}, a file in datasets[{files[under + parent]}]"
            )
    return None


def _parents(shown: str) -> list[str]:
    """``a/b/c`` → ``a``, ``a/b``: the directories a path under the root needs."""
    parts = shown.split(os.sep)
    return [os.sep.join(parts[:n]) for n in range(1, len(parts))]
