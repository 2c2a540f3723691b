"""Numbers as people read them: sizes, rates and durations.

Sizes use binary units (KiB = 1024 B) because that is what file managers and ``ls -h`` show
for the same files; a user comparing our numbers with theirs should see the same ones.
"""

from __future__ import annotations

import math

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# Decimals per unit: a tenth of a MiB is still a useful step on a download, a hundredth of
# a GiB is the same order of magnitude, so every unit shows about 3-4 digits.
_DECIMALS = {"KiB": 1, "MiB": 1, "GiB": 2, "TiB": 2, "PiB": 2, "EiB": 2}


def _scaled(value: float) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1024:
        return f"{sign}{round(value)} B" if round(value) < 1024 else _scaled_units(sign, value)
    return _scaled_units(sign, value)


def _scaled_units(sign: str, value: float) -> str:
    for unit in _UNITS:
        value /= 1024
        # Four integer digits leave room for one decimal only: "1000.0 TiB", never wider.
        decimals = min(_DECIMALS[unit], 1) if value >= 999.995 else _DECIMALS[unit]
        text = f"{value:.{decimals}f}"
        # Rounding can reach 1024 (1023.96 KiB -> "1024.0 KiB"): move to the next unit instead.
        if float(text) < 1024 or unit == _UNITS[-1]:
            return f"{sign}{text} {unit}"
    raise AssertionError("unreachable")


def human_bytes(n: int) -> str:
    """``0 B``, ``512 B``, ``1.0 KiB``, ``212.3 MiB``, ``1.40 GiB``."""
    return _scaled(float(n))


def human_rate(bps: float) -> str:
    """Bytes per second: ``20.0 MiB/s``; ``0 B/s`` for anything not a finite positive rate."""
    if not math.isfinite(bps) or bps <= 0:
        return "0 B/s"
    return f"{_scaled(bps)}/s"


def human_duration(seconds: float, *, precise: bool = False) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``.

    ``precise`` keeps a tenth of a second up to a minute (``21.3 s``): right for a run's total
    time, where the tenth is still signal; too busy for anything that updates.
    """
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    limit = 59.95 if precise else 9.95
    if seconds < limit:
        return f"{seconds:.1f} s"
    # Round once, to the resolution shown, so 59.7 s reads "1 min 00 s" and never "60 s".
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def clock_duration(seconds: float | None) -> str:
    """A short clock for ETAs in narrow columns: ``0:07``, ``3:05``, ``1:02:05``.

    ``-:--`` when unknown.
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-:--"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
