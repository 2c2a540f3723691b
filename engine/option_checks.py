"""The one check of a user's option values, against the limits ``model.Options`` declares.

The command line and the API both check each value here and word a refusal from the same
declaration, so ``--segments 0`` and ``fetch(segments=0)`` are refused for the same reason in
the same words: ``must be a whole number from 1 to 64``. Only the option's name differs, as
each caller writes it (``--segments``, ``segments=``).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping

import msgspec

from evio_fetch.engine.errors import UsageError
from evio_fetch.engine.model import Options
from evio_fetch.engine.spelling import Spelling

T = typing.TypeVar("T")
# A ceiling this high only keeps arithmetic exact; nobody needs to be told of it.
_NO_REAL_CEILING = 2**40


class OptionRefused(ValueError):
    """A value outside its declared limits; ``str()`` is ``must be …``."""


@functools.cache
def _declared() -> dict[str, object]:
    return typing.get_type_hints(Options, include_extras=True)


@functools.cache
def _info(name: str) -> msgspec.inspect.Type:
    found = msgspec.inspect.type_info(_declared()[name])
    if isinstance(found, msgspec.inspect.UnionType):  # ``X | None``: the X
        found = next(t for t in found.types if not isinstance(t, msgspec.inspect.NoneType))
    return found


def limited() -> list[str]:
    """The options that have limits, in declaration order."""
    return [name for name in _declared() if _bounds(name) != (None, None)]


def _bounds(name: str) -> tuple[float | None, float | None]:
    info = _info(name)
    if isinstance(info, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        low = info.ge if info.ge is not None else info.gt
        return low, info.le if info.le is not None else info.lt
    return None, None


def span(name: str) -> str:
    """``1 to 64``, or ``above 0, at most 86400``: the limits, for a help text."""
    return (
        limit_text(name)
        .removeprefix("must be a whole number from ")
        .removeprefix("must be a number of seconds ")
    )


def limit_text(name: str) -> str:
    """``must be a whole number from 1 to 64``: the option's limits in words."""
    info = _info(name)
    low, high = _bounds(name)
    if isinstance(info, msgspec.inspect.IntType):
        if high is not None and high >= _NO_REAL_CEILING:
            return f"must be a whole number of at least {low}"
        return f"must be a whole number from {low} to {high}"
    if isinstance(info, msgspec.inspect.FloatType):
        return f"must be a number of seconds above {low:g}, at most {high:g}"
    return f"must be a {info.__class__.__name__.removesuffix('Type').lower()}"


def check_option(name: str, value: T) -> T:
    """``value`` if the declaration admits it; raises OptionRefused otherwise."""
    try:
        msgspec.convert(value, _declared()[name])
    except msgspec.ValidationError:
        raise OptionRefused(limit_text(name)) from None
    return value


def checked_options(values: Mapping[str, object], spelled: Spelling) -> Options:
    """Options from ``values``, checked once against the declaration; raises UsageError
    naming the first refused one as ``spelled`` writes it, with its default as an example."""
    try:
        return msgspec.convert(values, Options)
    except msgspec.ValidationError:
        for name in limited():
            if name in values:
                try:
                    check_option(name, values[name])
                except OptionRefused as refused:
                    given = spelled.given(name, values[name])
                    raise UsageError(f"{given}: {refused}", _hint(name, spelled)) from None
        raise  # a value of no limited option: a caller's mistake, not a user's


# What leaving out an option whose default is None gives, for the hint.
_LEFT_OUT = {"segments": "to let each file size its connections", "max_speed": "for no limit"}


def _hint(name: str, spelled: Spelling) -> str:
    default = getattr(Options(), name)
    if default is None:
        return f"leave {spelled(name)} out {_LEFT_OUT.get(name, 'for the default')}"
    return f"e.g. {spelled.given(name, default)}, the default"
