"""Checksums as data repositories publish them: ``"md5:9e107d9d…"``, an algorithm and its
digest in hexadecimal (Zenodo, Figshare and pooch registries write them so). SHA256 is always
computed; a manifest entry may name one of the others besides."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal, Protocol, get_args

import msgspec

Algorithm = Literal["sha256", "sha512", "sha1", "md5", "blake2b"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)

# Hexadecimal digits of each digest; blake2b at its full (and hashlib's default) 64 bytes.
HEX_DIGITS: dict[Algorithm, int] = {
    "sha256": 64,
    "sha512": 128,
    "sha1": 40,
    "md5": 32,
    "blake2b": 128,
}
_SHOWN: dict[Algorithm, str] = {
    "sha256": "SHA256",
    "sha512": "SHA512",
    "sha1": "SHA1",
    "md5": "MD5",
    "blake2b": "BLAKE2b",
}
_HEX = frozenset("0123456789abcdef")


class Checksum(msgspec.Struct, frozen=True, gc=False):  # per file: see model.FileSpec
    """An expected digest: ``hex`` is lowercase and as long as ``algorithm`` makes it."""

    algorithm: Algorithm
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def shown(self) -> str:
        """The algorithm as people write it: ``MD5``, ``BLAKE2b``."""
        return shown(self.algorithm)


def shown(algorithm: Algorithm) -> str:
    return _SHOWN[algorithm]


def parse_checksum(text: str) -> Checksum:
    """``"MD5:9E10…"`` as a Checksum; ValueError says what is wrong, in a user's words."""
    name, colon, digits = text.partition(":")
    if not colon:
        raise ValueError(f"{_clip(text)!r} names no algorithm: write it as ALGORITHM:HEX")
    algorithm = _algorithm(name.strip().lower())
    if algorithm is None:
        raise ValueError(f"{_clip(name)!r} is not an algorithm evio-fetch checks")
    digits = digits.strip().lower()
    want = HEX_DIGITS[algorithm]
    if len(digits) != want or not _HEX.issuperset(digits):
        raise ValueError(
            f"{shown(algorithm)} takes {want} hexadecimal digits, not {_clip(digits)!r}"
        )
    return Checksum(algorithm, digits)


def _algorithm(name: str) -> Algorithm | None:
    return next((algorithm for algorithm in ALGORITHMS if algorithm == name), None)


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class _Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


class Digests:
    """Several digests of one stream: each block is read once and given to every one."""

    def __init__(self, algorithms: Iterable[Algorithm]) -> None:
        # A checksum guards against damage, not forgery: MD5 and SHA1 must work where a FIPS
        # policy forbids them for security.
        self._digests: dict[Algorithm, _Digest] = {
            algorithm: hashlib.new(algorithm, usedforsecurity=False)
            for algorithm in dict.fromkeys(algorithms)
        }

    def update(self, block: bytes | memoryview) -> None:
        for digest in self._digests.values():
            digest.update(block)

    def hexdigests(self) -> dict[Algorithm, str]:
        return {algorithm: digest.hexdigest() for algorithm, digest in self._digests.items()}


def expected(sha256: str | None, checksum: Checksum | None) -> list[Checksum]:
    """Every digest a file must have: its SHA256 and its other checksum, when known."""
    found = [] if sha256 is None else [Checksum("sha256", sha256)]
    return found if checksum is None or checksum in found else [*found, checksum]


def first_mismatch(
    wanted: list[Checksum], digests: dict[Algorithm, str]
) -> tuple[Checksum, str] | None:
    """The first expected checksum that ``digests`` contradict, with the digest found."""
    for checksum in wanted:
        got = digests[checksum.algorithm]
        if got != checksum.hex:
            return checksum, got
    return None
