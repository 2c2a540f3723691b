"""The manifest is taken whole or refused whole, with one message naming entry and field."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.errors import ManifestError
from evio_fetch.engine.manifest import Manifest, decode_manifest, load_manifest
from evio_fetch.engine.model import FileSpec

ORIGIN = "docs/data/datasets.json"
FILE_ID = "1vB1cOZlO4MQ7c503-UU109mMbClsf5Lq"
OTHER_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"
DOC_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcde"
SHA = "a3f5" + "0" * 60
KEY = "0-Ye4stR8bq1ZXhTnM3Wc2ug"
FOLDER_URL = f"https://drive.google.com/drive/folders/{FILE_ID}"
DOC_URL = f"https://docs.google.com/document/d/{DOC_ID}/edit"
OTHER_URL = f"https://drive.google.com/open?id={OTHER_ID}"
P0 = "datasets[0].path: "


def entry(path: Any = "evio/x.dat", **fields: Any) -> dict[str, Any]:
    fields.setdefault("id", FILE_ID)
    return {"path": path, **fields}


def document(*entries: Any, **top: Any) -> bytes:
    return json.dumps({"version": "1.0", "datasets": list(entries), **top}).encode()


def decode(data: bytes, root: Path) -> Manifest:
    return decode_manifest(data, root, ORIGIN)


# Accepted ---------------------------------------------------------------------------------


def test_the_spec_example(tmp_path: Path) -> None:
    data = document(
        {
            "id": FILE_ID,
            "name": "fan_const_rpm.dat",
            "path": "evio/data/fan/fan_const_rpm.dat",
            "size": 212336640,
            "sha256": SHA,
        },
        source="https://drive.google.com/drive/folders/abc",
        generated="2025-11-15",
    )
    manifest = decode(data, tmp_path)
    assert manifest == Manifest(
        origin=ORIGIN,
        root=str(tmp_path.resolve()),
        entries=[
            FileSpec(
                index=0,
                label="evio/data/fan/fan_const_rpm.dat",
                drive_id=FILE_ID,
                target=str(tmp_path.resolve() / "evio/data/fan/fan_const_rpm.dat"),
                output_dir=str(tmp_path.resolve()),
                size=212336640,
                sha256=SHA,
            )
        ],
        version="1.0",
        source="https://drive.google.com/drive/folders/abc",
        generated="2025-11-15",
    )


ONE_ENTRY = [
    # (entry, expected FileSpec fields other than index/label/target)
    (entry(), {"drive_id": FILE_ID}),
    (entry(size=0, sha256=""), {"drive_id": FILE_ID}),
    (entry(size=None, sha256=None), {"drive_id": FILE_ID}),
    (entry(size=5, sha256=SHA.upper()), {"drive_id": FILE_ID, "size": 5, "sha256": SHA}),
    (entry(id=None, url="https://example.org/x.dat"), {"url": "https://example.org/x.dat"}),
    (entry(id="", url="https://example.org/x.dat"), {"url": "https://example.org/x.dat"}),
    # url wins for fetching; the id is kept beside it
    (
        entry(url="https://example.org/x.dat"),
        {"url": "https://example.org/x.dat", "drive_id": FILE_ID},
    ),
    (entry(url=""), {"drive_id": FILE_ID}),
    # a Drive share link in url is fetched the Drive way, its resource key kept
    (
        entry(id=None, url=f"https://drive.google.com/file/d/{FILE_ID}/view?resourcekey={KEY}"),
        {"drive_id": FILE_ID, "resource_key": KEY},
    ),
    (entry(url=f"https://drive.google.com/uc?id={FILE_ID}&export=download"), {"drive_id": FILE_ID}),
    # unknown fields are ignored, whatever their type
    (entry(name=None, comment=[1, {"a": 2}], mtime=3.5), {"drive_id": FILE_ID}),
]


@pytest.mark.parametrize(("item", "fields"), ONE_ENTRY)
def test_one_entry(tmp_path: Path, item: dict[str, Any], fields: dict[str, Any]) -> None:
    (spec,) = decode(document(item), tmp_path).entries
    root = str(tmp_path.resolve())
    target = str(tmp_path.resolve() / "evio/x.dat")
    root = str(tmp_path.resolve())
    assert spec == FileSpec(index=0, label="evio/x.dat", target=target, output_dir=root, **fields)


@pytest.mark.parametrize(
    ("version", "expected"), [("1.0", "1.0"), (1, "1"), (1.0, "1.0"), (None, None)]
)
def test_version_string_or_number(tmp_path: Path, version: Any, expected: str | None) -> None:
    assert decode(document(entry(), version=version), tmp_path).version == expected


def test_version_source_and_generated_are_optional(tmp_path: Path) -> None:
    manifest = decode(json.dumps({"datasets": [entry()], "x": 1}).encode(), tmp_path)
    assert (manifest.version, manifest.source, manifest.generated) == (None, None, None)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("./evio//x.dat", "evio/x.dat"),
        ("evio/./x.dat", "evio/x.dat"),
        ("inside/../x.dat", "x.dat"),
        ("a b/ü €.dat", "a b/ü €.dat"),
        (".hidden", ".hidden"),
        ("x..y", "x..y"),
        ("...", "..."),
    ],
)
def test_paths_are_normalised_and_labelled_as_written(
    tmp_path: Path, path: str, target: str
) -> None:
    (spec,) = decode(document(entry(path)), tmp_path).entries
    assert spec.label == path
    assert spec.target == str(tmp_path.resolve() / target)


def test_entries_keep_their_positions(tmp_path: Path) -> None:
    data = document(*(entry(f"d/{n}.dat") for n in range(5)))
    specs = decode(data, tmp_path).entries
    assert [(spec.index, spec.label) for spec in specs] == [(n, f"d/{n}.dat") for n in range(5)]


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    assert len(decode(b"\xef\xbb\xbf" + document(entry()), tmp_path).entries) == 1


def test_relative_root_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = decode(document(entry()), Path("."))
    assert manifest.root == str(tmp_path.resolve())
    assert manifest.entries[0].target == str(tmp_path.resolve() / "evio/x.dat")


def test_symlinks_inside_the_root_are_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    (spec,) = decode(document(entry("link/x.dat")), tmp_path).entries
    assert spec.target == str(tmp_path.resolve() / "real/x.dat")


def test_load_manifest_reads_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "datasets.json"
    path.write_bytes(document(entry(), entry("evio/y.dat", id=OTHER_ID)))
    manifest = load_manifest(path, tmp_path)
    assert manifest.origin == str(path)
    assert [spec.drive_id for spec in manifest.entries] == [FILE_ID, OTHER_ID]


# Refused ----------------------------------------------------------------------------------

REFUSED = [
    # (document, message after "ORIGIN: ")
    (b"", "the file is empty"),
    (b" \n", "the file is empty"),
    (b"{", "not valid JSON: it ends inside a value"),
    (b'{\n  "datasets": [1,]\n}', "not valid JSON: trailing comma in array near line 2, column 18"),
    (b'{"datasets": []} x', "not valid JSON: trailing characters near line 1, column 19"),
    (b'{\n "a": "\xc3\xa9", "b": tru}', "not valid JSON: invalid character near line 2, column 21"),
    (b'{"path": "\xff"}', "not UTF-8 text (byte 0xff at line 1, column 11)"),
    (b"[]", "expected an object, got a list"),
    (b'"datasets"', "expected an object, got a string"),
    (b"{}", "datasets: missing"),
    (b'{"datasets": null}', "datasets: missing"),
    (document(), "datasets: empty: there is nothing to fetch"),
    (b'{"datasets": {}}', "datasets: expected a list, got an object"),
    (document(entry(), 3), "datasets[1]: expected an object, got a whole number"),
    (document(entry(), version=True), "version: expected a number or a string, got true or false"),
    (document(entry(), source=1), "source: expected a string, got a whole number"),
    (document(entry(), generated=[]), "generated: expected a string, got a list"),
    (document(entry(size="12")), "datasets[0].size: expected a whole number, got a string"),
    (document(entry(size=1.5)), "datasets[0].size: expected a whole number, got a decimal number"),
    (document(entry(size=-1)), "datasets[0].size: -1 is negative"),
    (document(entry(size=2**63)), f"datasets[0].size: {2**63} is larger than any file can be"),
    (document(entry(sha256=5)), "datasets[0].sha256: expected a string, got a whole number"),
    (document(entry(sha256="abc")), "datasets[0].sha256: 'abc' is not 64 hexadecimal digits"),
    (
        document(entry(sha256="g" * 64)),
        f"datasets[0].sha256: '{'g' * 64}' is not 64 hexadecimal digits",
    ),
    (
        document(entry(sha256=SHA + "0")),
        f"datasets[0].sha256: '{SHA}0' is not 64 hexadecimal digits",
    ),
    (document(entry(id=None)), "datasets[0]: has neither id nor url"),
    (document(entry(id="", url="")), "datasets[0]: has neither id nor url"),
    (document(entry(id=12)), "datasets[0].id: expected a string, got a whole number"),
    (document(entry(id="short")), "datasets[0].id: 'short' is not a Google Drive file ID"),
    (
        document(entry(id=FILE_ID + "/x")),
        f"datasets[0].id: '{FILE_ID}/x' is not a Google Drive file ID",
    ),
    (document(entry(url="ftp://h/x")), "datasets[0].url: 'ftp://h/x' is not an http(s) URL"),
    (document(entry(url="h.org/x")), "datasets[0].url: 'h.org/x' is not an http(s) URL"),
    (document(entry(url="https:///x")), "datasets[0].url: 'https:///x' is not an http(s) URL"),
    (
        document(entry(url="https://[::1/x")),
        "datasets[0].url: 'https://[::1/x' is not a valid URL: its host or port cannot be read",
    ),
    (
        document(entry(url="https://h/a b")),
        "datasets[0].url: 'https://h/a b' contains spaces or control characters",
    ),
    (
        document(entry(url=FOLDER_URL)),
        f"datasets[0].url: {FOLDER_URL} is a Google Drive folder, not a file",
    ),
    (
        document(entry(url=DOC_URL)),
        f"datasets[0].url: {DOC_URL} is a Google Docs document, not a file",
    ),
    (
        document(entry(url=OTHER_URL)),
        f"datasets[0].url: names Drive file {OTHER_ID}, but id is {FILE_ID}",
    ),
    (document(entry(None)), P0 + "missing"),
    (document(entry("")), P0 + "empty"),
    (document(entry(["a"])), P0 + "expected a string, got a list"),
    (document(entry("/etc/passwd")), P0 + "/etc/passwd is absolute; give it relative to the root"),
    (document(entry("../x.dat")), P0 + "../x.dat leaves the root through .."),
    (document(entry("a/../../x.dat")), P0 + "a/../../x.dat leaves the root through .."),
    (document(entry("a\\b.dat")), P0 + "a\\b.dat contains a backslash; use / between directories"),
    (
        document(entry("..\\x.dat")),
        P0 + "..\\x.dat contains a backslash; use / between directories",
    ),
    (document(entry("a\x00b")), P0 + "'a\\x00b' contains the control character U+0000"),
    (document(entry("a\nb")), P0 + "'a\\nb' contains the control character U+000A"),
    (document(entry("a\x7f")), P0 + "'a\\x7f' contains the control character U+007F"),
    (document(entry("evio/")), P0 + "evio/ names a directory, not a file"),
    (document(entry(".")), P0 + ". names a directory, not a file"),
    (document(entry("./")), P0 + "./ names a directory, not a file"),
    (document(entry("a/..")), P0 + "a/.. names a directory, not a file"),
    (document(entry("a/.")), P0 + "a/. names a directory, not a file"),
    (
        document(entry(f"d/{'x' * 232}")),
        P0 + f"d/{'x' * 232}: the name {'x' * 40}… is longer than 231 bytes",
    ),
    (
        document(entry(f"{'y' * 256}/x")),
        P0 + f"{'y' * 256}/x: the name {'y' * 40}… is longer than 255 bytes",
    ),
    (
        document(entry(), entry("evio/y.dat"), entry("evio/x.dat")),
        "datasets[2].path: two entries share the target path evio/x.dat (also datasets[0])",
    ),
    (
        document(entry("evio/x.dat"), entry("./evio//x.dat")),
        "datasets[1].path: two entries share the target path evio/x.dat (also datasets[0])",
    ),
    (
        document(entry("evio/x.dat"), entry("evio/sub/../x.dat")),
        "datasets[1].path: two entries share the target path evio/x.dat (also datasets[0])",
    ),
    (
        document(entry("evio"), entry("evio/y.dat")),
        "datasets[1].path: evio/y.dat needs a directory evio, a file in datasets[0]",
    ),
    (
        document(entry("evio/a/y.dat"), entry("evio/a")),
        "datasets[1].path: evio/a is a file here but a directory in datasets[0]",
    ),
    # the first problem in document order decides
    (document(entry(size=-1), entry(sha256="x")), "datasets[0].size: -1 is negative"),
]


@pytest.mark.parametrize(("data", "message"), REFUSED)
def test_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        decode(data, tmp_path)
    assert caught.value.message == f"{ORIGIN}: {message}"
    assert caught.value.exit_status == 2


HINTS = [
    # (document, a fragment of the hint)
    (b"", "JSON object"),
    (b"[]", "JSON object"),
    (b"{", "json.tool"),
    (b'{"path": "\xff"}', "UTF-8"),
    (b"{}", "list the files under datasets"),
    (document(entry(), 3), "each entry is an object"),
    (document(entry(id=None)), "each entry is an object with a path and an id or url"),
    (document(entry(), version=True), 'give version as a string, e.g. "1.0"'),
    (document(entry(size=-1)), "size in bytes as a whole number, or 0"),
    (document(entry(sha256="abc")), 'SHA256 as 64 hexadecimal digits, or ""'),
    (document(entry(id="short")), "Drive file ID from its share link"),
    (document(entry(url="ftp://h/x")), "give an http(s) URL"),
    (document(entry(url=FOLDER_URL)), f"evio-fetch manifest {FOLDER_URL}"),
    (
        document(entry(url=DOC_URL)),
        f"https://docs.google.com/document/d/{DOC_ID}/export?format=docx",
    ),
    (document(entry(url=OTHER_URL)), "make them agree"),
    (document(entry("/x")), "relative path under --root"),
    (document(entry(), entry()), "give each entry its own path"),
]


@pytest.mark.parametrize(("data", "hint"), HINTS)
def test_refusals_say_how_to_fix_them(tmp_path: Path, data: bytes, hint: str) -> None:
    with pytest.raises(ManifestError) as caught:
        decode(data, tmp_path)
    assert hint in caught.value.hint


def test_the_target_escaping_through_a_symlink_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "evio").symlink_to(outside)
    with pytest.raises(ManifestError) as caught:
        decode(document(entry("evio/x.dat")), root)
    assert caught.value.message == (
        f"{ORIGIN}: datasets[0].path: evio/x.dat resolves through a symlink to "
        f"{outside.resolve()}/x.dat, outside the root {root.resolve()}"
    )
    assert "remove the symlink" in caught.value.hint


def test_a_dangling_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.dat").symlink_to("/nonexistent/elsewhere.dat")
    with pytest.raises(
        ManifestError, match=r"datasets\[0\]\.path: x\.dat resolves through a symlink"
    ):
        decode(document(entry("x.dat")), tmp_path)


def test_a_symlinked_parent_with_dotdot_is_followed_as_the_os_would(tmp_path: Path) -> None:
    # root/a -> root/deep/er, so root/a/../x.dat is root/deep/x.dat, not root/x.dat
    (tmp_path / "deep/er").mkdir(parents=True)
    (tmp_path / "a").symlink_to(tmp_path / "deep/er")
    (spec,) = decode(document(entry("a/../x.dat")), tmp_path).entries
    assert spec.target == str(tmp_path.resolve() / "deep/x.dat")


def test_two_paths_meeting_through_a_symlink_are_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    with pytest.raises(ManifestError) as caught:
        decode(document(entry("real/x.dat"), entry("alias/x.dat")), tmp_path)
    assert caught.value.message == (
        f"{ORIGIN}: datasets[1].path: two entries share the target path real/x.dat "
        "(also datasets[0])"
    )


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(ManifestError, match=r"datasets\[0\]\.path: loop/x\.dat cannot be resolved"):
        decode(document(entry("loop/x.dat")), tmp_path)


def test_a_path_naming_the_root_through_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "self").symlink_to(".")
    with pytest.raises(ManifestError, match=r"self names the root itself"):
        decode(document(entry("self")), tmp_path)


def test_load_manifest_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "datasets.json"
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, tmp_path)
    assert caught.value.message == f"{path}: cannot read the manifest (No such file or directory)"
    assert "--manifest PATH" in caught.value.hint


def test_load_manifest_names_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path, tmp_path)
    assert caught.value.message == f"{tmp_path}: cannot read the manifest (Is a directory)"


def test_load_manifest_names_a_file_that_cannot_be_opened(tmp_path: Path) -> None:
    # A Unix socket: no user can open it as a file, root included (CI runs as root).
    path = tmp_path / "datasets.json"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        with pytest.raises(ManifestError) as caught:
            load_manifest(path, tmp_path)
    assert caught.value.message == (f"{path}: cannot read the manifest (No such device or address)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file, whatever its mode")
def test_load_manifest_names_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "datasets.json"
    path.write_bytes(document(entry()))
    path.chmod(0)
    with pytest.raises(ManifestError, match=r"cannot read the manifest \(Permission denied\)"):
        load_manifest(path, tmp_path)


def test_load_manifest_prefixes_messages_with_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(document(entry(size=-3)))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, tmp_path)
    assert caught.value.message == f"{path}: datasets[0].size: -3 is negative"


# Properties -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("manifest")
    inside = base / "root"
    (inside / "real").mkdir(parents=True)
    (base / "outside").mkdir()
    (inside / "in").symlink_to("real")
    (inside / "out").symlink_to(base / "outside")
    (inside / "up").symlink_to("..")
    yield inside


PATH_TEXT = st.lists(
    st.sampled_from(["a", "in", "out", "up", "real", ".", "..", "", "x.dat", "\\", "\x00", " "])
    | st.text(max_size=5),
    max_size=6,
).map("/".join)


@given(PATH_TEXT)
def test_any_accepted_path_lands_strictly_inside_the_root(root: Path, path: str) -> None:
    try:
        (spec,) = decode(document(entry(path)), root).entries
    except ManifestError as error:
        assert error.message.startswith(f"{ORIGIN}: datasets[0].path: ")
        return
    assert spec.target is not None
    target = Path(spec.target)
    assert target.is_absolute()
    assert target != root.resolve()
    assert target.is_relative_to(root.resolve())
    # What the OS would open is what was checked.
    assert os.path.realpath(root / path) == spec.target


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON | st.just(FILE_ID),
        "url": JSON | st.just("https://example.org/x"),
        "path": JSON | PATH_TEXT,
        "size": JSON,
        "sha256": JSON | st.just(SHA),
    },
)


@given(st.lists(FIELDS | JSON, max_size=3), JSON)
def test_any_json_is_accepted_or_refused_with_a_manifest_error(
    root: Path, datasets: list[Any], version: Any
) -> None:
    data = msgspec.json.encode({"datasets": datasets, "version": version})
    try:
        manifest = decode(data, root)
    except ManifestError as error:
        assert error.message.startswith(f"{ORIGIN}: ")
        assert error.hint
        return
    assert len(manifest.entries) == len(datasets)


@given(st.binary(max_size=64))
def test_any_bytes_are_accepted_or_refused_with_a_manifest_error(root: Path, data: bytes) -> None:
    with contextlib.suppress(ManifestError):
        decode(data, root)


NAMES = st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=12).filter(
    lambda name: name.strip(".") == name
)
SHAS = st.tuples(st.binary(min_size=32, max_size=32), st.booleans()).map(
    lambda pair: pair[0].hex().upper() if pair[1] else pair[0].hex()
)


@given(
    st.lists(
        st.lists(NAMES, min_size=1, max_size=3).map("/".join), min_size=1, max_size=6, unique=True
    ),
    st.integers(0, 2**40),
    SHAS,
)
def test_valid_entries_come_back_as_written(
    root: Path, paths: list[str], size: int, sha: str
) -> None:
    items = [entry(f"data/{path}/f", size=size, sha256=sha) for path in paths]
    try:
        specs = decode(document(*items), root).entries
    except ManifestError as error:
        # Only a file/directory clash between generated paths may refuse them.
        assert "directory" in error.message
        return
    for spec, path in zip(specs, paths, strict=True):
        assert spec.label == f"data/{path}/f"
        assert spec.size == (size or None)
        assert spec.sha256 == sha.lower()
        assert spec.drive_id == FILE_ID
