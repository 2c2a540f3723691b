"""Checksums other than SHA256 (``"md5:…"``) and unknown manifest fields, through the command
as a user runs it against the loopback server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from support import leftovers, run_cli

from evio_fetch.engine.loopback.dataset import DataFile
from evio_fetch.engine.loopback.server import ServerThread

Dataset = tuple[Path, list[DataFile]]


def digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def manifest_of(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"version": "1.0", "datasets": entries}))
    return path


def checked_entry(
    served: Path, f: DataFile, server: ServerThread, algorithm: str, **extra: Any
) -> dict[str, Any]:
    """An entry for ``f`` whose only hash is its ``algorithm`` checksum."""
    checksum = f"{algorithm}:{digest(served / f.path, algorithm)}"
    return {"url": server.url_for(f.path), "path": f"data/{f.path}", "checksum": checksum, **extra}


def test_md5_entries_land_and_are_reported(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    entries = [checked_entry(served, f, server, "md5", size=f.size) for f in files]
    manifest = manifest_of(tmp_path / "m.json", entries)
    result = run_cli("--manifest", str(manifest), "--json", "--segments", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["checksum"] for f in report["files"]] == [e["checksum"] for e in entries]
    # the report's SHA256 still names the bytes, though the manifest gave none
    assert [f["sha256"] for f in report["files"]] == [f.sha256 for f in files]
    for f in files:
        assert (tmp_path / "data" / f.path).read_bytes() == (served / f.path).read_bytes()
    assert leftovers(tmp_path) == []


def test_a_wrong_md5_fails_and_leaves_nothing(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    f = files[3]  # several segments
    wrong = "0" * 32
    entry = checked_entry(served, f, server, "md5", checksum=f"md5:{wrong}")
    manifest = manifest_of(tmp_path / "m.json", [entry])
    result = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
    assert result.returncode == 2, result.stderr  # its only file failed
    (reported,) = json.loads(result.stdout)["files"]
    error = reported["error"]
    assert error["code"] == "checksum_mismatch"
    got = digest(served / f.path, "md5")
    assert error["message"] == f"data/{f.path}: MD5 mismatch: got {got}, expected {wrong}"
    assert reported["checksum"] is None and reported["path"] is None
    assert not (tmp_path / "data" / f.path).exists()
    assert leftovers(tmp_path) == []
    assert "MD5 mismatch" in result.stderr


def test_sha512_sha1_and_blake2b_entries_land(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    picked = list(zip(files[2:], ["sha512", "blake2b", "sha1"], strict=True))
    entries = [checked_entry(served, f, server, algorithm) for f, algorithm in picked]
    manifest = manifest_of(tmp_path / "m.json", entries)
    result = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["checksum"] for f in report["files"]] == [e["checksum"] for e in entries]
    for f, _ in picked:
        assert (tmp_path / "data" / f.path).read_bytes() == (served / f.path).read_bytes()


def test_a_wrong_blake2b_beside_a_right_sha256_fails(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    """With both fields, both must hold: the right SHA256 does not excuse the other."""
    served, files = dataset
    f = files[2]
    entry = checked_entry(served, f, server, "blake2b", sha256=f.sha256)
    entry["checksum"] = f"blake2b:{'f' * 128}"
    result = run_cli("--manifest", str(manifest_of(tmp_path / "m.json", [entry])), cwd=tmp_path)
    assert result.returncode == 2
    assert "BLAKE2b mismatch" in result.stderr
    assert not (tmp_path / "data" / f.path).exists()


def test_verify_refetches_a_present_file_whose_md5_differs(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    f = files[2]
    target = tmp_path / "data" / f.path
    target.parent.mkdir(parents=True)
    damaged = bytearray((served / f.path).read_bytes())
    damaged[1000] ^= 0xFF  # the size is right; the bytes are not
    target.write_bytes(damaged)
    entry = checked_entry(served, f, server, "md5", size=f.size)
    manifest = manifest_of(tmp_path / "m.json", [entry])
    # Without --verify the right size is enough to take it as present.
    plain = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
    assert plain.returncode == 0
    assert json.loads(plain.stdout)["files"][0]["outcome"] == "present"
    assert server.stats.requests == 0
    verified = run_cli("--manifest", str(manifest), "--json", "--verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["files"][0]["outcome"] == "downloaded"
    assert target.read_bytes() == (served / f.path).read_bytes()


def test_dry_run_with_verify_names_the_differing_checksum(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    f = files[1]
    target = tmp_path / "data" / f.path
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\0")  # one byte, as served, but not the same one
    entry = checked_entry(served, f, server, "sha1", size=f.size)
    manifest = manifest_of(tmp_path / "m.json", [entry])
    result = run_cli("--manifest", str(manifest), "--dry-run", "--verify", cwd=tmp_path)
    assert result.returncode == 0
    assert "present but its SHA1 differs" in result.stdout + result.stderr


def test_an_unknown_field_is_warned_about_and_the_run_goes_on(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    f = files[2]
    entry = {"url": server.url_for(f.path), "path": f"data/{f.path}", "sha265": f.sha256}
    manifest = manifest_of(tmp_path / "m.json", [entry])
    result = run_cli("--manifest", str(manifest), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warning = (
        f"warning: {manifest}: datasets[0].sha265: unknown field, ignored; did you mean sha256?"
    )
    assert warning in result.stderr.splitlines()
    assert (tmp_path / "data" / f.path).read_bytes() == (served / f.path).read_bytes()


def test_a_malformed_checksum_refuses_the_manifest(
    dataset: Dataset, server: ServerThread, tmp_path: Path
) -> None:
    served, files = dataset
    entries = [checked_entry(served, f, server, "md5") for f in files[:3]]
    entries[2]["checksum"] = "crc32:414fa339"
    result = run_cli("--manifest", str(manifest_of(tmp_path / "m.json", entries)), cwd=tmp_path)
    assert result.returncode == 2
    assert "datasets[2].checksum: 'crc32' is not an algorithm" in result.stderr
    assert "sha256, sha512, sha1, md5, blake2b" in result.stderr
    assert server.stats.requests == 0
    assert not (tmp_path / "data").exists()
