"""How a caller writes the names of what it takes, so that the engine's refusals name them as
the user typed them: ``--resume-state`` and ``--segments 0`` on the command line,
``resume_state`` and ``segments=0`` in the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath


@dataclass(frozen=True)
class Spelling:
    # Flags (``--segments 0``), else keyword arguments (``segments=0``).
    flags: bool
    # Names written otherwise than the rule says (``output_dir`` is ``-o``).
    special: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> str:
        """``--max-speed``, or ``max_speed``."""
        if name in self.special:
            return self.special[name]
        return f"--{name.replace('_', '-')}" if self.flags else name

    def given(self, name: str, value: object) -> str:
        """``--segments 0``, or ``segments=0`` (a path as the string it is: ``root='data'``)."""
        if self.flags:
            return f"{self(name)} {value}"
        return f"{name}={str(value) if isinstance(value, PurePath) else value!r}"

    def keyword(self, name: str) -> str:
        """``-o`` for a flag, ``output_dir=`` for a keyword: what comes before a value."""
        return self(name) if self.flags else f"{name}="


CLI = Spelling(flags=True, special={"sources": "SOURCE", "output_dir": "-o"})
API = Spelling(flags=False)
