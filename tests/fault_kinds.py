"""The misbehaviours the fault server of faults.py can be told to show, and when."""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, kw_only=True)
class Fault:
    """When a misbehaviour applies: to requests ``skip + 1`` .. ``skip + times`` of its path."""

    skip: int = 0
    times: int | None = None

    def applies(self, number: int) -> bool:
        return number > self.skip and (self.times is None or number <= self.skip + self.times)


@dataclass(frozen=True, kw_only=True)
class Reset(Fault):
    """Send the headers and ``after`` body bytes, then reset the connection (RST)."""

    after: int


@dataclass(frozen=True, kw_only=True)
class Close(Fault):
    """Send the headers and ``after`` body bytes, then close cleanly (FIN): a short body."""

    after: int


@dataclass(frozen=True, kw_only=True)
class Stall(Fault):
    """Send ``after`` body bytes, then nothing for ``seconds`` (or until the client leaves)."""

    after: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Hold(Fault):
    """Send ``after`` body bytes, then nothing until the test calls ``FaultServer.release``
    (the client may leave first), then the rest: a download that cannot end on its own."""

    after: int


@dataclass(frozen=True, kw_only=True)
class Trickle(Fault):
    """Send the body in pieces of ``piece`` bytes, one every ``interval`` seconds."""

    piece: int
    interval: float


@dataclass(frozen=True, kw_only=True)
class Status(Fault):
    """Answer ``code`` with a small HTML page; ``retry_after`` seconds, sent as a number or,
    with ``as_date``, as the HTTP date that far ahead."""

    code: int
    retry_after: float | None = None
    as_date: bool = False


@dataclass(frozen=True, kw_only=True)
class IgnoreRange(Fault):
    """Answer a Range request 200 with the whole body, as a server without range support."""


@dataclass(frozen=True, kw_only=True)
class WrongRange(Fault):
    """Answer a Range request 206 with other bytes than asked, ``shift`` bytes away (fewer,
    when the range spans the whole file), and a Content-Range that truthfully names them."""

    shift: int = 1


@dataclass(frozen=True, kw_only=True)
class ClaimSize(Fault):
    """Answer a Range request 206 with the bytes asked, under a Content-Range that claims the
    file has ``total`` bytes: a server lying about its size."""

    total: int


@dataclass(frozen=True, kw_only=True)
class LongBody(Fault):
    """Send the whole promised body, then ``extra`` bytes of garbage on the same connection."""

    extra: int = 4 * KIB


@dataclass(frozen=True, kw_only=True)
class Html(Fault):
    """Answer 200 with an HTML page (``Content-Type: text/html``), like a login or error page."""


@dataclass(frozen=True, kw_only=True)
class Redirect(Fault):
    """Answer ``status`` with ``Location: to`` (and a cookie, when ``set_cookie`` is given).
    With ``sign``, the location carries a fresh signature, ``?sig=N`` (N: the number of the
    request redirected), as a data repository's link to its storage does."""

    to: str
    status: int = 302
    set_cookie: str | None = None
    sign: bool = False


@dataclass(frozen=True, kw_only=True)
class Late(Fault):
    """Answer as the file was when the request arrived, but only once request ``behind`` of
    the path has been answered (or ``seconds`` have passed without it): a slow backend
    behind a load balancer, whose answer arrives after a newer one's."""

    behind: int
    seconds: float = 2.0


@dataclass(frozen=True, kw_only=True)
class Expires(Fault):
    """A signed link that expires: the requests carrying one query (its signature) are
    answered as usual ``uses`` times, every request with it counted whatever answered it; from
    then on they are answered ``status`` (410 as some CDNs; S3 says 403)."""

    uses: int
    status: int = 410


@dataclass(frozen=True, kw_only=True)
class Guard(Fault):
    """Answer 401 (``WWW-Authenticate: Basic``) unless the request carries ``header`` with
    exactly ``value``; the normal answer when it does."""

    header: str
    value: str


@dataclass(frozen=True, kw_only=True)
class HugeHeader(Fault):
    """The normal answer with one extra header of ``size`` bytes."""

    size: int = 100 * KIB


@dataclass(frozen=True, kw_only=True)
class Change(Fault):
    """Before answering, the file becomes a new version, kept for the requests after: other
    bytes (``size`` of them; by default as many as before), another ETag and Last-Modified.
    With ``flip``, a second change brings the version before it back, and so on: two
    versions alternate, as behind a load balancer whose backends disagree."""

    size: int | None = None
    flip: bool = False


@dataclass(frozen=True, kw_only=True)
class Unframed(Fault):
    """Answer 200 with the whole file, whatever was asked, without Content-Length: the body
    ends when the connection closes, after ``after`` bytes (None: all of them)."""

    after: int | None = None


@dataclass(frozen=True, kw_only=True)
class UnknownTotal(Fault):
    """Answer a Range request as usual, but with a Content-Range that withholds the total:
    ``bytes a-b/*``."""
