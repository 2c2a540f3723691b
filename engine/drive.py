"""Google Drive: where a file's bytes are asked for."""

from __future__ import annotations

from urllib.parse import urlencode


def download_url(drive_url: str, file_id: str, resource_key: str | None = None) -> str:
    """``{drive_url}/uc?export=download&id=ID``; Drive redirects from there to the bytes or to
    a confirmation page."""
    query = {"export": "download", "id": file_id}
    if resource_key:
        query["resourcekey"] = resource_key
    return f"{drive_url.rstrip('/')}/uc?{urlencode(query)}"
