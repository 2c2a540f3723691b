"""Turn the SOURCE arguments of the command line into file specs (SPEC §2).

Pure: no network. Each argument is an http(s) URL, a Drive share link or a bare Drive file
ID; the server names the file later, inside the output directory. A spec's label is the
source with its secrets hidden (engine.redaction); its URL is the source as given.
"""

from __future__ import annotations

import os
import shlex
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from evio_fetch.engine.drive_links import DriveRef, parse_drive_link
from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import FileSpec
from evio_fetch.engine.redaction import redact_url

_WHAT_WORKS = "give an http(s) URL, a Google Drive file link, or a bare Drive file ID"
UNREADABLE_URL = "is not a valid URL: its host or port cannot be read"
ENCODE_HINT = (
    "percent-encode special characters in a user name or password (/ as %2F, ? as %3F, "
    "# as %23, @ as %40)"
)


def specs_from_sources(
    sources: Sequence[str], output_dir: Path, start_index: int = 0
) -> list[FileSpec]:
    """One FileSpec per source, in order, indexed from ``start_index``.

    Raises UsageError for the first source that cannot be fetched as given.
    """
    # abspath, not resolve: the directory may not exist yet, and a symlinked output
    # directory is the user's choice to honour.
    out = os.path.abspath(output_dir)
    return [_spec(start_index + n, source, out) for n, source in enumerate(sources)]


def _spec(index: int, source: str, output_dir: str) -> FileSpec:
    ref = parse_drive_link(source)
    if ref is not None:
        return _drive_spec(index, source, output_dir, ref)
    _check_http_url(source)
    return FileSpec(
        index=index, label=redact_url(source), url=source.strip(), output_dir=output_dir
    )


def _drive_spec(index: int, source: str, output_dir: str, ref: DriveRef) -> FileSpec:
    if ref.kind == "folder":
        raise UsageError(
            f"source {_shown(source)} is a Google Drive folder; evio-fetch downloads files",
            f"make a manifest of its files with `evio-fetch manifest {_shown(source)}`, "
            "then run evio-fetch --manifest on it",
        )
    if ref.kind == "document":
        raise UsageError(
            f"source {_shown(source)} is a Google Docs document, which has no file to download",
            f"pass its export URL instead: {ref.export_url}"
            if ref.export_url
            else "export it from Google Docs (File > Download) and fetch that file",
        )
    return FileSpec(
        index=index,
        label=redact_url(source),
        drive_id=ref.id,
        resource_key=ref.resource_key,
        output_dir=output_dir,
    )


def _check_http_url(source: str) -> None:
    text = source.strip()
    try:
        url = urlsplit(text)
        host = url.hostname
        url.port  # noqa: B018  (reading it checks it: a password with "/" or "#" ends up here)
    except ValueError:
        # Not the parser's words: they quote the part it choked on, a password perhaps.
        raise UsageError(f"source {_shown(source)} {UNREADABLE_URL}", ENCODE_HINT) from None
    scheme = url.scheme.lower()
    if scheme in ("http", "https") and host:
        _check_url_characters(source, text)
        return
    raise UsageError(f"source {_shown(source)} {_why_not(text, scheme)}", _WHAT_WORKS)


def _check_url_characters(source: str, text: str) -> None:
    # A space or control character would be sent raw or rejected deep in the HTTP client;
    # say so now, while the user is looking at the command line.
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in text):
        raise UsageError(
            f"source {_shown(source)} contains spaces or control characters",
            "percent-encode them in the URL (a space is %20)",
        )


def _why_not(text: str, scheme: str) -> str:
    if not text:
        return "is empty"
    if scheme in ("http", "https"):
        return "has no host name"
    # A one-letter scheme is a Windows drive ("C:\\data"), not a URL scheme.
    if len(scheme) > 1:
        return f"uses {scheme}:, which evio-fetch does not fetch"
    if os.path.exists(text):
        return "is a local file or directory, not a URL or Drive file ID"
    if _looks_like_host(text):
        return f"has no scheme; did you mean https://{text} ?"
    if "/" in text or "\\" in text or text.startswith("."):
        return "looks like a local path, not a URL or Drive file ID"
    return "is not a URL, a Google Drive link or a Drive file ID"


def _looks_like_host(text: str) -> bool:
    host = text.split("/", 1)[0]
    return "." in host.strip(".") and not any(char.isspace() or char == "\\" for char in text)


def _shown(source: str) -> str:
    # Quoted the way a shell would need it, so the argument can be copied back (its secrets
    # hidden whole here: a space would cut a URL in two for the scrub of messages).
    return shlex.quote(redact_url(source))
