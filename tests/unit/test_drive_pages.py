"""What Drive's answers mean: pages in Drive's markup (tests/data/drive), and variants of
them that a robust reader must still understand (or must not be fooled by)."""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import DRIVE_PAGES

from evio_fetch.engine.drive_pages import (
    MAX_PAGE_BYTES,
    Confirm,
    DriveAnswer,
    ErrorStatus,
    FileBytes,
    NoLink,
    NotFound,
    Quota,
    SignIn,
    Throttled,
    classify,
    is_sign_in_url,
    manual_link,
    scan_page,
)

FILE_ID = "1Qv8pZk3nWfL0aTcR7sYh2JdXmBe6UgiN"
UUID = "3f6b2c1e-8d4a-4e7b-9a05-c2d7e1f08b64"
USERCONTENT = "https://drive.usercontent.google.com/download"
PAGE_URL = f"{USERCONTENT}?id={FILE_ID}&export=download"
HTML = {"Content-Type": "text/html; charset=utf-8"}
CONFIRMED = f"{USERCONTENT}?id={FILE_ID}&export=download&confirm=t&uuid={UUID}"


def same_url(got: str, expected: str) -> bool:
    """Equal as scheme, host, path and the list of query pairs (encodings may differ)."""
    a, b = urlsplit(got), urlsplit(expected)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path) and parse_qsl(
        a.query, keep_blank_values=True
    ) == parse_qsl(b.query, keep_blank_values=True)


def page(body: str, url: str = PAGE_URL, status: int = 200) -> DriveAnswer:
    return classify(status, HTML, url, body.encode())


def confirm_url(answer: DriveAnswer) -> str:
    assert isinstance(answer, Confirm), answer
    return answer.next_url


def wrap(inner: str, title: str = "Google Drive - Virus scan warning") -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{inner}</body></html>"


HIDDEN = (
    f'<input type="hidden" name="id" value="{FILE_ID}">'
    '<input type="hidden" name="export" value="download">'
    '<input type="hidden" name="confirm" value="t">'
    f'<input type="hidden" name="uuid" value="{UUID}">'
)
SUBMIT = (
    '<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button" '
    'value="Download anyway"/>'
)


# Whole pages ----------------------------------------------------------------------------------

FORM_ID = "1Hx7mQe2Rb9TnWc4Lp0Zs6Vd3Ky8Fu5Ja"
FORM_UUID = "9c1d5e7a-2b4f-4c8e-b6a3-0f2e4d6c8a1b"
FORM_PAGE = f"{USERCONTENT}?id={FORM_ID}&export=download"
FORM_NEXT = f"{USERCONTENT}?id={FORM_ID}&export=download&confirm=t&uuid={FORM_UUID}"
LEGACY_ID = "0B4qLmN7pRsTuVwXyZ1a2b3c4d5e"
LINK_PAGE = f"https://drive.google.com/uc?export=download&id={LEGACY_ID}"
LINK_NEXT = f"https://drive.google.com/uc?export=download&confirm=Xk2q&id={LEGACY_ID}"
SIGN_IN_PAGE = (
    "https://accounts.google.com/v3/signin/identifier?continue="
    "https%3A%2F%2Fdrive.usercontent.google.com%2Fdownload%3Fid%3D1Pv3xQw8Ey2Ru6Tz0Ym4Ln7Ok9Ji5Hg1F"
)
FOLDER_PAGE = "https://drive.google.com/embeddedfolderview?id=1R0t0rRec0rd1ngsxxxxxxxxxxxxxxxxx"
# Each page of tests/data/drive: the final URL it was answered at, and what it means.
PAGES: dict[str, tuple[str, DriveAnswer]] = {
    "confirm_form.html": (FORM_PAGE, Confirm(FORM_NEXT, "form_get")),
    "confirm_link.html": (LINK_PAGE, Confirm(LINK_NEXT, "link")),
    "quota.html": (
        FORM_PAGE,
        Quota(
            "Too many users have viewed or downloaded this file recently. "
            "Please try accessing the file again later."
        ),
    ),
    "sign_in.html": (SIGN_IN_PAGE, SignIn()),
    "folder_view.html": (
        FOLDER_PAGE,
        NoLink(
            "Google Drive answered a page without a download link "
            "(its title: 'Rotor recordings & notes')"
        ),
    ),
}


def read(name: str) -> bytes:
    return (DRIVE_PAGES / name).read_bytes()


