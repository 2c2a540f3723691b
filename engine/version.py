"""The version, in one place: the package's metadata is built from it (pyproject.toml), and
reading it costs no metadata lookup at start-up."""

VERSION = "0.1.0"
