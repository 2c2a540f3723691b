"""evio-fetch's download engine, and its Python API.

    from evio_fetch.engine import fetch

    report = fetch(["https://example.org/data.bin"], output_dir="data")

See :mod:`evio_fetch.engine.api` and docs/api.md. Importing this package is cheap: the names
below are loaded on first use, so worker processes and the command line, which import only
the modules they need, never pay for the API.
"""

from __future__ import annotations

import importlib

# Not typing's: the command imports this package before its first worker starts, and
# importing typing would delay that start (engine.early_worker).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from evio_fetch.engine.api import Progress, ProgressKind, Report, fetch, fetch_async
    from evio_fetch.engine.errors import EvioError, ManifestError, UsageError
    from evio_fetch.engine.model import Failure, FileResult, FileSpec

__all__ = [
    "EvioError",
    "Failure",
    "FileResult",
    "FileSpec",
    "ManifestError",
    "Progress",
    "ProgressKind",
    "Report",
    "UsageError",
    "fetch",
    "fetch_async",
]

_HOMES = {
    "Progress": "api",
    "ProgressKind": "api",
    "Report": "api",
    "fetch": "api",
    "fetch_async": "api",
    "EvioError": "errors",
    "ManifestError": "errors",
    "UsageError": "errors",
    "Failure": "model",
    "FileResult": "model",
    "FileSpec": "model",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