def test_every_page_is_checked() -> None:
    # A page added to tests/data/drive without a case here would go untested.
    assert set(PAGES) == {p.name for p in DRIVE_PAGES.glob("*.html")}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_page_means_what_drive_means_by_it(name: str) -> None:
    url, expected = PAGES[name]
    answer = classify(200, HTML, url, read(name))
    if isinstance(expected, Confirm):
        assert isinstance(answer, Confirm) and answer.via == expected.via, answer
        assert same_url(answer.next_url, expected.next_url), answer.next_url
    else:
        assert answer == expected


def test_the_form_page_is_read_as_a_browser_would_submit_it() -> None:
    scanned = scan_page(read("confirm_form.html"))
    assert scanned.title == "Google Drive - Virus scan warning"
    assert scanned.form is not None
    assert scanned.form.action == USERCONTENT
    assert scanned.form.method == "get"
    assert scanned.form.fields == [
        ("id", FORM_ID),
        ("export", "download"),
        ("confirm", "t"),
        ("uuid", FORM_UUID),
    ]
    # The name links to the file's page (/open?id=), which is no way on.
    assert scanned.link is None and scanned.fallback_link is None


def test_the_legacy_page_without_its_link_does_not_follow_the_sign_in_link() -> None:
    # The page's Sign-in link carries uc%3Fexport%3Ddownload in continue=; it is no way on.
    text = read("confirm_link.html").decode()
    assert 'id="uc-download-link" ' in text and "ServiceLogin" in text
    stripped = text.replace('id="uc-download-link" ', "").replace("confirm=Xk2q&amp;", "")
    answer = classify(200, HTML, LINK_PAGE, stripped.encode())
    assert isinstance(answer, NoLink)
    assert "Virus scan warning" in answer.message


def test_the_sign_in_page_means_sign_in_by_its_title_and_by_its_redirect() -> None:
    # Reached without its URL saying so (e.g. behind a proxy), the title still tells.
    assert classify(200, HTML, FORM_PAGE, read("sign_in.html")) == SignIn()
    # The redirect that leads there, when the client does not follow it.
    location = (
        "https://accounts.google.com/ServiceLogin?service=wise&passive=1209600"
        f"&continue={USERCONTENT}?id%3D{FORM_ID}%26export%3Ddownload"
    )
    assert classify(302, {"Location": location}, FORM_PAGE, b"") == SignIn()


# Variants of the 2024 GET form -----------------------------------------------------------------

FORM_VARIANTS = [
    # as Drive writes it
    f'<form id="download-form" action="{USERCONTENT}" method="get">{SUBMIT}{HIDDEN}</form>',
    # attribute order, single quotes, no quotes, upper case everywhere
    f"<form method='get' action='{USERCONTENT}' id='download-form'>{SUBMIT}{HIDDEN}</form>",
    f"<form id=download-form action={USERCONTENT} method=get>{HIDDEN}</form>",
    f'<FORM ID="download-form" METHOD="GET" ACTION="{USERCONTENT}">'
    + HIDDEN.replace("input", "INPUT").replace("type=", "TYPE=").replace("hidden", "HIDDEN")
    + "</FORM>",
    # whitespace and newlines inside tags, self-closing inputs, no method (GET by default)
    f'<form\n  action = "{USERCONTENT}"\n  id = "download-form" >'
    + HIDDEN.replace('">', '" />')
    + "</form>",
    # the action with a query of its own: a GET submission replaces it
    f'<form id="download-form" action="{USERCONTENT}?stale=1&amp;id=OLD">{HIDDEN}</form>',
    # the id Drive used before November 2022
    f'<form id="downloadForm" action="{USERCONTENT}" method="get">{HIDDEN}</form>',
    # a decoy form before the real one, with inputs of its own, never closed
    f'<form id="search" action="https://evil.example/s"><input type="hidden" name="q" '
    f'value="x"><form id="download-form" action="{USERCONTENT}">{HIDDEN}</form>',
    # a decoy after it whose inputs must not join
    f'<form id="download-form" action="{USERCONTENT}">{HIDDEN}</form>'
    '<form id="other"><input type="hidden" name="extra" value="1"></form>',
    # controls a browser would not submit
    f'<form id="download-form" action="{USERCONTENT}">{HIDDEN}'
    '<input type="hidden" name="dis" value="1" disabled>'
    '<input type="submit" name="go" value="Download anyway">'
    '<input type="checkbox" name="box" value="1"><button name="b">x</button></form>',
    # a copy of the form inside a script or a comment is not a form
    f'<script>var f = \'<form id="download-form" action="https://evil.example/">\';</script>'
    f'<!-- <form id="download-form" action="https://evil.example/"> -->'
    f'<form id="download-form" action="{USERCONTENT}">{HIDDEN}</form>',
]


