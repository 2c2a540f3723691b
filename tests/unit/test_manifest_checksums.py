"""A manifest entry's ``checksum`` ("md5:…" and the like) beside its ``sha256``, and the
warnings that name every field the manifest does not know."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from evio_fetch.engine.checksums import ALGORITHMS, Checksum, parse_checksum
from evio_fetch.engine.errors import ManifestError
from evio_fetch.engine.manifest import Manifest, decode_manifest
from evio_fetch.engine.unknown_fields import MAX_LINES

ORIGIN = "m.json"
FILE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
DATA = b"The quick brown fox jumps over the lazy dog"
HEX = {name: hashlib.new(name, DATA).hexdigest() for name in ALGORITHMS}
SHA = HEX["sha256"]


def entry(**fields: Any) -> dict[str, Any]:
    return {"id": FILE_ID, "path": "x.dat", **fields}


def decode(tmp_path: Path, *entries: dict[str, Any], **top: Any) -> Manifest:
    data = json.dumps({"version": "1.0", "datasets": list(entries), **top}).encode()
    return decode_manifest(data, tmp_path, ORIGIN)


# Accepted ---------------------------------------------------------------------------------

ACCEPTED = [
    # (entry fields, the spec's sha256, the spec's checksum)
    *((entry(checksum=f"{a}:{HEX[a]}"), None, Checksum(a, HEX[a])) for a in ALGORITHMS[1:]),
    # as pooch and Zenodo publish them, and in capitals: one spelling inside
    (entry(checksum=f"MD5:{HEX['md5'].upper()}"), None, Checksum("md5", HEX["md5"])),
    (entry(checksum=f"BLAKE2b:{HEX['blake2b']}"), None, Checksum("blake2b", HEX["blake2b"])),
    # a SHA256 given as checksum is the entry's SHA256
    (entry(checksum=f"sha256:{SHA}"), SHA, None),
    (entry(checksum=f"sha256:{SHA}", sha256=SHA.upper()), SHA, None),
    # both fields: both must hold
    (entry(checksum=f"md5:{HEX['md5']}", sha256=SHA), SHA, Checksum("md5", HEX["md5"])),
    (entry(checksum=""), None, None),
    (entry(checksum=None), None, None),
]


@pytest.mark.parametrize(("item", "sha256", "checksum"), ACCEPTED)
def test_checksums_accepted(
    tmp_path: Path, item: dict[str, Any], sha256: str | None, checksum: Checksum | None
) -> None:
    manifest = decode(tmp_path, item)
    (spec,) = manifest.entries
    assert (spec.sha256, spec.checksum) == (sha256, checksum)
    assert manifest.warnings == []


def test_a_checksum_reads_as_it_is_written() -> None:
    for algorithm in ALGORITHMS:
        text = f"{algorithm}:{HEX[algorithm]}"
        assert str(parse_checksum(text)) == text


# Refused ----------------------------------------------------------------------------------

C0 = "datasets[0].checksum: "
REFUSED = [
    # (entry, message after "ORIGIN: ")
    (entry(checksum=HEX["md5"]), C0 + f"{HEX['md5']!r} names no algorithm: write it as "),
    (entry(checksum="crc32:414fa339"), C0 + "'crc32' is not an algorithm evio-fetch checks"),
    (entry(checksum=f"sha-256:{SHA}"), C0 + "'sha-256' is not an algorithm evio-fetch checks"),
    (entry(checksum=f":{SHA}"), C0 + "'' is not an algorithm evio-fetch checks"),
    (entry(checksum="md5:xyz"), C0 + "MD5 takes 32 hexadecimal digits, not 'xyz'"),
    (entry(checksum="md5:" + "g" * 32), C0 + f"MD5 takes 32 hexadecimal digits, not '{'g' * 32}'"),
    (entry(checksum="md5:"), C0 + "MD5 takes 32 hexadecimal digits, not ''"),
    (
        entry(checksum=f"md5:{HEX['md5']}0"),
        C0 + f"MD5 takes 32 hexadecimal digits, not '{HEX['md5']}0'",
    ),
    (entry(checksum=f"sha1:{SHA}"), C0 + f"SHA1 takes 40 hexadecimal digits, not '{SHA}'"),
    (entry(checksum=f"sha512:{SHA}"), C0 + f"SHA512 takes 128 hexadecimal digits, not '{SHA}'"),
    # BLAKE2b-256 (what PyPI shows) is another hash, not a short BLAKE2b
    (entry(checksum=f"blake2b:{SHA}"), C0 + f"BLAKE2b takes 128 hexadecimal digits, not '{SHA}'"),
    (entry(checksum=5), C0 + "expected a string, got a whole number"),
    (entry(checksum=["md5", HEX["md5"]]), C0 + "expected a string, got a list"),
    (
        entry(checksum=f"sha256:{'0' * 64}", sha256=SHA),
        C0 + f"sha256:{'0' * 64} differs from the entry's sha256 {SHA}",
    ),
]


@pytest.mark.parametrize(("item", "message"), REFUSED)
def test_checksums_refused(tmp_path: Path, item: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        decode(tmp_path, item)
    assert caught.value.message.startswith(f"{ORIGIN}: {message}")
    assert caught.value.exit_status == 2


@pytest.mark.parametrize("value", ["md5", "crc32:00", "md5:xyz", 5])
def test_a_bad_checksum_is_answered_with_the_algorithms(tmp_path: Path, value: object) -> None:
    with pytest.raises(ManifestError) as caught:
        decode(tmp_path, entry(checksum=value))
    assert "sha256, sha512, sha1, md5, blake2b" in caught.value.hint


def test_disagreeing_sha256s_say_how_to_fix_them(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        decode(tmp_path, entry(checksum=f"sha256:{'0' * 64}", sha256=SHA))
    assert "make them agree" in caught.value.hint


# Unknown fields ---------------------------------------------------------------------------

UNKNOWN = [
    # (entries, top-level fields, warnings after "ORIGIN: ")
    ([entry()], {}, []),
    ([entry(mirrors=["https://b.example/x"])], {}, []),  # read since evio-fetch fetches mirrors
    (
        [entry(), entry(path="y.dat", sha265=SHA)],
        {},
        ["datasets[1].sha265: unknown field, ignored; did you mean sha256?"],
    ),
    ([entry(SHA256=SHA)], {}, ["datasets[0].SHA256: unknown field, ignored; did you mean sha256?"]),
    (
        [entry(checksun="x")],
        {},
        ["datasets[0].checksun: unknown field, ignored; did you mean checksum?"],
    ),
    ([entry(urls=["x"])], {}, ["datasets[0].urls: unknown field, ignored; did you mean url?"]),
    # nothing close: no guess
    ([entry(homepage="https://b.example/")], {}, ["datasets[0].homepage: unknown field, ignored"]),
    ([entry(md5=HEX["md5"])], {}, ["datasets[0].md5: unknown field, ignored"]),
    # one line per field, naming its first entry, however many entries repeat it
    (
        [entry(path=f"{n}.dat", **({"homepage": ""} if n else {}), md5="") for n in range(4)],
        {},
        [
            "datasets[0].md5: unknown field, ignored (also in 3 other entries)",
            "datasets[1].homepage: unknown field, ignored (also in 2 other entries)",
        ],
    ),
    (
        [entry(), entry(path="y.dat", comment=1)],
        {"licence": "CC-BY", "sourse": "x"},
        [
            "licence: unknown field, ignored",
            "sourse: unknown field, ignored; did you mean source?",
            "datasets[1].comment: unknown field, ignored",
        ],
    ),
    # a name from the file never garbles the line it is shown in
    ([entry(**{"a\x1b[2Jb": 1})], {}, ["datasets[0].'a\\x1b[2Jb': unknown field, ignored"]),
    ([entry(**{"": 1})], {}, ["datasets[0].'': unknown field, ignored"]),
]


@pytest.mark.parametrize(("entries", "top", "warnings"), UNKNOWN)
def test_unknown_fields_are_named(
    tmp_path: Path, entries: list[dict[str, Any]], top: dict[str, Any], warnings: list[str]
) -> None:
    manifest = decode(tmp_path, *entries, **top)
    assert manifest.warnings == [f"{ORIGIN}: {line}" for line in warnings]
    assert len(manifest.entries) == len(entries)


def test_an_unknown_field_changes_nothing_else(tmp_path: Path) -> None:
    plain = decode(tmp_path, entry(size=5, sha256=SHA))
    typo = decode(tmp_path, entry(size=5, sha256=SHA, sha265="0" * 64))
    assert typo.entries == plain.entries


def test_thousands_of_unknown_fields_make_a_bounded_warning(tmp_path: Path) -> None:
    manifest = decode(tmp_path, entry(**{f"field{n}": n for n in range(5000)}))
    assert len(manifest.warnings) == MAX_LINES
    assert (
        manifest.warnings[-1]
        == f"{ORIGIN}: and {5000 - MAX_LINES + 1} more unknown fields, ignored"
    )
