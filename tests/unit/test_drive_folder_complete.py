"""A folder view cut short says so: its listing is not ``complete``, whatever entries it has."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evio_fetch.engine.drive_folder import MAX_FOLDER_PAGE_BYTES, parse_folder_view


def entry(number: int) -> str:
    file_id = f"1fIlE{number:028d}"
    return (
        f'<div class="flip-entry" id="entry-{file_id}"><div class="flip-entry-info">'
        f'<a href="https://drive.google.com/file/d/{file_id}/view?usp=drive_web">'
        f'<div class="flip-entry-title">f{number}.bin</div></a></div>'
        '<div class="flip-entry-last-modified"><div>Jan 5</div></div></div>'
    )


def page(count: int, padding: str = "") -> bytes:
    rows = "".join(entry(n) for n in range(count))
    return (
        "<!DOCTYPE html><html><head><title>Data</title></head><body class='flip-embedded'>"
        f"<div class='flip-entries'>{rows}</div>{padding}</body></html>"
    ).encode()


FULL = page(40)


def test_a_whole_page_is_complete() -> None:
    listing = parse_folder_view(FULL)
    assert listing is not None and listing.complete and len(listing.entries) == 40
    # Either end tag will do: Drive's pages have both.
    for ending in (b"</body>", b"</html>"):
        cut = FULL.replace(b"</body></html>", ending)
        listing = parse_folder_view(cut)
        assert listing is not None and listing.complete


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=FULL.index(b"</body>") + len("</body") - 1))
def test_a_page_cut_anywhere_before_its_end_is_not(cut: int) -> None:
    listing = parse_folder_view(FULL[:cut])
    if listing is not None:  # too short to be recognised as a folder view at all
        assert not listing.complete
        # The entries it has are the first of the folder's (the last one perhaps unnamed).
        ids = [f"1fIlE{n:028d}" for n in range(40)]
        assert [e.id for e in listing.entries] == ids[: len(listing.entries)]


def test_a_page_past_the_bound_is_not() -> None:
    huge = page(3, padding="<!--" + "p" * MAX_FOLDER_PAGE_BYTES + "-->")
    listing = parse_folder_view(huge)
    assert listing is not None and not listing.complete and len(listing.entries) == 3
