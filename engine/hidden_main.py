"""Starting a worker without running the caller's ``__main__`` again.

``spawn`` prepares a child by importing the parent's main module again (as ``__mp_main__``)
from its file or module name. A script that calls the API at its top level, without
``if __name__ == "__main__":``, would then call it again in every worker, which cannot start
processes of its own while it starts up, and dies. Workers need nothing of the caller's main
module (their target lives in ``worker_entry``), so while one is started the spawn machinery
is shown a stand-in ``__main__`` with neither a file nor a module name: the child imports
nothing for it, whatever ran the parent (a script, ``-m``, ``-c``, stdin or a notebook).

The stand-in is in place only while a process starts (a few milliseconds, under a lock): code
on another thread that looks ``__main__`` up in ``sys.modules`` at that moment sees it.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

# One start at a time: two overlapping ones would each put back what the other showed.
_LOCK = threading.Lock()
_STAND_IN = types.ModuleType("__main__", "evio-fetch's stand-in while a worker is started")


@contextmanager
def main_hidden() -> Iterator[None]:
    """Within the block, ``sys.modules['__main__']`` is the stand-in; the caller's own main
    module is back in place as soon as the block ends, however it ends."""
    with _LOCK:
        real = sys.modules.get("__main__")  # an embedding program may have none
        sys.modules["__main__"] = _STAND_IN
        try:
            yield
        finally:
            if real is None:
                del sys.modules["__main__"]
            else:
                sys.modules["__main__"] = real
