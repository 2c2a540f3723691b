"""Which version of a source a download holds, and whether a later answer is the same one.

A download takes its bytes from many answers (the probe, every segment's requests, the
requests of a later run). They may be stitched together only when they come from one
representation: the same size and the same validators. The first answer fixes them; every
later one is compared. A server that ignores ``If-Range`` still says, in its ETag,
Last-Modified or Content-Range total, that it now serves other bytes.

Pure: headers in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Representation:
    size: int | None
    etag: str | None
    last_modified: str | None

    @classmethod
    def of(cls, headers: Mapping[str, str], size: int | None) -> Representation:
        return cls(size, headers.get("ETag"), headers.get("Last-Modified"))

    @property
    def if_range(self) -> str | None:
        """What ``If-Range`` may carry: a strong ETag, else Last-Modified. A weak ETag never
        (RFC 9110 §13.1.5): a compliant server would answer every such request in full."""
        if self.etag and not is_weak(self.etag):
            return self.etag
        return self.last_modified

    def difference(self, answer: Representation, *, strict: bool = False) -> str | None:
        """Why ``answer`` (what a later response says of itself) is not this representation;
        None when nothing says it differs. A size or validator the answer does not state is no
        evidence either way, unless ``strict``: then a validator this representation has must
        be stated again (an answer from elsewhere, after a redirect or in a later run, must
        show it is the same version)."""
        if self.size is not None and answer.size is not None and answer.size != self.size:
            return f"its size changed from {self.size} to {answer.size} bytes"
        for name, mine, theirs in (
            ("ETag", self.etag and _opaque(self.etag), answer.etag and _opaque(answer.etag)),
            ("Last-Modified", self.last_modified, answer.last_modified),
        ):
            if mine and theirs and theirs != mine:
                return f"its {name} changed from {mine} to {theirs}"
            if strict and mine and not theirs:
                return f"it no longer states its {name} ({mine})"
        return None


def is_weak(etag: str) -> bool:
    return etag.startswith("W/")


def _opaque(etag: str) -> str:
    # Weak comparison: W/"x" and "x" name the same bytes as far as a change goes (a server
    # that compresses on the fly weakens its tags).
    return etag.removeprefix("W/")