@pytest.mark.parametrize("form", FORM_VARIANTS)
def test_form_variants_lead_to_the_confirmed_url(form: str) -> None:
    answer = page(wrap(form))
    assert isinstance(answer, Confirm) and answer.via == "form_get"
    assert same_url(answer.next_url, CONFIRMED), answer.next_url


def test_every_hidden_input_is_forwarded_in_order() -> None:
    inputs = (
        f'<input type="hidden" name="id" value="{FILE_ID}">'
        '<input type="hidden" name="export" value="download">'
        '<input type="hidden" name="authuser" value="0">'
        '<input type="hidden" name="confirm" value="t">'
        f'<input type="hidden" name="uuid" value="{UUID}">'
        '<input type="hidden" name="at" value="AIrpjvB:1739211978067">'
        '<input name="typed" value="text inputs count too">'
        '<input type="checkbox" name="box" checked>'
    )
    url = confirm_url(page(wrap(f'<form id="download-form" action="{USERCONTENT}">{inputs}')))
    assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == [
        ("id", FILE_ID),
        ("export", "download"),
        ("authuser", "0"),
        ("confirm", "t"),
        ("uuid", UUID),
        ("at", "AIrpjvB:1739211978067"),
        ("typed", "text inputs count too"),
        ("box", "on"),
    ]


def test_entities_and_odd_characters_in_values_survive() -> None:
    inputs = '<input type="hidden" name="x" value="a&amp;b c+d=e&#47;f&quot;">'
    url = confirm_url(page(wrap(f'<form id="download-form" action="{USERCONTENT}">{inputs}')))
    assert parse_qsl(urlsplit(url).query) == [("x", 'a&b c+d=e/f"')]


@pytest.mark.parametrize(
    ("action", "expected_base"),
    [
        ("/download", "https://drive.usercontent.google.com/download"),
        ("download", "https://drive.usercontent.google.com/download"),
        ("//other.example/dl", "https://other.example/dl"),
        ("  https://x.example/dl  ", "https://x.example/dl"),
        ("", "https://drive.usercontent.google.com/download"),
    ],
)
def test_relative_and_empty_actions_resolve_against_the_page(
    action: str, expected_base: str
) -> None:
    url = confirm_url(page(wrap(f'<form id="download-form" action="{action}">{HIDDEN}</form>')))
    assert same_url(url, f"{expected_base}?id={FILE_ID}&export=download&confirm=t&uuid={UUID}")


def test_missing_action_means_the_page_itself() -> None:
    url = confirm_url(page(wrap(f'<form id="download-form">{HIDDEN}</form>')))
    assert same_url(url, CONFIRMED)


@pytest.mark.parametrize("action", ["javascript:alert(1)", "data:text/html,x", "ftp://x/y"])
def test_an_action_that_is_not_http_is_no_way_on(action: str) -> None:
    assert isinstance(page(wrap(f'<form id="download-form" action="{action}">{HIDDEN}')), NoLink)


# The 2022-23 POST form and the legacy link ------------------------------------------------------


def test_post_form_gets_its_action_with_the_query_unescaped() -> None:
    action = (
        f"https://drive.google.com/uc?id={FILE_ID}&amp;export=download&amp;confirm=t"
        f"&amp;uuid={UUID}"
    )
    form = f'<form id="download-form" action="{action}" method="post">{SUBMIT}</form>'
    answer = page(wrap(form), url=f"https://drive.google.com/uc?export=download&id={FILE_ID}")
    assert isinstance(answer, Confirm) and answer.via == "form_post"
    assert answer.next_url == (
        f"https://drive.google.com/uc?id={FILE_ID}&export=download&confirm=t&uuid={UUID}"
    )


def test_signed_in_post_form_keeps_its_account_path_and_token() -> None:
    action = f"/u/0/uc?id={FILE_ID}&amp;export=download&amp;confirm=t&amp;at=TOKEN:123"
    form = f"<FORM METHOD=POST ID='download-form' ACTION='{action}'>"
    url = confirm_url(page(wrap(form), url=f"https://drive.google.com/uc?id={FILE_ID}"))
    assert same_url(
        url, f"https://drive.google.com/u/0/uc?id={FILE_ID}&export=download&confirm=t&at=TOKEN:123"
    )


