"""Turn the names a server offers (Content-Disposition, the URL) into one safe file name.

Pure: no network, no filesystem. Anything from the network is hostile until cleaned: the
result is a single path component, never ``.``/``..``, without control characters, short
enough to leave room for the sidecar files beside it (SPEC §6).
"""

from __future__ import annotations

import email.message
import email.utils
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from evio_fetch.engine.errors import UnsafeNameError
from evio_fetch.engine.sidecars import sidecar_suffix

# The usual limit on one file name (NAME_MAX) on Linux, macOS and Windows filesystems.
NAME_MAX_BYTES = 255
# The downloader keeps "NAME.evio-part", "NAME.evio-state" and their temporary siblings
# beside a target, so the target's own name must leave room for the longest suffix.
SIDECAR_RESERVE_BYTES = 24
MAX_NAME_BYTES = NAME_MAX_BYTES - SIDECAR_RESERVE_BYTES

# Used when neither the header nor the URL offers a usable name (e.g. "https://host/").
FALLBACK_NAME = "download"

# An extension longer than this is more likely part of the name than a file type.
_MAX_EXTENSION_BYTES = 32
# Control characters, lone surrogates (undecodable header bytes) and line/paragraph
# separators cannot appear in a name; bidirectional overrides would let "exe.txt" show as
# "txt.exe".
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EDGE_JUNK = re.compile(r"^[\s.]+|[\s.]+$")
# Characters Windows refuses in a name; ":" would also name a drive ("C:x") or a stream of
# another file ("x.bin:hidden"). Replaced on every system, so that a file takes the same name
# wherever it is fetched (the machines of one sharded run may differ).
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
# Names Windows gives to devices, whatever their extension ("nul.txt" is the device too).
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)]
)


def name_from_content_disposition(header: str) -> str | None:
    """The file name a Content-Disposition header proposes, or None (RFC 6266).

    ``filename*`` (RFC 5987, percent-encoded with a charset) is preferred over ``filename``,
    as RFC 6266 §4.3 asks; the result is not yet safe to use as a path.
    """
    params = _disposition_params(header)
    encoded = [value for name, value in params if name == "filename" and isinstance(value, tuple)]
    plain = [value for name, value in params if name == "filename" and isinstance(value, str)]
    for value in encoded:
        decoded = email.utils.collapse_rfc2231_value(value, errors="replace")
        if decoded:
            return decoded
    return next((value for value in plain if value), None)


def _disposition_params(header: str) -> Sequence[tuple[str, object]]:
    message = email.message.Message()
    # A folded or injected header line is not ours to interpret: keep the first line only.
    first_line = _without_surrogates(header).splitlines()[:1]
    message["content-disposition"] = first_line[0] if first_line else ""
    # The email package lower-cases names and merges "filename*" into "filename" with a
    # (charset, language, text) tuple, which is what tells the two forms apart (typeshed
    # types the values as str only, hence object here).
    return message.get_params(header="content-disposition") or []


def _without_surrogates(text: str) -> str:
    # aiohttp decodes header bytes as UTF-8 with surrogateescape, and the email package
    # chokes on the surrogates. A byte that was not UTF-8 is read as ISO-8859-1, the charset
    # HTTP/1.1 historically assumed for header values; any other surrogate is unreadable.
    return "".join(_surrogate_char(char) if _is_surrogate(char) else char for char in text)


def _is_surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udfff"


def _surrogate_char(char: str) -> str:
    escaped_byte = ord(char) - 0xDC00
    return chr(escaped_byte) if 0x80 <= escaped_byte <= 0xFF else "\ufffd"


def name_from_url(url: str) -> str | None:
    """The URL's last non-empty path segment, percent-decoded, or None (e.g. for ``/``)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return None
    return unquote(segments[-1], errors="replace") or None


def safe_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` reduced to one file name component that stays inside any directory.

    Raises UnsafeNameError when nothing usable is left.
    """
    cleaned = "".join(char for char in name if _is_kept(char))
    # Keep only the last component: "../../etc/passwd" and "C:\\x\\y.txt" name a file, not
    # where to put it.
    last = _WINDOWS_FORBIDDEN.sub("_", re.split(r"[/\\]", cleaned)[-1])
    result = _not_a_device(_not_a_sidecar(_cap_bytes(_strip_edges(last), max_bytes)))
    if not result:
        raise UnsafeNameError(
            f"the server's file name {name!r} leaves nothing usable once made safe",
            "the name comes from Content-Disposition, else from the URL's last path segment",
        )
    return result


def _not_a_device(name: str) -> str:
    """A name Windows would take for a device gets an underscore: ``CON`` is ``CON_``,
    ``nul.tar.gz`` is ``nul_.tar.gz``."""
    stem, dot, rest = name.partition(".")
    if stem.rstrip().upper() not in _WINDOWS_DEVICES:
        return name
    return stem.rstrip() + "_" + dot + rest


def _not_a_sidecar(name: str) -> str:
    """A name that ends like the partial or state file of another download would take its
    place: its suffix loses the dot ("x.bin.evio-part" becomes "x.bin_evio-part")."""
    suffix = sidecar_suffix(name)
    if suffix is None:
        return name
    return name[: -len(suffix)] + "_" + name[-len(suffix) + 1 :]


def numbered(name: str, number: int) -> str:
    """The name a download takes when ``name`` is taken: ``data (1).bin``, ``data (2).tar.gz``,
    as browsers number them, within the length a name may have."""
    if number == 0:
        return name
    stem, extension = _split_extension(name)
    tag = f" ({number})"
    room = MAX_NAME_BYTES - len((tag + extension).encode())
    return stem.encode()[: max(1, room)].decode(errors="ignore") + tag + extension


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if not stem or not dot or len(extension.encode()) > _MAX_EXTENSION_BYTES:
        return name, ""
    inner, dot2, tar = stem.rpartition(".")
    if inner and dot2 and tar.lower() == "tar":  # data.tar.gz is data (1).tar.gz
        return inner, f".tar.{extension}"
    return stem, f".{extension}"


def _is_kept(char: str) -> bool:
    return unicodedata.category(char) not in _DROPPED_CATEGORIES and char not in _BIDI_CONTROLS


def _strip_edges(name: str) -> str:
    # Leading dots hide a file (".bashrc"); trailing dots and spaces vanish on Windows and
    # make names that look alike. Stripping them also removes "." and "..".
    return _EDGE_JUNK.sub("", name)


def _cap_bytes(name: str, max_bytes: int) -> str:
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, extension = name.rpartition(".")
    suffix = dot + extension
    if not stem or len(suffix.encode()) > _MAX_EXTENSION_BYTES:
        stem, suffix = name, ""
    room = max(0, max_bytes - len(suffix.encode()))
    # Cutting the UTF-8 bytes may split a character; "ignore" drops the broken tail.
    short_stem = stem.encode()[:room].decode(errors="ignore")
    return _strip_edges(_strip_edges(short_stem) + suffix)


def choose_name(content_disposition: str | None, url: str) -> str:
    """The safe name for a download: Content-Disposition, else the URL, else ``download``.

    Never raises: a name that cannot be made safe is passed over for the next candidate.
    """
    candidates = (
        name_from_content_disposition(content_disposition) if content_disposition else None,
        name_from_url(url),
    )
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            return safe_name(candidate)
        except UnsafeNameError:
            continue
    return FALLBACK_NAME
