"""Every failure evio-fetch reports, in one tree.

Each error carries a stable ``code`` (used by ``--json`` and docs/errors.md), a one-line
``message`` saying what happened and to what, and a ``hint`` saying what the user can do:
the flag or action that helps. Where an error is made, the hint may be more precise; made
without one, it takes its class's ``default_hint``, so no error ever reaches the user
without a way forward.
``exit_status`` is what the command line exits with when this error decides the run;
``stops_run`` marks the one failure that stops the other files too (a full device).

    EvioError
    ├── UsageError              bad arguments                              exit 2
    ├── ManifestError           manifest unreadable or invalid             exit 2
    ├── DiskFullError           this file does not fit on its device       exit 1
    │   └── DeviceFullError     the device is full: the run stops          exit 2
    ├── StateError              a sidecar state file cannot be used        exit 1
    │   └── StateVersionError   written by a newer evio-fetch              exit 1
    ├── BusyError               another process is writing this target     exit 1
    └── DownloadError           one file could not be fetched              exit 1
        ├── TransportError      connection failed, reset or went silent    (transient)
        ├── HTTPStatusError     an error status                            (408 429 5xx: transient)
        │   ├── DriveThrottledError  Drive throttles this client ("automated queries")
        │   └── LinkExpiredError     a link that served the file stopped serving it (401/403/410)
        ├── RangeError          a 206 whose Content-Range was not what was asked
        ├── RangesIgnoredError  ranges answered with the whole file (refetched on one stream)
        ├── BodyLengthError     the body was shorter or longer than promised
        ├── NotDataError        an HTML page where data was expected
        ├── PageTooLargeError   a page to be read (Drive's, a folder listing) exceeds its bound
        ├── SizeMismatchError   the server's size differs from the manifest's
        ├── ChecksumMismatchError  the SHA256 of the bytes differs from the manifest's
        ├── RemoteChangedError  the remote file changed while it was being fetched
        ├── SourceMismatchError a mirror's size or bytes differ from the file's other sources
        ├── UnsafeNameError     the server's file name cannot be used safely
        ├── UnsafePathError     a file planted where evio-fetch writes (a link, a FIFO, …)
        └── DriveError          Google Drive gave no way to the bytes
            ├── DriveQuotaError     "too many users have viewed or downloaded this file"
            └── DriveSignInError    not shared publicly, or its resource key is missing

Messages never show a URL's secrets: they are redacted when the error is made
(engine.redaction). Hints name only links evio-fetch makes, or sources already redacted.

Workers never raise across the process boundary: they send ``Failure`` values (engine.model),
made from these errors by ``to_failure`` and turned back into text by the command line.
"""

from __future__ import annotations

from typing import Any, ClassVar

from evio_fetch.engine.redaction import scrub_urls


class EvioError(Exception):
    code: ClassVar[str] = "error"
    exit_status: ClassVar[int] = 1
    transient: ClassVar[bool] = False
    stops_run: ClassVar[bool] = False
    default_hint: ClassVar[str] = (
        "run the same command again; if it fails the same way, report it with the command"
    )

    def __init__(self, message: str, hint: str = "") -> None:
        # Every message that names a URL hides its secrets here, once, wherever it was made.
        # Hints are advice with links of our own making (an export URL), kept usable as given.
        message = scrub_urls(message)
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle by the constructor's own arguments, so a subclass never breaks a process pool.
        return (type(self), (self.message, self.hint))

    def __str__(self) -> str:
        return self.message


class UsageError(EvioError):
    code = "usage"
    default_hint = "--help lists every option and what it takes"
    exit_status = 2


class ManifestError(EvioError):
    code = "manifest_invalid"
    default_hint = "fix the manifest where the message points"
    exit_status = 2


class DiskFullError(EvioError):
    """This file does not fit: it needs more space than its device has free, or is larger
    than its file system allows in one file. Others may still fit, so they go on."""

    code = "disk_full"
    default_hint = "free some space, or download it to another device with -o"


class DeviceFullError(DiskFullError):
    """The device is full: a write found no space, or next to nothing is free. Every other
    file would fail the same way, so the run stops (downloads keep their progress)."""

    exit_status = 2
    stops_run = True
    default_hint = "free some space and run the same command again: downloads resume"


class StateError(EvioError):
    code = "state_invalid"
    default_hint = "run with --no-resume to start the download over"


class StateVersionError(StateError):
    code = "state_newer"
    default_hint = "upgrade evio-fetch, or run with --no-resume to start the download over"


class BusyError(EvioError):
    code = "busy"
    default_hint = "wait for the other evio-fetch to finish, or stop it; then run again"


