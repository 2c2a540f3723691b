"""Writing to stdout, where only what a pipe or file should receive goes: the plan of
``--dry-run`` and the ``--json`` documents. Everything for the person at the terminal goes to
stderr."""

from __future__ import annotations

import os
import sys


def write_stdout(data: bytes) -> None:
    """Write ``data`` and flush it. A reader that stopped reading (``| head -3``) is not an
    error: the rest of the output has nowhere to go, and is dropped."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit and would then complain: point it elsewhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def write_lines(lines: list[str]) -> None:
    # Names are shown as they are; a character that is not text (a lone surrogate from an
    # undecodable name) is shown as its escape rather than failing the write.
    write_stdout("".join(f"{line}\n" for line in lines).encode(errors="backslashreplace"))
