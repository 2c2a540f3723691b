"""A public Drive folder's listing from its embedded view (drive/NOTES.md §7).

Pure: no network. ``{drive}/embeddedfolderview?id=FOLDER`` answers an HTML page that lists
the folder's direct children, each as a ``flip-entry`` holding a link (whose URL gives the
ID and tells files, folders and Google documents apart), a ``flip-entry-title`` with the
HTML-escaped name, an optional ``flip-entry-list-icon`` whose image URL ends in the MIME
type, and a localised ``flip-entry-last-modified`` text. The page's ``<title>`` is the
folder's name. Sub-folders are not expanded: each needs its own request.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urlencode

import msgspec

from evio_fetch.engine.drive_links import Kind, parse_drive_link

MAX_FOLDER_PAGE_BYTES: Final = 8 * 1024 * 1024
"""The longest page read (about 20,000 entries at Drive's ~400 bytes each); a longer one is
refused rather than listed in part."""

_MIME_MARKER = "/type/"
_FOLDER_MIME = "application/vnd.google-apps.folder"
# Any of these classes means the page is a folder view, even one with no entries.
_VIEW_CLASS_PREFIX = "flip-"
_MAX_TEXT = 1000


class FolderEntry(msgspec.Struct, frozen=True):
    """One child of a folder."""

    id: str
    name: str
    kind: Kind
    """``file`` (bytes at /uc), ``folder`` (list it too) or ``document`` (export only)."""
    href: str
    resource_key: str | None = None
    mime: str | None = None
    """From the list icon's URL; absent for some entries."""
    modified: str = ""
    """As Drive shows it: localised and sometimes relative (``12:30``, ``17 ago``)."""
    export_url: str | None = None
    """For a Google document with a binary export: where its bytes are."""


class FolderListing(msgspec.Struct, frozen=True):
    name: str
    entries: list[FolderEntry]
    complete: bool = True
    """Whether the page reached its end (``</body>`` or ``</html>``): a page cut short lists
    only some of the folder's entries."""


def folder_view_url(drive_url: str, folder_id: str, resource_key: str | None = None) -> str:
    """``{drive_url}/embeddedfolderview?id=FOLDER``, with the resource key if there is one."""
    query = {"id": folder_id}
    if resource_key:
        query["resourcekey"] = resource_key
    return f"{drive_url.rstrip('/')}/embeddedfolderview?{urlencode(query)}"


def parse_folder_view(body: bytes) -> FolderListing | None:
    """The listing on an embedded folder view page, or None when the page is not one (a
    sign-in page, an error page). A page cut short gives a listing that is not ``complete``."""
    scanner = _Scanner()
    try:
        scanner.feed(body[:MAX_FOLDER_PAGE_BYTES].decode("utf-8", errors="replace"))
        scanner.close()
    except AssertionError:
        pass  # html.parser gave up on a malformed declaration; keep what it read
    return scanner.result()


# Reading the page ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Region:
    """An open element that matters, closed when its tag's nesting returns to zero."""

    name: str
    tag: str
    depth: int = 1


@dataclass(slots=True)
class _Draft:
    element_id: str
    href: str | None = None
    title: str = ""
    mime: str | None = None
    modified: str = ""
    modified_seen: bool = False
    folder_icon: bool = False


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._is_view = False
        self._title: str | None = None
        self._title_done = False
        self._regions: list[_Region] = []
        self._draft: _Draft | None = None
        self._entries: list[FolderEntry] = []
        self._seen: set[str] = set()
        self._ended = False

    def result(self) -> FolderListing | None:
        self._finish_entry()
        if not self._is_view:
            return None
        return FolderListing((self._title or "").strip(), self._entries, self._ended)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = _attributes(attrs)
        classes = values.get("class", "").lower().split()
        self._is_view = self._is_view or any(c.startswith(_VIEW_CLASS_PREFIX) for c in classes)
        for region in self._regions:
            if region.tag == tag:
                region.depth += 1
        if tag == "title" and self._title is None:
            self._title = ""
        if "flip-entry" in classes:
            self._start_entry(tag, values)
        elif self._draft is not None:
            self._inside_entry(self._draft, tag, values, classes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._title_done = self._title is not None
        elif tag in ("body", "html"):
            self._ended = True
        for region in list(self._regions):
            if region.tag != tag:
                continue
            region.depth -= 1
            if region.depth == 0:
                self._regions.remove(region)
                if region.name == "entry":
                    self._finish_entry()

    def handle_data(self, data: str) -> None:
        if self._title is not None and not self._title_done:
            self._title = _add(self._title, data)
        draft = self._draft
        if draft is None:
            return
        if self._open("title"):
            draft.title = _add(draft.title, data)
        elif self._open("modified-text"):
            draft.modified = _add(draft.modified, data)

    def _start_entry(self, tag: str, values: dict[str, str]) -> None:
        # An entry left unclosed ends where the next one starts.
        self._finish_entry()
        self._draft = _Draft(values.get("id", "").removeprefix("entry-"))
        self._regions = [_Region("entry", tag)]

    def _inside_entry(
        self, draft: _Draft, tag: str, values: dict[str, str], classes: list[str]
    ) -> None:
        if tag == "a" and draft.href is None and "href" in values:
            draft.href = values["href"]
        if values.get("aria-label", "").lower() == "folder":
            draft.folder_icon = True
        if "flip-entry-title" in classes and not draft.title:
            self._regions.append(_Region("title", tag))
        elif "flip-entry-list-icon" in classes:
            self._regions.append(_Region("list-icon", tag))
        elif "flip-entry-last-modified" in classes:
            self._regions.append(_Region("modified", tag))
        elif tag == "img" and self._open("list-icon") and draft.mime is None:
            draft.mime = _mime_from_icon(values.get("src", ""))
        elif self._open("modified") and not draft.modified_seen:
            # The first element inside holds the date; a later one the last writer.
            draft.modified_seen = True
            self._regions.append(_Region("modified-text", tag))

    def _open(self, name: str) -> bool:
        return any(region.name == name for region in self._regions)

    def _finish_entry(self) -> None:
        draft, self._draft = self._draft, None
        self._regions = []
        if draft is None:
            return
        entry = _entry(draft)
        if entry is not None and entry.id not in self._seen:
            self._seen.add(entry.id)
            self._entries.append(entry)


def _entry(draft: _Draft) -> FolderEntry | None:
    href = draft.href or ""
    ref = parse_drive_link(href) if href else None
    entry_id = ref.id if ref is not None else draft.element_id
    if not entry_id:
        return None
    kind: Kind = ref.kind if ref is not None else "file"
    # The folder icon (or MIME type) outranks a link form that does not say, e.g. open?id=.
    if kind == "file" and (draft.folder_icon or draft.mime == _FOLDER_MIME):
        kind = "folder"
    # Only the ends are trimmed: runs of spaces inside a name are part of the name.
    name = draft.title.strip() or entry_id
    return FolderEntry(
        id=entry_id,
        name=name,
        kind=kind,
        href=href,
        resource_key=ref.resource_key if ref is not None else None,
        mime=draft.mime,
        modified=" ".join(draft.modified.split()),
        export_url=ref.export_url if ref is not None else None,
    )


def _mime_from_icon(src: str) -> str | None:
    # https://drive-thirdparty.googleusercontent.com/16/type/application/pdf
    _, marker, mime = src.partition(_MIME_MARKER)
    return (mime or None) if marker else None


def _attributes(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in attrs:
        values.setdefault(name, value if value is not None else "")
    return values


def _add(text: str, data: str) -> str:
    # Bounded, so a hostile page cannot grow one name without limit.
    return text + data if len(text) < _MAX_TEXT else text
