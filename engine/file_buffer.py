"""A file's bytes read into memory of their own, outside the allocator's heap.

A large manifest read as ``bytes`` lives in one large block of ``malloc``. glibc raises its
threshold for mapping blocks of their own to the size of a large block freed, so once the
manifest's bytes are gone, the run's lists of a few hundred kilobytes (one slot per file)
are carved from the heap, where freed ones leave holes the resident size keeps: about 40
bytes per file for a manifest of a hundred thousand files. An anonymous mapping is private
memory like ``bytes``, but it goes back to the system when closed and leaves ``malloc``'s
threshold alone. (A mapping of the file itself would copy nothing, but the process would
die of SIGBUS if another one shortened the file meanwhile.)"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from io import FileIO
from pathlib import Path


@contextmanager
def file_buffer(path: Path) -> Iterator[memoryview]:
    """The bytes of ``path``, valid until the block ends. Raises OSError."""
    with open(path, "rb", buffering=0) as file:
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            # Nothing to map (and a file reported empty may still hold bytes: /proc, a pipe).
            yield memoryview(file.read())
            return
        with mmap.mmap(-1, size) as block, memoryview(block) as view:
            done = _fill(file, view)
            rest = file.read()
            if rest:  # the file grew since fstat: the whole of it, as bytes
                yield memoryview(bytes(view[:done]) + rest)
            else:
                with view[:done] as content:
                    yield content


def _fill(file: FileIO, view: memoryview) -> int:
    done = 0
    while done < len(view):
        with view[done:] as free:
            count = file.readinto(free)
        if not count:
            break
        done += count
    return done
