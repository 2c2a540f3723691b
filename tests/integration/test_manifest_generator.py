"""`evio-fetch manifest`: a Drive folder listed through the emulator's embedded folder view,
written as a manifest, then downloaded with it: a round trip."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from support import MIB, run_cli

from evio_fetch.engine.loopback.drive_emulator import DriveEmulatorThread
from evio_fetch.engine.loopback.server import ServerConfig, ServerThread

FOLDER = "18ORzE9_aHABYqOHzVdL0GANk_eIMaSuE"


def payload(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def test_folder_listing_to_manifest_to_download(tmp_path: Path) -> None:
    files = {
        "1FanDatxxxxxxxxxxxxxxxxxxxxxxxxxxxx": ("fan_const_rpm.dat", 5 * MIB),
        "1FanRawxxxxxxxxxxxxxxxxxxxxxxxxxxxx": ("fan_const_rpm.raw", 700_000),
        "1DroneDatxxxxxxxxxxxxxxxxxxxxxxxxxx": ("drone_idle.dat", 3 * MIB),
    }
    with DriveEmulatorThread() as drive:
        for file_id, (name, size) in files.items():
            drive.add(file_id, payload(name, size), name, large=size > MIB)
        drive.add_folder("1FanFolderxxxxxxxxxxxxxxxxxxxxxxxxx", "fan", list(files)[:2])
        drive.add_folder("1DroneFolderxxxxxxxxxxxxxxxxxxxxxxx", "drone", list(files)[2:])
        drive.emulator.add_document("1NotesDocxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "README")
        drive.add_folder(
            FOLDER,
            "evio",
            [
                "1FanFolderxxxxxxxxxxxxxxxxxxxxxxxxx",
                "1DroneFolderxxxxxxxxxxxxxxxxxxxxxxx",
                "1NotesDocxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ],
        )
        env = {"EVIO_FETCH_DRIVE_URL": drive.base_url}
        link = f"https://drive.google.com/drive/folders/{FOLDER}?usp=sharing"
        made = run_cli(
            "manifest", link, "--prefix", "evio/data", "-o", "m.json", cwd=tmp_path, env=env
        )
        assert made.returncode == 0, made.stderr
        assert "README" in made.stderr  # the Google Doc is named as left out
        document = json.loads((tmp_path / "m.json").read_text())
        by_path = {e["path"]: e for e in document["datasets"]}
        assert set(by_path) == {
            "evio/data/fan/fan_const_rpm.dat",
            "evio/data/fan/fan_const_rpm.raw",
            "evio/data/drone/drone_idle.dat",
        }
        assert by_path["evio/data/fan/fan_const_rpm.dat"]["size"] == 5 * MIB
        fetched = run_cli("--manifest", "m.json", cwd=tmp_path, env=env)
        assert fetched.returncode == 0, fetched.stderr
    for name, size in files.values():
        landed = next(tmp_path.glob(f"evio/data/*/{name}"))
        assert landed.read_bytes() == payload(name, size)
    gone = run_cli("manifest", link, cwd=tmp_path, env=env)
    assert gone.returncode == 1 and "cannot connect" in gone.stderr  # one line, no traceback
    assert "Traceback" not in gone.stderr


def test_urls_to_manifest_with_hashes(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "a.bin").write_bytes(payload("a", 3 * MIB))
    with ServerThread(served, ServerConfig()) as server:
        made = run_cli("manifest", server.url_for("a.bin"), "--prefix", "data", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        (entry,) = json.loads(made.stdout)["datasets"]
        assert entry == {
            "path": "data/a.bin",
            "url": server.url_for("a.bin"),
            "name": "a.bin",
            "size": 3 * MIB,
        }
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "a.bin").write_bytes(payload("a", 3 * MIB))
        hashed = run_cli(
            "manifest", server.url_for("a.bin"), "--prefix", "data", "--hash", cwd=tmp_path
        )
    (entry,) = json.loads(hashed.stdout)["datasets"]
    assert entry["sha256"] == hashlib.sha256(payload("a", 3 * MIB)).hexdigest()


def test_hash_leaves_out_a_local_file_of_another_size(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    for name in ("a.bin", "b.bin"):
        (served / name).write_bytes(payload(name, 2 * MIB))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.bin").write_bytes(payload("a.bin", 2 * MIB))
    (tmp_path / "data" / "b.bin").write_bytes(payload("b.bin", 2 * MIB)[: MIB + 3])  # cut short
    with ServerThread(served, ServerConfig()) as server:
        urls = [server.url_for("a.bin"), server.url_for("b.bin")]
        hashed = run_cli(
            "manifest", *urls, "--prefix", "data", "--hash", "-o", "m.json", cwd=tmp_path
        )
        assert hashed.returncode == 0, hashed.stderr
        (warning,) = [line for line in hashed.stderr.splitlines() if "warning" in line]
        assert f"data/b.bin is {MIB + 3} bytes here but {2 * MIB} bytes on the server" in warning
        assert "sha256 is left out" in warning
        whole, cut = json.loads((tmp_path / "m.json").read_text())["datasets"]
        assert whole["sha256"] == hashlib.sha256(payload("a.bin", 2 * MIB)).hexdigest()
        assert "sha256" not in cut and cut["size"] == 2 * MIB
        # What the warning says to do: the manifest fetches the file, and --hash then fills it in.
        fetched = run_cli("--manifest", "m.json", cwd=tmp_path)
        assert fetched.returncode == 0, fetched.stderr
        again = run_cli("manifest", *urls, "--prefix", "data", "--hash", cwd=tmp_path)
    assert "warning" not in again.stderr
    sums = [entry["sha256"] for entry in json.loads(again.stdout)["datasets"]]
    assert sums == [hashlib.sha256(payload(n, 2 * MIB)).hexdigest() for n in ("a.bin", "b.bin")]
