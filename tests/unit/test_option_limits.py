"""The limits of the options are declared once (model.Options): the command line and the API
refuse the same values with the same words, and default to the same values."""

from __future__ import annotations

import inspect

import msgspec
import pytest

from evio_fetch.cli.args import build_parser, parse
from evio_fetch.engine import UsageError, fetch
from evio_fetch.engine.model import Options
from evio_fetch.engine.option_checks import _bounds, _info, limit_text, limited, span

# Each limited option just outside its limits, as the CLI writes it and as the API takes it.
CASES = [
    pytest.param(name, value, id=f"{name}={value}")
    for name in limited()
    for value in _bounds(name)
    if value is not None and name != "max_speed"
]


def outside(name: str, bound: float) -> float:
    """A value just past ``bound``: below the low one, above the high one."""
    low, _ = _bounds(name)
    step = 1 if isinstance(_info(name), msgspec.inspect.IntType) else 0.5
    return bound - step if bound == low else bound + step


@pytest.mark.parametrize(("name", "bound"), CASES)
def test_the_cli_and_the_api_refuse_a_value_out_of_range_alike(
    name: str, bound: float, capsys: pytest.CaptureFixture[str]
) -> None:
    value = outside(name, bound)
    shown = int(value) if float(value).is_integer() else value
    with pytest.raises(SystemExit) as exited:
        parse([f"--{name.replace('_', '-')}", str(shown), "http://127.0.0.1:1/a"])
    assert exited.value.code == 2
    refused_by_cli = capsys.readouterr().err
    with pytest.raises(UsageError) as refused_by_api:
        fetch("http://127.0.0.1:1/a", **{name: shown})  # type: ignore[arg-type]
    words = limit_text(name)
    assert f"argument --{name.replace('_', '-')}: {shown}: {words}" in refused_by_cli
    assert refused_by_api.value.message == f"{name}={shown!r}: {words}"


def test_a_rate_is_refused_alike(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--max-speed", "20Mb", "http://127.0.0.1:1/a"])
    cli = capsys.readouterr().err
    with pytest.raises(UsageError) as api:
        fetch("http://127.0.0.1:1/a", max_speed="20Mb")
    reason = api.value.message.removeprefix("max_speed='20Mb': ")
    assert reason in cli and "bits" in reason
    with pytest.raises(UsageError, match="max_speed=0: must be a whole number of at least 1"):
        fetch("http://127.0.0.1:1/a", max_speed=0)


def test_the_cli_and_the_api_default_to_the_declared_values() -> None:
    declared = Options()
    parser_defaults = {a.dest: a.default for a in build_parser()._actions}
    signature = inspect.signature(fetch).parameters
    for name in limited():
        assert parser_defaults[name] == getattr(declared, name), name
        api_default = signature[name].default
        if name != "workers":  # None in the API: one per CPU, as the declaration's factory
            assert api_default == getattr(declared, name), name
    assert signature["workers"].default is None


def test_the_limits_are_the_declarations() -> None:
    assert _bounds("segments") == (1, 64) and limit_text("segments").endswith("from 1 to 64")
    assert limit_text("timeout").startswith("must be a number of seconds above 0")


def test_the_help_states_the_declared_limits() -> None:
    shown = " ".join(build_parser().format_help().split())
    for name in limited():
        if name != "max_speed":  # a rate's help explains its units instead
            assert f"--{name} " in shown and span(name) in shown, name