def test_post_form_inputs_missing_from_the_action_are_appended() -> None:
    action = f"https://drive.google.com/uc?id={FILE_ID}&amp;export=download"
    inputs = (
        '<input type="hidden" name="confirm" value="t"><input type="hidden" name="id" value="X">'
    )
    url = confirm_url(
        page(wrap(f'<form id="download-form" method="post" action="{action}">{inputs}'))
    )
    assert same_url(url, f"https://drive.google.com/uc?id={FILE_ID}&export=download&confirm=t")


LEGACY_URL = "https://drive.google.com/uc?export=download&id=0B7EVK8r0v71pZjFTYXZWM3FlRnM"
LEGACY_NEXT = (
    "https://drive.google.com/uc?export=download&confirm=pcX8&id=0B7EVK8r0v71pZjFTYXZWM3FlRnM"
)
SIGN_IN_LINK = (
    '<a target=_top id=gb_70 href="https://accounts.google.com/ServiceLogin?hl=en&passive=true'
    '&continue=https://drive.google.com/uc%3Fexport%3Ddownload%26id%3D0B7E&service=writely">'
    "Sign in</a>"
)


@pytest.mark.parametrize(
    "link",
    [
        '<a id="uc-download-link" class="goog-inline-block" '
        'href="/uc?export=download&amp;confirm=pcX8&amp;id=0B7EVK8r0v71pZjFTYXZWM3FlRnM">x</a>',
        "<A HREF='/uc?export=download&amp;confirm=pcX8&amp;id=0B7EVK8r0v71pZjFTYXZWM3FlRnM' "
        "ID='uc-download-link'>x</A>",
        # the same link without its id: gdown's old pattern still finds it
        '<a class="jfk-button" href="/uc?export=download&amp;confirm=pcX8&amp;'
        'id=0B7EVK8r0v71pZjFTYXZWM3FlRnM">Download anyway</a>',
        # absolute, on docs.google.com as the first gdown had it
        '<a id="uc-download-link" href="https://drive.google.com/uc?export=download&amp;'
        'confirm=pcX8&amp;id=0B7EVK8r0v71pZjFTYXZWM3FlRnM">x</a>',
    ],
)
def test_legacy_link_variants(link: str) -> None:
    answer = page(wrap(SIGN_IN_LINK + link), url=LEGACY_URL)
    assert isinstance(answer, Confirm) and answer.via == "link"
    assert same_url(answer.next_url, LEGACY_NEXT)


def test_the_sign_in_link_alone_is_no_way_on() -> None:
    assert isinstance(page(wrap(SIGN_IN_LINK), url=LEGACY_URL), NoLink)


def test_a_link_with_the_id_wins_over_one_without() -> None:
    links = (
        '<a href="/uc?export=download&amp;confirm=AAAA&amp;id=X">a</a>'
        '<a id="uc-download-link" href="/uc?export=download&amp;confirm=BBBB&amp;id=X">b</a>'
    )
    assert "confirm=BBBB" in confirm_url(page(wrap(links), url=LEGACY_URL))


def test_the_form_wins_over_a_link() -> None:
    body = wrap(
        '<a id="uc-download-link" href="/uc?export=download&amp;confirm=pcX8&amp;id=X">x</a>'
        f'<form id="download-form" action="{USERCONTENT}">{HIDDEN}</form>'
    )
    assert same_url(confirm_url(page(body)), CONFIRMED)


def test_the_submit_input_with_the_link_id_is_not_a_link() -> None:
    # The 2024 page gives its submit button id="uc-download-link"; without the form, nothing.
    assert isinstance(page(wrap(SUBMIT)), NoLink)


# Refusals ---------------------------------------------------------------------------------------

QUOTA_TEXT = "Too many users have viewed or downloaded this file recently."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            wrap(
                f'<p class="uc-error-subcaption">{QUOTA_TEXT}</p>', "Google Drive - Quota exceeded"
            ),
            QUOTA_TEXT,
        ),
        (wrap("<p>nothing</p>", "Google Drive - Quota exceeded"), "Google Drive - Quota exceeded"),
        # a localised title: the error paragraph still says it
        (
            wrap(
                f"<P CLASS='x UC-ERROR-SUBCAPTION'>  {QUOTA_TEXT}\n <b>later</b></P>", "Kontingent"
            ),
            QUOTA_TEXT + " later",
        ),
        (
            wrap(f'<div class="uc-error-subcaption"><div>{QUOTA_TEXT}</div> more</div>', ""),
            QUOTA_TEXT + " more",
        ),
    ],
)
def test_quota_pages(body: str, message: str) -> None:
    assert page(body) == Quota(message)


