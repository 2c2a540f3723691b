"""File names from Content-Disposition and URLs, and their sanitising."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.errors import UnsafeNameError
from evio_fetch.engine.naming import (
    FALLBACK_NAME,
    MAX_NAME_BYTES,
    choose_name,
    name_from_content_disposition,
    name_from_url,
    safe_name,
)

CONTENT_DISPOSITIONS = [
    ('attachment; filename="a b.txt"', "a b.txt"),
    ("attachment; filename=a.txt", "a.txt"),
    ("attachment;filename=a.txt", "a.txt"),
    ('ATTACHMENT; FILENAME="A.txt"', "A.txt"),
    ('inline; filename="shown.pdf"', "shown.pdf"),
    ('attachment; filename = "spaced.txt"', "spaced.txt"),
    ('attachment; filename="a\\"b.txt"', 'a"b.txt'),
    ("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt", "€ rates.txt"),
    ("attachment; filename*=utf-8'en'caf%C3%A9.txt", "café.txt"),
    ("attachment; filename*=iso-8859-1'en'%A3%20rates.txt", "£ rates.txt"),
    # filename* wins wherever it stands (RFC 6266 §4.3)
    (
        "attachment; filename=\"EURO rates.txt\"; filename*=utf-8''%e2%82%ac%20rates.txt",
        "€ rates.txt",
    ),
    ("attachment; filename*=UTF-8''a.txt; filename=\"b.txt\"", "a.txt"),
    ("attachment;filename=\"X\";filename*=UTF-8''X%CC%81.dat", "X\u0301.dat"),
    ("attachment; filename*=UTF-8''%FF.txt", "\ufffd.txt"),
    ('attachment; filename*0="par"; filename*1="ts.txt"', "parts.txt"),
    ('attachment; filename="日本.txt"', "日本.txt"),
    # not decoded: only filename* is percent-encoded
    ("attachment; filename=a%20b.txt", "a%20b.txt"),
    # a header line can only carry one line
    ('attachment; filename="x.txt"\r\nSet-Cookie: a=b', "x.txt"),
    # directory parts survive here; safe_name removes them
    ("attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"),
    ('attachment; filename=""', None),
    ("attachment; filename*=UTF-8''", None),
    ("attachment", None),
    ("inline", None),
    ("", None),
    ("\udcff", None),
]


@pytest.mark.parametrize(("header", "expected"), CONTENT_DISPOSITIONS)
def test_name_from_content_disposition(header: str, expected: str | None) -> None:
    assert name_from_content_disposition(header) == expected


def test_undecodable_header_bytes_are_read_as_latin1() -> None:
    # aiohttp hands non-UTF-8 header bytes over as surrogate escapes
    header = b'attachment; filename="caf\xe9.txt"'.decode("utf-8", "surrogateescape")
    assert name_from_content_disposition(header) == "café.txt"


URLS = [
    ("https://example.org/data/big.bin", "big.bin"),
    ("https://example.org/data/big.bin?x=1#frag", "big.bin"),
    ("https://example.org/data/dir/", "dir"),
    ("https://example.org/a%20b.dat", "a b.dat"),
    ("https://example.org/%E2%82%AC.dat", "€.dat"),
    ("https://example.org/x/..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"),
    ("https://example.org/", None),
    ("https://example.org", None),
    ("https://example.org//", None),
    ("https://[::1/x", None),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_name_from_url(url: str, expected: str | None) -> None:
    assert name_from_url(url) == expected


SAFE = [
    ("data.bin", "data.bin"),
    ("fan_const_rpm.dat", "fan_const_rpm.dat"),
    ("../../etc/passwd", "passwd"),
    ("/etc/passwd", "passwd"),
    ("C:\\Windows\\system.ini", "system.ini"),
    ("dir\\..\\x.txt", "x.txt"),
    ("a\x00b\x1fc\x7f.txt", "abc.txt"),
    ("line\nbreak.txt", "linebreak.txt"),
    (".bashrc", "bashrc"),
    ("...dots...", "dots"),
    (" spaced name .txt ", "spaced name .txt"),
    ("trailing. . .", "trailing"),
    ("evil\u202etxt.exe", "eviltxt.exe"),
    ("\udcff.bin", "bin"),
    ("日本語.txt", "日本語.txt"),
    ("a b", "a b"),
    ("..\x00/x", "x"),
    # Safe on Windows too, wherever it is fetched: no drive, no stream, no device.
    ("C:evil.bin", "C_evil.bin"),
    ("x.bin:hidden", "x.bin_hidden"),
    ('a<b>c"d|e?f*.txt', "a_b_c_d_e_f_.txt"),
    ("CON", "CON_"),
    ("nul.tar.gz", "nul_.tar.gz"),
    ("com1 .txt", "com1_.txt"),
    ("LPT9", "LPT9_"),
    ("console.txt", "console.txt"),
    ("COM10.bin", "COM10.bin"),
]


@pytest.mark.parametrize(("raw", "expected"), SAFE)
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", ".", "..", "...", "/", "a/", "../", "..\\", " ", "\x00", "\u202e", ". . ."]
)
def test_safe_name_refuses_what_leaves_nothing(raw: str) -> None:
    with pytest.raises(UnsafeNameError) as caught:
        safe_name(raw)
    assert repr(raw) in caught.value.message


LONG = [
    # (name, expected length in bytes, expected ending)
    ("a" * 300 + ".tar.gz", MAX_NAME_BYTES, "a.gz"),
    ("é" * 300 + ".dat", MAX_NAME_BYTES - 1, "é.dat"),  # a 2-byte character is never split
    ("x" * 300, MAX_NAME_BYTES, "x"),
    ("x" * 200 + "." + "y" * 100, MAX_NAME_BYTES, "y"),  # an "extension" too long to keep
    ("😀" * 100 + ".bin", MAX_NAME_BYTES - 3, "😀.bin"),
]


@pytest.mark.parametrize(("raw", "length", "ending"), LONG)
def test_long_names_are_capped_keeping_the_extension(raw: str, length: int, ending: str) -> None:
    name = safe_name(raw)
    assert len(name.encode()) == length
    assert name.endswith(ending)


def test_cap_never_leaves_an_edge_dot_or_space() -> None:
    assert safe_name("a" * 229 + " . .txt", max_bytes=233) == "a" * 229 + ".txt"


CHOICES = [
    ('attachment; filename="x.bin"', "https://example.org/y.bin", "x.bin"),
    (None, "https://example.org/y.bin", "y.bin"),
    ("attachment", "https://example.org/y.bin", "y.bin"),
    ('attachment; filename=".."', "https://example.org/y.bin", "y.bin"),
    (
        "attachment; filename*=UTF-8''..%2F..%2F.ssh%2Fauthorized_keys",
        "https://h/",
        "authorized_keys",
    ),
    (None, "https://example.org/", FALLBACK_NAME),
    ('attachment; filename="..."', "https://example.org/..", FALLBACK_NAME),
    (None, "https://example.org/dir/%2E%2E", FALLBACK_NAME),
]


@pytest.mark.parametrize(("header", "url", "expected"), CHOICES)
def test_choose_name(header: str | None, url: str, expected: str) -> None:
    assert choose_name(header, url) == expected


def assert_single_safe_component(name: str) -> None:
    assert name not in ("", ".", "..")
    assert "/" not in name
    assert "\\" not in name
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in name)
    assert len(name.encode()) <= 255


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("out")


def assert_lands_inside(out_dir: Path, name: str) -> None:
    target = out_dir / name
    assert target.parent == out_dir
    assert os.path.realpath(target).startswith(str(out_dir.resolve()) + os.sep)
    # The filesystem itself must accept the name as one new file in out_dir.
    with open(target, "xb"):
        pass
    target.unlink()


NASTY = st.text(alphabet=st.sampled_from(list("./\\ \x00\n\u202e%.aé😀")) | st.characters())


@given(NASTY)
def test_safe_name_yields_one_component_or_refuses(out_dir: Path, raw: str) -> None:
    try:
        name = safe_name(raw)
    except UnsafeNameError:
        return
    assert_single_safe_component(name)
    assert_lands_inside(out_dir, name)


@given(st.text(min_size=200, max_size=400))
def test_safe_name_caps_any_long_name(raw: str) -> None:
    try:
        name = safe_name(raw)
    except UnsafeNameError:
        return
    assert len(name.encode()) <= MAX_NAME_BYTES


@given(st.none() | NASTY, NASTY)
def test_choose_name_always_gives_a_usable_name(
    out_dir: Path, header: str | None, url: str
) -> None:
    name = choose_name(header, url)
    assert_single_safe_component(name)
    assert_lands_inside(out_dir, name)
