"""The HTTP servers a benchmark downloads from, all on 127.0.0.1: nginx with its own config in
a temporary directory, or the project's loopback server when nginx is not installed. Both
offer an unthrottled port and one capped per connection the way Google Drive caps it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

CAP = "20m"  # nginx and the loopback server both read this as 20 MiB/s
CAP_BYTES = 20 * 1024 * 1024
READY_WITHIN = 15.0

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    # The many-file scenarios reuse a handful of connections for a thousand requests; the
    # default (1000) would close them mid-run and charge the clients for reconnecting.
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{ listen 127.0.0.1:{plain}; root {root}; }}
    server {{ listen 127.0.0.1:{capped}; root {root}; limit_rate {cap}; }}
}}
"""


@dataclass(frozen=True)
class Servers:
    kind: str  # "nginx" or "loopback"
    plain: str  # base URL, no trailing slash
    capped: str
    version: str


def nginx_path() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {READY_WITHIN} s")


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], how: int) -> None:
    """Stop one process we started, by its PID; kill it if it ignores ``how``."""
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def nginx(root: Path, binary: str) -> Iterator[Servers]:
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        plain, capped = free_port(), free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, plain=plain, capped=capped, root=root, cap=CAP))
        # daemon off keeps the master our child, so we stop it by the PID we hold.
        command = [binary, "-p", tmp, "-e", f"{tmp}/error.log", "-c", str(conf)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        try:
            wait_listening(plain, process, "nginx")
            wait_listening(capped, process, "nginx")
            base = "http://127.0.0.1"
            yield Servers("nginx", f"{base}:{plain}", f"{base}:{capped}", nginx_version(binary))
        finally:
            stop(process, signal.SIGQUIT)  # graceful: workers finish, then exit


def nginx_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: nginx/")


@contextmanager
def loopback_server(root: Path, rate: str | None) -> Iterator[str]:
    command = [sys.executable, "-m", "evio_fetch.engine.loopback.server", "--root", str(root)]
    command += ["--rate", rate.upper()] if rate else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()  # "READY http://127.0.0.1:PORT"
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        yield line[1].rstrip("/")
    finally:
        stop(process, signal.SIGTERM)


@contextmanager
def loopback(root: Path) -> Iterator[Servers]:
    with ExitStack() as stack:
        plain = stack.enter_context(loopback_server(root, None))
        capped = stack.enter_context(loopback_server(root, CAP))
        yield Servers("loopback", plain, capped, "evio_fetch.engine.loopback.server")


@contextmanager
def serve(root: Path, choice: str) -> Iterator[Servers]:
    """``choice``: "nginx", "loopback" or "auto" (nginx when installed)."""
    binary = nginx_path()
    if choice == "nginx" and binary is None:
        raise SystemExit("nginx is not installed; use --server loopback")
    if choice != "loopback" and binary is not None:
        with nginx(root, binary) as servers:
            yield servers
    else:
        with loopback(root) as servers:
            yield servers