def test_quota_page_wins_even_with_an_error_status() -> None:
    body = wrap(f'<p class="uc-error-subcaption">{QUOTA_TEXT}</p>', "Google Drive - Quota exceeded")
    assert page(body, status=429) == Quota(QUOTA_TEXT)


@pytest.mark.parametrize(
    "url",
    [
        "https://accounts.google.com/ServiceLogin?service=wise&passive=1209600&continue=x",
        "https://accounts.google.com/v3/signin/identifier?continue=x",
        "http://127.0.0.1:8080/accounts/ServiceLogin?service=wise",
        "http://127.0.0.1:8080/drive/accounts/servicelogin",
        "HTTPS://ACCOUNTS.GOOGLE.COM/",
    ],
)
def test_sign_in_by_final_url(url: str) -> None:
    assert is_sign_in_url(url)
    assert page(wrap("<form id='x'></form>", "Sign in - Google Accounts"), url=url) == SignIn()
    # Whatever the answer, ending there means sign-in: even a 200 with bytes.
    assert classify(200, {"Content-Type": "application/zip"}, url, b"PK") == SignIn()


@pytest.mark.parametrize(
    "url",
    [
        PAGE_URL,
        "https://drive.google.com/uc?continue=https://accounts.google.com/ServiceLogin",
        "http://127.0.0.1/ServiceLoginX",
        "http://[::1",
        "",
    ],
)
def test_not_sign_in_urls(url: str) -> None:
    assert not is_sign_in_url(url)


@pytest.mark.parametrize(
    "title", ["Sign in - Google Accounts", "Google Drive - You need access", "sign in"]
)
def test_sign_in_by_page(title: str) -> None:
    assert page(wrap("<p>Email or phone</p>", title)) == SignIn()


def test_sign_in_by_an_unfollowed_redirect() -> None:
    location = {"Location": "https://accounts.google.com/ServiceLogin?service=wise"}
    assert classify(302, location, PAGE_URL, b"") == SignIn()
    assert classify(302, {"location": "/accounts/ServiceLogin"}, PAGE_URL, b"") == SignIn()
    assert classify(303, {"Location": CONFIRMED}, PAGE_URL, b"") == ErrorStatus(303)
    assert classify(302, {"Location": "http://[::1"}, PAGE_URL, b"") == ErrorStatus(302)


@pytest.mark.parametrize("status", [404, 410])
def test_not_found_whatever_the_body(status: int) -> None:
    assert page(wrap("<h1>Not Found</h1>", "Error 404 (Not Found)!!1"), status=status) == NotFound()
    assert classify(status, {}, PAGE_URL, b"") == NotFound()


@pytest.mark.parametrize("status", [403, 500, 503])
def test_other_error_statuses_are_left_to_http_rules(status: int) -> None:
    assert page(wrap("<p>That's an error.</p>", f"Error {status}"), status=status) == ErrorStatus(
        status
    )
    assert classify(status, {"Content-Type": "application/json"}, PAGE_URL, b"{}") == ErrorStatus(
        status
    )


def test_no_link_names_the_title() -> None:
    answer = page(wrap("<p>?</p>", "Google Drive - Virus scan warning"))
    assert answer == NoLink(
        "Google Drive answered a page without a download link "
        "(its title: 'Google Drive - Virus scan warning')"
    )
    untitled = page("<html><body>hello</body></html>")
    assert isinstance(untitled, NoLink) and "no title" in untitled.message


# Which bodies are read at all -------------------------------------------------------------------

QUOTA_PAGE = wrap(
    f'<p class="uc-error-subcaption">{QUOTA_TEXT}</p>', "Google Drive - Quota exceeded"
)


@pytest.mark.parametrize(
    "headers",
    [
        # an uploaded .html file comes as text/html with Content-Disposition
        {"Content-Type": "text/html", "Content-Disposition": 'attachment;filename="a.html"'},
        {"content-type": "text/html", "content-disposition": "attachment"},
        {"Content-Type": "application/octet-stream"},
        {"Content-Type": "text/plain; charset=utf-8"},
        {},
    ],
)
def test_data_is_never_taken_for_a_page(headers: dict[str, str]) -> None:
    # A binary that happens to contain Drive's title is still data (pytorch/vision#2992).
    assert classify(200, headers, PAGE_URL, QUOTA_PAGE.encode()) == FileBytes()
    assert classify(206, headers, PAGE_URL, QUOTA_PAGE.encode()) == FileBytes()


