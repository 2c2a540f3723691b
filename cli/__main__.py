"""``python -m evio_fetch.cli``: the same as the ``evio-fetch`` command."""

from evio_fetch.cli.main import console

console()