class DownloadError(EvioError):
    code = "download_failed"
    default_hint = "run the same command again: partial downloads resume"


class TransportError(DownloadError):
    code = "connection"
    default_hint = (
        "--retries sets how often a request is tried again, --timeout how long a silent "
        "connection is waited for"
    )
    transient = True


TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class HTTPStatusError(DownloadError):
    code = "http_status"
    default_hint = "open the link in a browser to see what the server answers"

    def __init__(
        self, message: str, hint: str = "", status: int = 0, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.hint, self.status, self.retry_after))

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self.status in TRANSIENT_STATUSES


class DriveThrottledError(HTTPStatusError):
    """Google Drive refuses this client for now: HTTP 429, or its "automated queries" page
    with another status. Retried like a 429 whatever its status, after ``retry_after``."""

    code = "drive_throttled"
    default_hint = (
        "wait a while before trying again, and pull less hard: lower --segments and --concurrency"
    )

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return True


class LinkExpiredError(HTTPStatusError):
    """A link that served part of the file answers 401, 403 or 410: a signed or tokened link
    (S3, a CDN) has expired. Not retried; a fresh link resumes the download."""

    code = "link_expired"
    default_hint = (
        "get a new link (sign it again, or copy it again from the site that gave it) and run the "
        "same command with it: the download resumes where it stopped"
    )

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return False


class RangeError(DownloadError):
    code = "bad_range"
    default_hint = "the server's range support is unreliable; try --segments 1"


class BodyLengthError(DownloadError):
    code = "body_length"
    default_hint = (
        "run the same command again; if the size keeps differing, the server's file or the "
        "manifest's size is wrong"
    )


class RangesIgnoredError(DownloadError):
    """A server that honoured ranges answered one with the whole file: fetch it on one
    stream instead (never seen by users unless it happens again)."""

    code = "ranges_ignored"
    default_hint = "the server's range support is unreliable; try --segments 1"


class NotDataError(DownloadError):
    code = "not_data"
    default_hint = (
        "the link may lead to a login or landing page; open it in a browser to find the file"
    )


class PageTooLargeError(DownloadError):
    """A page that is read whole (a Drive page, a folder listing) is longer than the most
    such a page can be: it is not one, and reading on would hold it all in memory."""

    code = "page_too_large"
    default_hint = (
        "this is not the page expected: check the link (and EVIO_FETCH_DRIVE_URL, for Google Drive)"
    )


class SizeMismatchError(DownloadError):
    code = "size_mismatch"
    default_hint = "the file changed upstream or the manifest is out of date; fix its size"


class ChecksumMismatchError(DownloadError):
    code = "checksum_mismatch"
    default_hint = (
        "the file differs from the manifest's; if the source changed, update the manifest"
    )


class RemoteChangedError(DownloadError):
    code = "remote_changed"
    default_hint = "run the same command again to fetch the new version"


class SourceMismatchError(DownloadError):
    """One source of a file serves something else than its others: another size, or bytes
    that, mixed with theirs, fail the file's SHA256. It is dropped for that file."""

    code = "source_mismatch"
    default_hint = "check the file's mirrors: each must serve the same bytes"


class UnsafeNameError(DownloadError):
    code = "unsafe_name"
    default_hint = "give the file a path of your choosing in a manifest"


class UnsafePathError(DownloadError):
    """Something evio-fetch did not make sits where it would write, or a directory on the way
    leads outside the root: it is refused, never followed."""

    code = "unsafe_path"
    default_hint = (
        "evio-fetch did not make it and will not write through it; move it away if it is "
        "yours, then run again"
    )


class DriveError(DownloadError):
    code = "drive_no_link"
    default_hint = "download it by hand from its Google Drive page"


class DriveQuotaError(DriveError):
    code = "drive_quota"
    default_hint = "wait (Drive lifts it within 24 hours), or download it by hand"


class DriveSignInError(DriveError):
    code = "drive_signin"
    default_hint = "check the sharing, or pass the full share link (with resourcekey=)"


ALL_ERRORS: tuple[type[EvioError], ...] = (
    UsageError,
    ManifestError,
    DiskFullError,
    DeviceFullError,
    StateError,
    StateVersionError,
    BusyError,
    DownloadError,
    TransportError,
    HTTPStatusError,
    DriveThrottledError,
    LinkExpiredError,
    RangeError,
    RangesIgnoredError,
    BodyLengthError,
    NotDataError,
    PageTooLargeError,
    SizeMismatchError,
    ChecksumMismatchError,
    RemoteChangedError,
    SourceMismatchError,
    UnsafeNameError,
    UnsafePathError,
    DriveError,
    DriveQuotaError,
    DriveSignInError,
)