@pytest.mark.parametrize(
    "content_type",
    ["TEXT/HTML", "text/html;charset=UTF-8", " text/html ; x=1", "application/xhtml+xml"],
)
def test_html_is_recognised_in_any_spelling(content_type: str) -> None:
    assert classify(200, {"CONTENT-TYPE": content_type}, PAGE_URL, QUOTA_PAGE.encode()) == Quota(
        QUOTA_TEXT
    )


def test_only_the_first_256_kib_are_read() -> None:
    form = f'<form id="download-form" action="{USERCONTENT}">{HIDDEN}</form>'
    padding = "<p>" + "x" * MAX_PAGE_BYTES + "</p>"
    assert isinstance(page(wrap(form + padding)), Confirm)
    assert isinstance(page(wrap(padding + form)), NoLink)


def test_charset_from_the_header_and_a_fallback_for_nonsense() -> None:
    body = wrap("", "Google Drive - Virus scan warning \u00e9").encode("latin-1")
    answer = classify(200, {"Content-Type": "text/html; charset=ISO-8859-1"}, PAGE_URL, body)
    assert isinstance(answer, NoLink) and "warning \u00e9" in answer.message
    for charset in ("bogus", "base64", '"utf-8"', "rot13", ""):
        headers = {"Content-Type": f"text/html; charset={charset}"}
        assert classify(200, headers, PAGE_URL, QUOTA_PAGE.encode()) == Quota(QUOTA_TEXT)


def test_manual_link() -> None:
    assert manual_link(FILE_ID) == f"https://drive.google.com/file/d/{FILE_ID}/view"


# Never raises -----------------------------------------------------------------------------------

FRAGMENTS = [
    "<form id=download-form",
    "<form id='download-form' method=post action='",
    "<input type=hidden name=",
    " value=",
    "<a id=uc-download-link href=",
    '<a href="/uc?export=download&confirm=',
    "<title>",
    "</title>",
    "<p class=uc-error-subcaption>",
    "</p>",
    "</form>",
    "<![ x [",
    "<!--",
    "<script>",
    "&#",
    "&amp;",
    "http://[::1",
    "javascript:",
    '"',
    "'",
    ">",
    "<",
    "\x00",
    "\ud7ff",
]


@st.composite
def html_soup(draw: st.DrawFn) -> bytes:
    pieces = draw(
        st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40)
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return "".join(pieces).encode(encoding, errors="replace")


@settings(max_examples=400, deadline=None)
@given(
    status=st.one_of(
        st.sampled_from([200, 206, 302, 303, 403, 404, 429, 500]), st.integers(0, 999)
    ),
    content_type=st.sampled_from(
        [
            "text/html; charset=utf-8",
            "text/html; charset=bogus",
            "text/html; charset=utf-16",
            "application/zip",
            "",
        ]
    ),
    location=st.one_of(
        st.none(), st.text(max_size=30), st.sampled_from(["http://[::1", "/ServiceLogin"])
    ),
    url=st.one_of(
        st.text(max_size=40),
        st.sampled_from([PAGE_URL, "http://[::1/x", "https://accounts.google.com/"]),
    ),
    body=st.one_of(html_soup(), st.binary(max_size=200)),
)
def test_classify_never_raises(
    status: int, content_type: str, location: str | None, url: str, body: bytes
) -> None:
    headers = {"Content-Type": content_type}
    if location is not None:
        headers["Location"] = location
    answer = classify(status, headers, url, body)
    kinds = (FileBytes, Confirm, Quota, SignIn, NotFound, NoLink, Throttled, ErrorStatus)
    assert isinstance(answer, kinds)
    if isinstance(answer, Confirm):
        assert urlsplit(answer.next_url).scheme in ("http", "https")


names_and_values = st.lists(
    st.tuples(
        st.text(
            st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=12
        ),
        st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=12),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(fields=names_and_values)
def test_any_hidden_inputs_come_back_exactly(fields: list[tuple[str, str]]) -> None:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields
    )
    url = confirm_url(
        page(wrap(f'<form id="download-form" action="{USERCONTENT}">{inputs}</form>'))
    )
    assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == fields
