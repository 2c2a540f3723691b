"""``python -m evio_fetch.cli``: the same as the ``evio-fetch`` command."""

import sys

from evio_fetch.cli.main import main

sys.exit(main())
