"""One large file from a server on 127.0.0.1: evio-fetch with --segments 1 and 4 against curl,
in alternating rounds, with MB/s, CPU seconds per GB and peak RSS of the whole process tree.

    python bench/single_file.py [--size-mib 1024] [--rounds 3] [--server nginx|loopback]

nginx is used when it is installed (its own config in a temporary directory); otherwise the
project's loopback server, and the results say which."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from measure import Measured, evio_fetch, run

from evio_fetch.engine.loopback.dataset import generate

MB = 1_000_000
Rows = dict[str, list[tuple[Measured, float]]]
NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def nginx(root: Path) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        port = free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root))
        subprocess.run(["nginx", "-c", str(conf), "-g", "daemon on;"], check=True)
        pid = int((Path(tmp) / "nginx.pid").read_text())
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            subprocess.run(["kill", "-QUIT", str(pid)], check=False)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)


@contextmanager
def loopback(root: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "evio_fetch.engine.loopback.server", "--root", str(root)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline().split()
    try:
        yield line[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def evio(url: str, out: Path, segments: int, sha256: str) -> list[str]:
    manifest = out.parent / f"{out.name}.json"
    manifest.write_text(
        json.dumps({"datasets": [{"url": url, "path": "big.bin", "sha256": sha256}]})
    )
    return evio_fetch(manifest, out, "--segments", str(segments))


def curl(url: str, out: Path) -> list[str]:
    return ["curl", "-sS", "-o", str(out / "big.bin"), url]


def sha256_of(path: Path) -> tuple[str, float]:
    began = time.monotonic()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest(), time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--server",
        choices=["nginx", "loopback"],
        default="nginx" if shutil.which("nginx") else "loopback",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path.cwd(),
        help="where the served file and the downloads live (e.g. /dev/shm)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.dir))
    work.chmod(0o755)  # nginx's workers run as another user
    try:
        served = work / "served"
        (data,) = generate(served, [("big.bin", args.size_mib << 20)], seed=1)
        serve = nginx if args.server == "nginx" else loopback
        with serve(served) as base:
            rows = rounds(base + "/big.bin", data.sha256, work, args.rounds)
        print(f"downloads into: {args.dir}")
        print(f"downloads into: {args.dir}")
        report(rows, data.size, args.server)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rounds(
    url: str, sha256: str, work: Path, count: int
) -> dict[str, list[tuple[Measured, float]]]:
    clients = {
        "evio-fetch --segments 1": lambda out: evio(url, out, 1, sha256),
        "evio-fetch --segments 4": lambda out: evio(url, out, 4, sha256),
        "curl": lambda out: curl(url, out),
    }
    rows: Rows = {name: [] for name in clients}
    for number in range(count):
        for name, command in clients.items():
            out = work / f"out-{number}-{len(rows[name])}-{name.split()[-1]}"
            out.mkdir()
            measured = run(command(out))
            assert measured.returncode == 0, measured.stderr
            digest, hash_seconds = sha256_of(out / "big.bin")
            assert digest == sha256, f"{name} produced a different file"
            # evio-fetch verified already; others need the hash for the same guarantee.
            rows[name].append((measured, 0.0 if name.startswith("evio") else hash_seconds))
            shutil.rmtree(out)
    return rows


def report(rows: Rows, size: int, server: str) -> None:
    print(f"server: {server}; file: {size / MB:.0f} MB; rounds: {len(next(iter(rows.values())))}")
    print(
        "| client | MB/s | s to verified file | CPU s/GB | peak RSS tree (MiB) | largest process |"
    )
    print("|---|---|---|---|---|---|")
    for name, runs in rows.items():
        wall = statistics.median(m.wall for m, _ in runs)
        verified = statistics.median(m.wall + h for m, h in runs)
        cpu = statistics.median(m.cpu for m, _ in runs) / (size / 1e9)
        tree = max(m.peak_tree_rss for m, _ in runs) / 2**20
        largest = max(m.peak_process_rss for m, _ in runs) / 2**20
        print(
            f"| {name} | {size / MB / wall:.0f} | {verified:.2f} | {cpu:.2f} | {tree:.0f} | "
            f"{largest:.0f} |"
        )


if __name__ == "__main__":
    main()
