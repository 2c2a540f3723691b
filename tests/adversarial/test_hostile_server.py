"""The fault server's hostile moves, checked byte by byte over a raw socket: what the other
adversarial tests rely on it to do. No evio-fetch here."""

from __future__ import annotations

import socket

from faults import (
    LAST_MODIFIED,
    Change,
    FaultServer,
    Unframed,
    UnknownTotal,
    Validators,
)

SIZE = 10_000


def exchange(server: FaultServer, path: str, *headers: str) -> tuple[str, dict[str, str], bytes]:
    """One GET on its own connection (closed after it): status line, headers, body."""
    host, port = server.url("/").removeprefix("http://").rstrip("/").split(":")
    lines = [f"GET {path} HTTP/1.1", "Host: test", *headers, "Connection: close"]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = bytearray()
        while data := sock.recv(65536):
            received += data
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    named = dict(field.split(": ", 1) for field in fields)
    return status, named, body


def test_change_serves_a_new_version_from_then_on(server: FaultServer) -> None:
    served = server.add("/c.bin", size=SIZE, faults=[Change(skip=1, times=1)])
    _, first, one = exchange(server, "/c.bin")
    _, second, two = exchange(server, "/c.bin")
    _, third, three = exchange(server, "/c.bin")
    assert one == served.data and two != one and three == two and len(two) == SIZE
    assert first["ETag"] != second["ETag"] == third["ETag"]
    assert first["Last-Modified"] == LAST_MODIFIED != second["Last-Modified"]
    assert server.representations("/c.bin") == [one, two]
    assert [s.version for s in server.requests("/c.bin")] == [1, 2, 2]


def test_flipping_changes_alternate_two_versions(server: FaultServer) -> None:
    server.add("/f.bin", size=SIZE, faults=[Change(skip=1, flip=True)])
    bodies = [exchange(server, "/f.bin")[2] for _ in range(4)]
    assert bodies[0] == bodies[2] != bodies[1] == bodies[3]
    assert len(server.representations("/f.bin")) == 2


def test_a_change_of_size_shows_in_content_range(server: FaultServer) -> None:
    server.add("/g.bin", size=SIZE, faults=[Change(skip=1, size=SIZE + 10)])
    exchange(server, "/g.bin")
    status, headers, _ = exchange(server, "/g.bin", "Range: bytes=0-9")
    assert status.startswith("HTTP/1.1 206 ")
    assert headers["Content-Range"] == f"bytes 0-9/{SIZE + 10}"


def test_if_range_is_read_as_rfc_9110_says(server: FaultServer) -> None:
    server.add("/w.bin", size=SIZE, validators=Validators(etag="weak"))
    _, headers, _ = exchange(server, "/w.bin")
    assert headers["ETag"].startswith('W/"')
    weak = exchange(server, "/w.bin", "Range: bytes=0-9", f"If-Range: {headers['ETag']}")
    dated = exchange(server, "/w.bin", "Range: bytes=0-9", f"If-Range: {LAST_MODIFIED}")
    assert weak[0].startswith("HTTP/1.1 200 "), "a weak validator never matches"
    assert dated[0].startswith("HTTP/1.1 206 ")


def test_a_server_ignoring_if_range_serves_ranges_on_stale_validators(
    server: FaultServer,
) -> None:
    served = server.add("/i.bin", size=SIZE, validators=Validators(etag="none", if_range="ignore"))
    status, headers, body = exchange(server, "/i.bin", "Range: bytes=5-9", 'If-Range: "stale"')
    assert status.startswith("HTTP/1.1 206 ") and body == served.data[5:10]
    assert "ETag" not in headers


def test_unframed_answers_end_with_the_connection(server: FaultServer) -> None:
    served = server.add("/u.bin", size=SIZE, faults=[Unframed(after=1234)])
    status, headers, body = exchange(server, "/u.bin", "Range: bytes=100-199")
    assert status.startswith("HTTP/1.1 200 ") and "Content-Length" not in headers
    assert body == served.data[:1234]


def test_unknown_total_withholds_the_size(server: FaultServer) -> None:
    served = server.add("/t.bin", size=SIZE, faults=[UnknownTotal()])
    _, headers, body = exchange(server, "/t.bin", "Range: bytes=100-199")
    assert headers["Content-Range"] == "bytes 100-199/*" and body == served.data[100:200]


def test_stored_gzip_is_labelled_and_ranged_as_gzip_bytes(server: FaultServer) -> None:
    served = server.add(
        "/s.gz",
        size=SIZE,
        gzip="stored",
        headers=[("Content-Disposition", 'attachment; filename="s.gz"')],
    )
    status, headers, body = exchange(server, "/s.gz", "Range: bytes=0-99")
    assert status.startswith("HTTP/1.1 206 ") and body == served.data[:100]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Range"] == f"bytes 0-99/{len(served.data)}"
    assert headers["Content-Disposition"] == 'attachment; filename="s.gz"'
    assert served.data[:2] == b"\x1f\x8b"
