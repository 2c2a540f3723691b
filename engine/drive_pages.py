"""What one Google Drive answer means (drive/NOTES.md §1, §3, §4).

Pure: no network, no files. ``classify`` looks at the final response of a request (after
redirects) and says whether it carries the file's bytes, asks for a confirmation first (the
virus-scan page, in its three generations), or is one of Drive's refusals, throttling
included (``throttle_from`` asks only that, for any request of a download). Pages are read
with the standard library's HTML parser and recognised by Drive's stable markers only: the
form id ``download-form``, the link id ``uc-download-link``, the ``<title>`` and the
``uc-error-subcaption`` paragraph. Attribute order, quoting and case do not matter, and
forms or links without those markers are ignored, so decoys cannot steer the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Final, Literal
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import msgspec

from evio_fetch.engine.errors import DriveThrottledError
from evio_fetch.engine.retry import parse_retry_after

MAX_PAGE_BYTES: Final = 256 * 1024
"""The longest page read: Drive's pages are a few KiB, and a longer one is none of them (the
Drive flow refuses it by name rather than reading part of it)."""

MANUAL_LINK = "https://drive.google.com/file/d/{id}/view"

# The form's id before November 2022 was downloadForm (gdown PR #224); both mean the same.
_FORM_IDS: Final = frozenset({"download-form", "downloadform"})
_LINK_ID: Final = "uc-download-link"
_ERROR_CLASS: Final = "uc-error-subcaption"
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
# Controls a browser never submits with a form that is sent without a named submit button.
_UNSUBMITTED_INPUTS: Final = frozenset({"submit", "button", "image", "reset", "file"})
_CHECKABLE_INPUTS: Final = frozenset({"checkbox", "radio"})
# Bounds on what the scanner keeps, so a hostile page cannot make it hoard memory.
_MAX_TEXT = 2000
_MAX_FIELDS = 100
# Google's notice to clients it throttles ("We're sorry... but your computer or network may
# be sending automated queries", "Our systems have detected unusual traffic"): looked for in
# the page's first characters of text.
_THROTTLE_MARKERS: Final = ("automated queries", "unusual traffic")
_MAX_PAGE_TEXT = 20_000
# Elements whose content is code, not text a person reads.
_CODE_TAGS: Final = frozenset({"script", "style"})


# The answers -------------------------------------------------------------------------------


class FileBytes(msgspec.Struct, frozen=True, tag=True):
    """The response is the file: it has Content-Disposition, or is not an HTML page."""


class Confirm(msgspec.Struct, frozen=True, tag=True):
    """A confirmation page: GET ``next_url`` (keeping cookies) and classify that answer."""

    next_url: str
    via: Literal["form_get", "form_post", "link"]
    """Which generation of the page it was: the 2024 GET form, the 2022-23 POST form, or
    the pre-2022 confirm link (whose ``download_warning`` cookie the jar must keep)."""


class Quota(msgspec.Struct, frozen=True, tag=True):
    """ "Too many users have viewed or downloaded this file recently": not retryable now."""

    message: str


class SignIn(msgspec.Struct, frozen=True, tag=True):
    """Google's sign-in: the file is not shared publicly, or its resource key is missing."""


class NotFound(msgspec.Struct, frozen=True, tag=True):
    """No such file (deleted, or a wrong ID)."""


class NoLink(msgspec.Struct, frozen=True, tag=True):
    """An HTML page with no way on to the bytes; ``message`` names the page's title."""

    message: str


class Throttled(msgspec.Struct, frozen=True, tag=True):
    """Google refuses this client for now: HTTP 429, or an error status with its "We're
    sorry... your computer or network may be sending automated queries" page. Transient:
    wait (at least ``retry_after``, the raw ``Retry-After`` header) and ask less often."""

    status: int
    retry_after: str | None = None


class ErrorStatus(msgspec.Struct, frozen=True, tag=True):
    """An error status that is none of Google's own pages (e.g. 403 for an expired confirmed
    URL, 5xx): the caller's ordinary HTTP rules decide whether to retry."""

    status: int


DriveAnswer = FileBytes | Confirm | Quota | SignIn | NotFound | NoLink | Throttled | ErrorStatus


def manual_link(file_id: str) -> str:
    """The page where a person can download the file by hand."""
    return MANUAL_LINK.format(id=quote(file_id, safe=""))


# Classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], url: str, body: bytes) -> DriveAnswer:
    """What the response to a Drive request means.

    ``url`` is the final URL (after redirects); ``body`` is the page, read to its end
    (only its first ``MAX_PAGE_BYTES`` are looked at). Never raises on any input.
    """
    if is_sign_in_url(url):
        return SignIn()
    if status in (404, 410):
        return NotFound()
    if 300 <= status < 400:
        return _redirect(url, _header(headers, "Location"), status)
    if not is_html_page(headers):
        # Only a page without Content-Disposition is read: an uploaded .html file, or a
        # binary body that happens to contain a title, is data (pytorch/vision#2992).
        if 200 <= status < 300:
            return FileBytes()
        return _throttled(status, headers) if status == 429 else ErrorStatus(status)
    page = scan_page(body, _header(headers, "Content-Type"))
    return _classify_page(status, headers, url, page)


def is_sign_in_url(url: str) -> bool:
    """Google's sign-in: any URL on accounts.google.com, or a path ending ``/ServiceLogin``
    on any host (what gdrivedl checks; also how a loopback emulator's sign-in looks)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return False
    if host == "accounts.google.com":
        return True
    return parts.path.rstrip("/").lower().endswith("/servicelogin")


def is_html_page(headers: Mapping[str, str]) -> bool:
    """An HTML page rather than an attachment: only these bodies are ever parsed."""
    if _header(headers, "Content-Disposition") is not None:
        return False
    return _media_type(_header(headers, "Content-Type")) in _HTML_TYPES


def _redirect(url: str, location: str | None, status: int) -> DriveAnswer:
    # A redirect reaches here only when the caller did not follow it: where it leads may
    # still say "sign in".
    if location is not None:
        try:
            target = urljoin(url, location.strip())
        except ValueError:
            return ErrorStatus(status)
        if is_sign_in_url(target):
            return SignIn()
    return ErrorStatus(status)


def _classify_page(status: int, headers: Mapping[str, str], url: str, page: Page) -> DriveAnswer:
    if _is_sign_in_title(page.title):
        return SignIn()
    if _is_quota(page):
        return Quota(_quota_message(page))
    # Only with an error status: a confirmation page shows the file's name, which may be
    # anything, even these words.
    if status == 429 or (status >= 400 and page.automated):
        return _throttled(status, headers)
    if status >= 400:
        return ErrorStatus(status)
    confirm = confirm_request(page, url)
    if confirm is not None:
        return confirm
    return NoLink(_no_link_message(page.title))


def _throttled(status: int, headers: Mapping[str, str]) -> Throttled:
    return Throttled(status, _header(headers, "Retry-After"))


def _is_sign_in_title(title: str | None) -> bool:
    # "Sign in - Google Accounts"; a signed-in browser without access sees "You need access".
    if title is None:
        return False
    lowered = title.lower()
    return (
        lowered.startswith("sign in")
        or lowered.endswith("google accounts")
        or "need access" in lowered
    )


def _is_quota(page: Page) -> bool:
    # The error paragraph is the marker that survives a localised title (hl=de, ...).
    title = (page.title or "").lower()
    return "quota exceeded" in title or page.error_text is not None


def _quota_message(page: Page) -> str:
    if page.error_text:
        return page.error_text
    if page.title:
        return page.title
    return "Google Drive: the download quota of this file is exceeded"


def _no_link_message(title: str | None) -> str:
    if title:
        return f"Google Drive answered a page without a download link (its title: {title!r})"
    return "Google Drive answered a page without a download link (the page has no title)"


# Throttling ----------------------------------------------------------------------------------


def throttle_from(
    status: int,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    label: str,
    now: datetime | None = None,
) -> DriveThrottledError | None:
    """The error to raise when a Drive answer says Google is throttling this client, else
    None. For any request, also one for a range in the middle of a file.

    ``body`` is the page, read whole (``Reply.read(MAX_PAGE_BYTES)``), when ``is_html_page``
    says the answer is one, else None: then only a 429 counts, since a 403 or 503 is
    throttling only when its page says so. A quota or sign-in page is not throttling:
    ``classify`` tells those apart. ``label`` names the file in the message; ``now`` (UTC)
    turns a Retry-After date into seconds.
    """
    answer = classify(status, headers, "", body or b"")
    if not isinstance(answer, Throttled):
        return None
    return throttled_error(label, answer, now or datetime.now(UTC))


def throttled_error(label: str, answer: Throttled, now: datetime) -> DriveThrottledError:
    """The named error for a ``Throttled`` answer, with the pause Google asked for."""
    wait = parse_retry_after(answer.retry_after, now)
    asked = f"; it asks to wait {wait:g} s" if wait is not None else ""
    return DriveThrottledError(
        f"{label}: Google Drive is throttling requests from this machine "
        f"(HTTP {answer.status}){asked}",
        "wait a while before trying again, and pull less hard: lower --segments and --concurrency",
        answer.status,
        wait,
    )


# The next request after a confirmation page --------------------------------------------------


def confirm_request(page: Page, page_url: str) -> Confirm | None:
    """The request that accepts the warning: the download form, else the legacy link."""
    if page.form is not None:
        confirm = _form_request(page.form, page_url)
        if confirm is not None:
            return confirm
    for href in (page.link, page.fallback_link):
        if href is not None:
            target = _absolute(page_url, href)
            if target is not None:
                return Confirm(target, "link")
    return None


def _form_request(form: Form, page_url: str) -> Confirm | None:
    # An empty action means the page's own URL, as in a browser.
    target = _absolute(page_url, form.action) if form.action else _absolute(page_url, "")
    if target is None:
        return None
    parts = urlsplit(target)
    if form.method == "post":
        # The 2022-23 action already carries the whole query; GET works on it (gdown did).
        # Inputs it lacks are appended, so nothing the page gave is lost.
        query = _merge_query(parts.query, form.fields)
        return Confirm(urlunsplit(parts._replace(query=query, fragment="")), "form_post")
    # A GET submission replaces the action's query with the form's inputs, in order.
    query = urlencode(form.fields)
    return Confirm(urlunsplit(parts._replace(query=query, fragment="")), "form_get")


def _merge_query(query: str, fields: list[tuple[str, str]]) -> str:
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    extra = [(name, value) for name, value in fields if name not in present]
    if not extra:
        return query
    return f"{query}&{urlencode(extra)}" if query else urlencode(extra)


def _absolute(page_url: str, reference: str) -> str | None:
    """``reference`` resolved against the page, if it is an http(s) URL."""
    try:
        target = urljoin(page_url, reference.strip())
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return target


# Reading a page -----------------------------------------------------------------------------


@dataclass(slots=True)
class Form:
    """The download form: where it goes and the inputs a browser would submit."""

    action: str | None
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Page:
    """The markers of one Drive page."""

    title: str | None = None
    form: Form | None = None
    link: str | None = None
    """href of the first ``<a id="uc-download-link">``."""
    fallback_link: str | None = None
    """href of the first ``<a>`` to ``…/uc?…confirm=…`` without that id (gdown's old regex)."""
    error_text: str | None = None
    """Text of the first ``uc-error-subcaption`` element."""
    automated: bool = False
    """Whether the page's text is Google's "automated queries" or "unusual traffic" notice."""


def scan_page(body: bytes, content_type: str | None = None) -> Page:
    """The markers found in the first ``MAX_PAGE_BYTES`` of an HTML body."""
    scanner = _Scanner()
    try:
        scanner.feed(_decode(body[:MAX_PAGE_BYTES], content_type))
        scanner.close()
    except AssertionError:
        # html.parser gives up on some malformed declarations ("<![ x ["); what it read
        # before that still counts.
        pass
    return scanner.result()


def _decode(body: bytes, content_type: str | None) -> str:
    charset = _parameter(content_type, "charset") or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        # An unknown charset, or a codec that is not for text: Drive's pages are UTF-8.
        return body.decode("utf-8", errors="replace")


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._page = Page()
        self._title: _Text | None = None
        self._form_open = False
        # The element whose text is being captured: its tag and how deeply it is nested.
        self._capture: tuple[str, int] | None = None
        self._captured = _Text()
        self._text = _Text(_MAX_PAGE_TEXT)
        self._in_code = False

    def result(self) -> Page:
        if self._title is not None and self._page.title is None:
            self._page.title = self._title.value()  # never closed: the rest of the page
        if self._capture is not None:
            self._finish_capture()
        text = self._text.value().lower()
        self._page.automated = any(marker in text for marker in _THROTTLE_MARKERS)
        return self._page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = _attributes(attrs)
        self._in_code = tag in _CODE_TAGS
        if tag == "title" and self._title is None:
            self._title = _Text()
        elif tag == "form":
            self._start_form(values)
        elif tag == "input" and self._form_open:
            self._add_input(values)
        elif tag == "a":
            self._see_link(values)
        self._start_capture(tag, values)

    def handle_endtag(self, tag: str) -> None:
        self._in_code = False
        if tag == "title" and self._title is not None and self._page.title is None:
            self._page.title = self._title.value()
        elif tag == "form":
            self._form_open = False
        self._end_capture(tag)

    def handle_data(self, data: str) -> None:
        if not self._in_code:
            self._text.add(data)
        if self._title is not None and self._page.title is None:
            self._title.add(data)
        if self._capture is not None:
            self._captured.add(data)

    def _start_form(self, values: dict[str, str]) -> None:
        # Any other form start ends the download form: its inputs belong to that other form.
        self._form_open = False
        if self._page.form is None and values.get("id", "").strip().lower() in _FORM_IDS:
            method = values.get("method", "get").strip().lower()
            self._page.form = Form(values.get("action"), "post" if method == "post" else "get")
            self._form_open = True

    def _add_input(self, values: dict[str, str]) -> None:
        form = self._page.form
        name = values.get("name")
        kind = values.get("type", "text").strip().lower()
        if form is None or not name or "disabled" in values or kind in _UNSUBMITTED_INPUTS:
            return
        if kind in _CHECKABLE_INPUTS and "checked" not in values:
            return
        if len(form.fields) < _MAX_FIELDS:
            default = "on" if kind in _CHECKABLE_INPUTS else ""
            form.fields.append((name, values.get("value", default)))

    def _see_link(self, values: dict[str, str]) -> None:
        href = values.get("href")
        if href is None:
            return
        if values.get("id", "").strip().lower() == _LINK_ID:
            if self._page.link is None:
                self._page.link = href
        elif self._page.fallback_link is None and _is_confirm_href(href):
            self._page.fallback_link = href

    def _start_capture(self, tag: str, values: dict[str, str]) -> None:
        if self._capture is not None:
            name, depth = self._capture
            if tag == name:
                self._capture = (name, depth + 1)
        elif self._page.error_text is None and _ERROR_CLASS in _classes(values):
            self._capture = (tag, 1)
            self._captured = _Text()

    def _end_capture(self, tag: str) -> None:
        if self._capture is None or tag != self._capture[0]:
            return
        name, depth = self._capture
        if depth > 1:
            self._capture = (name, depth - 1)
        else:
            self._finish_capture()

    def _finish_capture(self) -> None:
        self._capture = None
        self._page.error_text = self._captured.value()


def _is_confirm_href(href: str) -> bool:
    # A parsed check, not a substring one: the legacy page's Sign-in link carries
    # "uc%3Fexport%3Ddownload" inside its continue= parameter.
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return False
    names = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return parts.path.endswith("/uc") and "confirm" in names


# Small helpers -------------------------------------------------------------------------------


def _attributes(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    # The first of repeated attributes wins, as in browsers; a bare attribute is "".
    values: dict[str, str] = {}
    for name, value in attrs:
        values.setdefault(name, value if value is not None else "")
    return values


def _classes(values: dict[str, str]) -> set[str]:
    return set(values.get("class", "").lower().split())


class _Text:
    """Text gathered from an element, with runs of whitespace made single spaces."""

    def __init__(self, bound: int = _MAX_TEXT) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._bound = bound

    def add(self, data: str) -> None:
        if self._size < self._bound:
            self._parts.append(data)
            self._size += len(data)

    def value(self) -> str:
        return " ".join("".join(self._parts).split())[: self._bound]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the mapping's key case (aiohttp's is case-insensitive,
    a plain dict is not)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, found in headers.items():
        if key.lower() == lowered:
            return found
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _parameter(content_type: str | None, wanted: str) -> str | None:
    for item in (content_type or "").split(";")[1:]:
        name, _, value = item.partition("=")
        if name.strip().lower() == wanted:
            return value.strip().strip('"') or None
    return None
