"""The installed version, read once from the distribution's metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("evio-fetch")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0+source"
