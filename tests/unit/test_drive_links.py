"""Every form of Drive link people paste, and what must not be taken for one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.drive_links import DriveRef, parse_drive_link

FILE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"  # 33 characters, the usual modern shape
OLD_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"  # 28 characters, pre-2018 shape
DOC_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcde"  # 44 characters, Google Docs shape
KEY = "0-Ye4stR8bq1ZXhTnM3Wc2ug"


def file(drive_id: str = FILE_ID, key: str | None = None) -> DriveRef:
    return DriveRef(drive_id, key, "file", None)


def folder(drive_id: str = FILE_ID, key: str | None = None) -> DriveRef:
    return DriveRef(drive_id, key, "folder", None)


def document(native: str, fmt: str | None, key: str | None = None) -> DriveRef:
    export = f"https://docs.google.com/{native}/d/{DOC_ID}/export?format={fmt}" if fmt else None
    return DriveRef(DOC_ID, key, "document", export)


RECOGNISED = [
    # viewer links
    (f"https://drive.google.com/file/d/{FILE_ID}/view?usp=sharing", file()),
    (f"https://drive.google.com/file/d/{FILE_ID}/view?usp=drive_link", file()),
    (f"https://drive.google.com/file/d/{FILE_ID}/edit", file()),
    (f"https://drive.google.com/file/d/{FILE_ID}/preview", file()),
    (f"https://drive.google.com/file/d/{FILE_ID}", file()),
    (f"https://drive.google.com/file/d/{FILE_ID}/", file()),
    (f"https://drive.google.com/file/u/0/d/{FILE_ID}/view?usp=sharing", file()),
    (f"https://drive.google.com/file/u/12/d/{FILE_ID}/view", file()),
    (f"https://drive.google.com/file/d/{OLD_ID}/view", file(OLD_ID)),
    (f"https://docs.google.com/file/d/{FILE_ID}/edit", file()),
    (f"https://drive.google.com/a/example.edu/file/d/{FILE_ID}/view", file()),
    # open?id=
    (f"https://drive.google.com/open?id={FILE_ID}", file()),
    (f"https://drive.google.com/open?id={FILE_ID}&usp=drive_fs", file()),
    (f"https://drive.google.com/open?authuser=0&id={FILE_ID}", file()),
    # uc?id=, in any order, with account index, on docs, in a Workspace domain
    (f"https://drive.google.com/uc?id={FILE_ID}&export=download", file()),
    (f"https://drive.google.com/uc?export=download&id={FILE_ID}", file()),
    (f"https://drive.google.com/uc?export=download&confirm=pcX8&id={FILE_ID}", file()),
    (f"https://drive.google.com/u/0/uc?id={FILE_ID}&export=download", file()),
    (f"https://docs.google.com/uc?id={FILE_ID}&export=download", file()),
    (f"https://drive.google.com/a/jsk.imi.i.u-tokyo.ac.jp/uc?id={FILE_ID}&export=download", file()),
    # usercontent: the Download button, and the URL after the confirm form
    (f"https://drive.usercontent.google.com/download?id={FILE_ID}&export=download", file()),
    (
        f"https://drive.usercontent.google.com/download?id={FILE_ID}&export=download"
        "&authuser=0&confirm=t&uuid=29caa046-0818-4b88-aa71-aa9aca00d098&at=AIrp:1739211978067",
        file(),
    ),
    # folders
    (f"https://drive.google.com/drive/folders/{FILE_ID}?usp=sharing", folder()),
    (f"https://drive.google.com/drive/folders/{FILE_ID}", folder()),
    (f"https://drive.google.com/drive/u/0/folders/{FILE_ID}", folder()),
    (f"https://drive.google.com/drive/folders/{FILE_ID}?resourcekey={KEY}", folder(key=KEY)),
    (f"https://drive.google.com/folderview?id={FILE_ID}", folder()),
    # Google-native documents
    (f"https://docs.google.com/document/d/{DOC_ID}/edit", document("document", "docx")),
    (
        f"https://docs.google.com/spreadsheets/d/{DOC_ID}/edit#gid=0",
        document("spreadsheets", "xlsx"),
    ),
    (f"https://docs.google.com/presentation/d/{DOC_ID}/edit", document("presentation", "pptx")),
    (f"https://docs.google.com/document/u/0/d/{DOC_ID}/edit", document("document", "docx")),
    (f"https://docs.google.com/spreadsheets/d/{DOC_ID}/htmlview", document("spreadsheets", "xlsx")),
    (f"https://docs.google.com/drawings/d/{DOC_ID}/edit", document("drawings", None)),
    (
        f"https://docs.google.com/document/d/{DOC_ID}/edit?resourcekey={KEY}",
        document("document", "docx", KEY),
    ),
    # resource keys anywhere in the query
    (
        f"https://drive.google.com/file/d/{FILE_ID}/view?usp=drivesdk&resourcekey={KEY}",
        file(key=KEY),
    ),
    (
        f"https://drive.google.com/file/d/{FILE_ID}/view?resourcekey={KEY}&usp=sharing",
        file(key=KEY),
    ),
    (f"https://drive.google.com/uc?resourcekey={KEY}&id={FILE_ID}&export=download", file(key=KEY)),
    (f"https://drive.google.com/open?id={FILE_ID}&resourceKey={KEY}", file(key=KEY)),
    (f"https://drive.google.com/file/d/{FILE_ID}/view?resourcekey=bad%20key", file()),
    # fragments
    (f"https://drive.google.com/file/d/{FILE_ID}/view#heading=h.1", file()),
    (f"https://drive.google.com/uc?id={FILE_ID}#list", file()),
    # casual spellings
    (f"http://drive.google.com/file/d/{FILE_ID}/view", file()),
    (f"HTTPS://DRIVE.GOOGLE.COM/file/d/{FILE_ID}/view", file()),
    (f"drive.google.com/file/d/{FILE_ID}/view?usp=sharing", file()),
    (f"  https://drive.google.com/file/d/{FILE_ID}/view\n", file()),
    # bare IDs
    (FILE_ID, file()),
    (OLD_ID, file(OLD_ID)),
    (f" {FILE_ID}\n", file()),
]

NOT_DRIVE = [
    "",
    "   ",
    "hello",
    "1vB1cOZlO4",  # too short to be taken for a bare ID
    f"{FILE_ID}.dat",  # a dot: a file name, not an ID
    f"data/{FILE_ID}",
    f"https://example.org/file/d/{FILE_ID}/view",
    f"https://drive.google.com.evil.example/file/d/{FILE_ID}/view",
    f"https://evil.example/?next=https://drive.google.com/file/d/{FILE_ID}/view",
    f"ftp://drive.google.com/file/d/{FILE_ID}/view",
    "https://drive.google.com/",
    "https://drive.google.com/drive/my-drive",
    "https://drive.google.com/uc?export=download",
    "https://drive.google.com/uc?id=short",
    "https://drive.google.com/file/d/",
    f"https://drive.google.com/file/d/{FILE_ID[:5]}/view",
    f"https://drive.google.com/thumbnail?id={FILE_ID}",
    # an export link already names the bytes: an ordinary URL, not a document to refuse
    f"https://docs.google.com/document/d/{DOC_ID}/export?format=docx",
    # published documents carry no document ID after /d/
    "https://docs.google.com/document/d/e/2PACX-1vTabcdefghijklmnopqrstuvwxyz/pub",
    "https://[::1/file/d/x",
]


@pytest.mark.parametrize(("text", "expected"), RECOGNISED)
def test_recognises_every_drive_form(text: str, expected: DriveRef) -> None:
    assert parse_drive_link(text) == expected


@pytest.mark.parametrize("text", NOT_DRIVE)
def test_ignores_what_is_not_a_drive_file_link(text: str) -> None:
    assert parse_drive_link(text) is None


@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    result = parse_drive_link(text)
    assert result is None or isinstance(result, DriveRef)


URL_PARTS = st.sampled_from(
    ["https://", "http://", "drive.google.com", "docs.google.com", "/file/d/", "/u/0", "/a/x",
     "/uc", "/open", "/drive/folders/", "?id=", "&id=", "&resourcekey=", "#", "%", "[", ":", "/"]
)  # fmt: skip


@given(st.lists(URL_PARTS | st.text(max_size=8), max_size=12).map("".join))
def test_never_raises_on_link_like_text(text: str) -> None:
    parse_drive_link(text)


ID_ALPHABET = "-_ABCXYZabcxyz0189"
ids = st.text(alphabet=ID_ALPHABET, min_size=20, max_size=44)
keys = st.none() | st.text(alphabet=ID_ALPHABET, min_size=8, max_size=30).map("0-".__add__)
FILE_TEMPLATES = [
    "https://drive.google.com/file/d/{id}/view?usp=sharing{key}",
    "https://drive.google.com/uc?export=download{key}&id={id}",
    "https://drive.usercontent.google.com/download?id={id}&export=download{key}",
    "https://drive.google.com/open?id={id}{key}#x",
]


@given(ids, keys, st.sampled_from(FILE_TEMPLATES))
def test_any_id_and_key_survive_every_file_form(drive_id: str, key: str | None, form: str) -> None:
    text = form.format(id=drive_id, key=f"&resourcekey={key}" if key else "")
    assert parse_drive_link(text) == DriveRef(drive_id, key, "file", None)
