"""The HTML pages the Drive emulator serves, in Drive's own markup (drive/NOTES.md).

Clients find their way by this markup (the form of the warning page, the entries of a
folder view), so it follows what Drive sends, not what would be tidiest.
"""

from __future__ import annotations

import html
from typing import Final
from urllib.parse import quote, urlencode

from evio_fetch.engine.loopback.drive_state import DriveDocument, DriveFile, DriveFolder, Listed

_DOCUMENT_MIMES: Final = {
    "document": "application/vnd.google-apps.document",
    "spreadsheets": "application/vnd.google-apps.spreadsheet",
    "presentation": "application/vnd.google-apps.presentation",
}


def short_size(size: int) -> str:
    """Drive's size in the warning caption: ``4.9K``, ``37M``, ``126M``, ``1.3G``."""
    value = float(size)
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if not unit:
                return str(size)
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return str(size)  # never: the loop returns at "T"


_STYLE = (
    '<meta http-equiv="content-type" content="text/html; charset=utf-8"/>'
    '<style nonce="loopback">body{color:#222;font:normal 13px/1.4 arial,sans-serif;margin:0}'
    ".uc-main{padding-top:50px;text-align:center}</style>"
    '<link rel="icon" href="//ssl.gstatic.com/docs/doclist/images/drive_2022q3_32dp.png"/>'
)

QUOTA_PAGE = (
    "<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title>"
    f'{_STYLE}</head><body><div class="uc-main"><div id="uc-text">'
    '<p class="uc-error-caption">Sorry, you can&#39;t view or download this file at this '
    'time.</p><p class="uc-error-subcaption">Too many users have viewed or downloaded this '
    "file recently. Please try accessing the file again later. If the file you are trying to "
    "access is particularly large or is shared with many people, it may take up to 24 hours "
    "to be able to view or download the file. If you still can&#39;t access a file after 24 "
    'hours, contact your domain administrator.</p></div></div><div class="uc-footer">'
    '<hr class="uc-footer-divider"></div></body></html>'
)

# Google's notice to a client it throttles, as users report it (served with 429).
THROTTLED_PAGE = (
    '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"/>'
    "<title>Sorry...</title><style>body{font-family:verdana,arial,sans-serif}</style></head>"
    '<body><div style="margin-left:4em"><h1>We&#39;re sorry...</h1><p>... but your computer '
    "or network may be sending automated queries. To protect our users, we can&#39;t process "
    'your request right now.</p></div><div style="margin-left:4em">See '
    '<a href="https://support.google.com/websearch/answer/86640">Google Help</a> for more '
    "information.<br/><br/></div></body></html>"
)

SIGN_IN_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Sign in - Google Accounts</title>'
    '<meta charset="utf-8"></head><body><div id="initialView"><h1>Sign in</h1>'
    '<div>to continue to Google Drive</div><form id="gaia_loginform" method="post" '
    'action="/v3/signin/_/AccountsSignInUi/data"><input type="email" name="identifier" '
    'autocomplete="username"><input type="hidden" name="service" value="wise">'
    "<button>Next</button></form></div></body></html>"
)


def error_html(status: int) -> str:
    reasons = {403: "Forbidden", 404: "Not Found", 416: "Requested Range Not Satisfiable"}
    reason = reasons.get(status, "Error")
    return (
        f"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error {status} ({reason})!!1"
        f"</title><p><b>{status}.</b> <ins>That's an error.</ins></p></html>"
    )


def warning_html(entry: DriveFile, action: str, fields: list[tuple[str, str]]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields
    )
    name = html.escape(entry.name)
    file_id = html.escape(entry.file_id)
    return (
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>"
        f'{_STYLE}</head><body><div class="uc-main"><div id="uc-dl-icon" '
        'class="image-container"><div class="drive-sprite-aux-download-file"></div></div>'
        '<div id="uc-text"><p class="uc-warning-caption">Google Drive can&#39;t scan this file '
        'for viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size">'
        f'<a href="/open?id={file_id}">{name}</a> ({short_size(entry.size)})</span> is too '
        "large for Google to scan for viruses. Would you still like to download this file?</p>"
        f'<form id="download-form" action="{html.escape(action)}" method="get">'
        '<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button '
        f'jfk-button-action" value="Download anyway"/>{inputs}</form></div></div>'
        '<div class="uc-footer"><hr class="uc-footer-divider"></div></body></html>'
    )


def folder_html(name: str, rows: list[str]) -> str:
    return (
        '<!DOCTYPE html><html><head><meta http-equiv="X-UA-Compatible" content="IE=edge">'
        f'<title>{html.escape(name)}</title></head><body class="flip-embedded">'
        '<div id="flip-contents" class="flip-contents flip-list-view"><div class="flip-entries">'
        f"{''.join(rows)}</div></div></body></html>"
    )


def listed_html(listed: Listed) -> str:
    """The folder view's entry for a file, folder or document."""
    if isinstance(listed, DriveFolder):
        return _folder_entry_html(listed.folder_id, listed.name)
    if isinstance(listed, DriveDocument):
        return _document_entry_html(listed)
    return _file_entry_html(listed)


def _entry_html(entry_id: str, href: str, icon: str, name: str) -> str:
    return (
        f'<div class="flip-entry" id="entry-{html.escape(entry_id)}" tabindex="0" role="link">'
        f'<div class="flip-entry-info"><a href="{html.escape(href)}" target="_blank">'
        f'<div class="flip-entry-visual"></div>{icon}'
        f'<div class="flip-entry-title">{html.escape(name)}</div></a></div>'
        '<div class="flip-entry-last-modified"><div>Jan 5</div></div></div>'
    )


def _folder_entry_html(folder_id: str, name: str) -> str:
    icon = (
        '<div class="flip-entry-list-icon"><div aria-label="Folder" '
        'class="icon-color-1 drive-sprite-folder-list-shared-icon"></div></div>'
    )
    href = f"https://drive.google.com/drive/folders/{quote(folder_id, safe='')}"
    return _entry_html(folder_id, href, icon, name)


def _file_entry_html(entry: DriveFile) -> str:
    href = f"https://drive.google.com/file/d/{quote(entry.file_id, safe='')}/view?usp=drive_web"
    if entry.resource_key is not None:
        href += "&" + urlencode({"resourcekey": entry.resource_key})
    return _entry_html(entry.file_id, href, _icon_html(entry.content_type), entry.name)


def _document_entry_html(document: DriveDocument) -> str:
    doc_id = quote(document.doc_id, safe="")
    href = f"https://docs.google.com/{document.native}/d/{doc_id}/edit?usp=drive_web"
    mime = _DOCUMENT_MIMES.get(document.native, "application/vnd.google-apps.unknown")
    return _entry_html(document.doc_id, href, _icon_html(mime), document.name)


def _icon_html(mime: str) -> str:
    src = f"https://drive-thirdparty.googleusercontent.com/16/type/{mime}"
    return f'<div class="flip-entry-list-icon"><img src="{html.escape(src)}" alt=""/></div>'
