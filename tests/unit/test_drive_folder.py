"""A folder's listing from Drive's embedded folder view: a page in its markup
(tests/data/drive/folder_view.html), and variants a robust reader must still understand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import DRIVE_PAGES

from evio_fetch.engine.drive_folder import (
    FolderEntry,
    FolderListing,
    folder_view_url,
    parse_folder_view,
)


def page(entries: str, title: str = "Data") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body class='flip-embedded'>"
        f"<div class='flip-entries'>{entries}</div></body></html>"
    ).encode()


def entry(href: str, name: str, extra: str = "", entry_id: str = "entry-X") -> str:
    return (
        f'<div class="flip-entry" id="{entry_id}"><div class="flip-entry-info">'
        f'<a href="{href}" target="_blank">{extra}<div class="flip-entry-title">{name}</div></a>'
        '</div><div class="flip-entry-last-modified"><div>Jan 5</div></div></div>'
    )


FILE_A = "1aAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaA"
FILE_B = "1bBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbB"


def view(kind: str, item: str) -> str:
    return f"https://drive.google.com/{kind}/{item}"


def test_the_folder_page_lists_every_entry() -> None:
    listing = parse_folder_view((DRIVE_PAGES / "folder_view.html").read_bytes())
    doc = "1Pr0t0c01D0cxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    web = "view?usp=drive_web"
    assert listing == FolderListing(
        "Rotor recordings & notes",
        [
            # a folder: its link and its icon say so
            FolderEntry(
                "1Fo1dErCa1ibRat10nSxxxxxxxxxxxxxx",
                "calibration",
                "folder",
                view("drive/folders", "1Fo1dErCa1ibRat10nSxxxxxxxxxxxxxx"),
                modified="11/02/23",
            ),
            # the last writer after the date is not part of it
            FolderEntry(
                "1R0t0rA001xxxxxxxxxxxxxxxxxxxxxxx",
                "rotor_a_001.dat",
                "file",
                view("file/d", f"1R0t0rA001xxxxxxxxxxxxxxxxxxxxxxx/{web}"),
                mime="application/octet-stream",
                modified="Feb 3, 2025",
            ),
            # entities in the name; a time for today
            FolderEntry(
                "1MeT0d0sNotasxxxxxxxxxxxxxxxxxxxx",
                "MÉTODOS & notas (v2).pdf",
                "file",
                view("file/d", f"1MeT0d0sNotasxxxxxxxxxxxxxxxxxxxx/{web}"),
                mime="application/pdf",
                modified="09:15",
            ),
            # other scripts
            FolderEntry(
                "1Gr33kCyr1111cxxxxxxxxxxxxxxxxxxx",
                "ρότορας \u2013 запись 2.wav",
                "file",
                view("file/d", f"1Gr33kCyr1111cxxxxxxxxxxxxxxxxxxx/{web}"),
                mime="audio/x-wav",
                modified="Apr 2",
            ),
            # a Google document: exported, not downloaded
            FolderEntry(
                doc,
                "Protocol",
                "document",
                f"https://docs.google.com/document/d/{doc}/edit?usp=drive_web",
                mime="application/vnd.google-apps.document",
                modified="Jan 9",
                export_url=f"https://docs.google.com/document/d/{doc}/export?format=docx",
            ),
            # no list icon, so no MIME type; a localised date
            FolderEntry(
                "1C11pN01c0nxxxxxxxxxxxxxxxxxxxxxx",
                "clip.mp4",
                "file",
                view("file/d", f"1C11pN01c0nxxxxxxxxxxxxxxxxxxxxxx/{web}"),
                modified="3 jun",
            ),
        ],
    )


def test_the_sign_in_page_is_not_a_folder_view() -> None:
    # What a folder that is not shared answers.
    assert parse_folder_view((DRIVE_PAGES / "sign_in.html").read_bytes()) is None


def test_markup_variants() -> None:
    body = page(
        # upper case, single quotes, attribute order, no list icon
        f"<DIV ID='entry-{FILE_A}' CLASS='flip-entry'><A TARGET=_blank "
        f"HREF='https://drive.google.com/file/d/{FILE_A}/view?usp=drive_web'>"
        "<DIV CLASS='flip-entry-title'>  a &lt;b&gt; &amp;  c.bin </DIV></A>"
        "<DIV CLASS='FLIP-ENTRY-LAST-MODIFIED'><DIV>12:30</DIV><DIV class='flip-entry-last-writer'>"
        "Me</DIV></DIV></DIV>"
        # a folder whose link does not say so: its icon does
        + entry(
            f"https://drive.google.com/open?id={FILE_B}",
            "sub",
            '<div class="flip-entry-list-icon"><div aria-label="Folder"></div></div>',
        )
    )
    listing = parse_folder_view(body)
    assert listing == FolderListing(
        "Data",
        [
            FolderEntry(
                FILE_A,
                "a <b> &  c.bin",
                "file",
                f"https://drive.google.com/file/d/{FILE_A}/view?usp=drive_web",
                modified="12:30",
            ),
            FolderEntry(
                FILE_B,
                "sub",
                "folder",
                f"https://drive.google.com/open?id={FILE_B}",
                modified="Jan 5",
            ),
        ],
    )


def test_resource_keys_mime_types_and_documents() -> None:
    icon = (
        '<div class="flip-entry-list-icon"><img alt="" '
        'src="https://drive-thirdparty.googleusercontent.com/16/type/application/zip"></div>'
    )
    body = page(
        entry(
            f"https://drive.google.com/file/d/{FILE_A}/view?usp=drive_web&amp;resourcekey=0-KeY",
            "a.zip",
            icon,
        )
        + entry(f"https://docs.google.com/spreadsheets/d/{FILE_B}/edit?usp=drive_web", "Sheet")
        + entry(f"https://docs.google.com/forms/d/{FILE_B}x/edit", "Form")
    )
    listing = parse_folder_view(body)
    assert listing is not None
    a, sheet, form = listing.entries
    assert (a.resource_key, a.mime, a.kind) == ("0-KeY", "application/zip", "file")
    assert sheet.kind == "document"
    assert sheet.export_url == f"https://docs.google.com/spreadsheets/d/{FILE_B}/export?format=xlsx"
    assert (form.kind, form.export_url) == ("document", None)


def test_unclosed_entries_duplicates_and_unknown_links() -> None:
    body = page(
        # not closed: it ends where the next entry starts
        f'<div class="flip-entry"><a href="https://drive.google.com/file/d/{FILE_A}/view">'
        '<div class="flip-entry-title">first'
        + entry(f"https://drive.google.com/file/d/{FILE_A}/view", "again")
        # an unknown link form: the entry's own id names it
        + entry("https://example.com/whatever", "odd.bin", entry_id=f"entry-{FILE_B}")
        # nothing to name it by
        + entry("https://example.com/whatever", "nameless", entry_id="")
    )
    listing = parse_folder_view(body)
    assert listing is not None
    assert [(e.id, e.name, e.kind) for e in listing.entries] == [
        (FILE_A, "first", "file"),
        (FILE_B, "odd.bin", "file"),
    ]


def test_an_empty_name_falls_back_to_the_id() -> None:
    listing = parse_folder_view(page(entry(f"https://drive.google.com/file/d/{FILE_A}/view", "")))
    assert listing is not None and listing.entries[0].name == FILE_A


def test_empty_folder() -> None:
    assert parse_folder_view(page("", "Empty &amp; quiet")) == FolderListing("Empty & quiet", [])


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>Sign in - Google Accounts</title></head><body>x</body></html>",
        b"",
        b"\xff\xfe garbage",
    ],
)
def test_pages_that_are_not_folder_views(body: bytes) -> None:
    assert parse_folder_view(body) is None


def test_folder_view_url() -> None:
    assert folder_view_url("http://127.0.0.1:9/drive/", FILE_A) == (
        f"http://127.0.0.1:9/drive/embeddedfolderview?id={FILE_A}"
    )
    assert folder_view_url("https://drive.google.com", FILE_A, "0-K") == (
        f"https://drive.google.com/embeddedfolderview?id={FILE_A}&resourcekey=0-K"
    )


PIECES = [
    '<div class="flip-entry" id="entry-',
    '<div class="flip-entry-title">',
    '<div class="flip-entry-last-modified"><div>',
    '<div class="flip-entry-list-icon"><img src="x/type/',
    f'<a href="https://drive.google.com/file/d/{FILE_A}/view">',
    "</div>",
    "</a>",
    "<title>",
    "<![ x [",
    '"',
    ">",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=10)), max_size=50))
def test_parse_never_raises(pieces: list[str]) -> None:
    listing = parse_folder_view("".join(pieces).encode("utf-8", errors="replace"))
    assert listing is None or all(e.id for e in listing.entries)
