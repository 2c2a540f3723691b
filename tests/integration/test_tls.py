"""TLS certificates are verified: a server whose CA is unknown is refused, and trusted once its
CA is supplied through SSL_CERT_FILE or --ca-bundle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MIB, run_cli
from tls_server import https_server as serving_https


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path, bytes]]:
    payload = bytes(range(256)) * (3 * MIB // 256)
    with serving_https(tmp_path, payload) as (url, ca_file):
        yield url, ca_file, payload


def test_unknown_certificate_authority_is_refused(
    tmp_path: Path, https_server: tuple[str, Path, bytes]
) -> None:
    url, _, _ = https_server
    result = run_cli("-o", "out", "--json", "--retries", "0", url, cwd=tmp_path)
    assert result.returncode == 2  # its only file failed
    error = json.loads(result.stdout)["files"][0]["error"]
    assert "certificate" in error["message"] and "SSL_CERT_FILE" in error["hint"]
    assert not (tmp_path / "out" / "data.bin").exists()


def test_supplied_certificate_authority_is_trusted(
    tmp_path: Path, https_server: tuple[str, Path, bytes]
) -> None:
    url, ca_file, payload = https_server
    result = run_cli("-o", "out", url, cwd=tmp_path, env={"SSL_CERT_FILE": str(ca_file)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "data.bin").read_bytes() == payload


def test_certificate_authority_given_with_ca_bundle_is_trusted(
    tmp_path: Path, https_server: tuple[str, Path, bytes]
) -> None:
    url, ca_file, payload = https_server
    result = run_cli("-o", "out", "--ca-bundle", str(ca_file), "--segments", "2", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "data.bin").read_bytes() == payload
