"""PNG charts of the results. The only module that imports matplotlib, and only when called,
so the benchmark runs (without charts) where matplotlib is not installed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scenarios import MB
from servers import CAP_BYTES
from summary import Row

SEGMENTS = (1, 4, 16)


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def draw(rows: Sequence[Row], descriptions: Mapping[str, str], out: Path) -> list[Path]:
    """Every chart the rows allow; none (with a message) if matplotlib is missing."""
    try:
        plt = _pyplot()
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'evio-fetch[bench]')")
        return []
    written = []
    if any(r.scenario == "capped" for r in rows):
        title = f"capped: {descriptions['capped']}"
        written.append(_capped_scaling(plt, rows, title, out / "capped-segments.png"))
    for scenario, description in descriptions.items():
        chosen = [r for r in rows if r.scenario == scenario]
        title = f"{scenario}: {description}"
        written.append(_bars(plt, title, chosen, out / f"{scenario}.png"))
    return written


def _capped_scaling(plt: Any, rows: Sequence[Row], title: str, path: Path) -> Path:
    capped = {r.client: r.mbps for r in rows if r.scenario == "capped" and r.mbps}
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for label, prefix, marker in (("evio-fetch --segments N", "evio seg", "o"),
                                  ("aria2c -xN -sN", "aria2c x", "s")):  # fmt: skip
        points = [(n, capped[f"{prefix}{n}"]) for n in SEGMENTS if f"{prefix}{n}" in capped]
        if points:
            axes.plot(*zip(*points, strict=True), marker=marker, label=label)
    ideal = [n * CAP_BYTES / MB for n in SEGMENTS]
    axes.plot(SEGMENTS, ideal, linestyle="--", color="grey", label="N x the per-connection cap")
    if "curl" in capped:
        axes.axhline(capped["curl"], color="black", linewidth=0.8, label="curl (one stream)")
    axes.set_xscale("log", base=2)
    axes.set_xticks(SEGMENTS, [str(n) for n in SEGMENTS])
    axes.set_xlabel("connections per file (N)")
    axes.set_ylabel("MB/s (10^6 bytes/s), median")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _bars(plt: Any, title: str, rows: Sequence[Row], path: Path) -> Path:
    names = [r.client for r in rows]
    raw = [r.mbps or 0.0 for r in rows]
    verified = [r.verified_mbps or 0.0 for r in rows]
    figure, axes = plt.subplots(figsize=(7.2, 0.42 * len(rows) + 1.8))
    places = range(len(rows))
    for offset, values, label in ((-0.2, raw, "download"), (0.2, verified, "to a verified file")):
        bars = axes.barh([p + offset for p in places], values, height=0.4, label=label)
        labels = [f"{value:.0f}" if value else "" for value in values]
        axes.bar_label(bars, labels=labels, padding=2, fontsize=7)
    for place, row in zip(places, rows, strict=True):
        if not row.ok:
            axes.text(0, place, "  failed", va="center", color="red")
    axes.set_yticks(list(places), names)
    axes.invert_yaxis()  # first client on top, as in the table
    axes.set_xlabel("MB/s (10^6 bytes/s), median")
    axes.set_title(title, fontsize=10)
    axes.grid(True, axis="x", alpha=0.3)
    axes.margins(x=0.12)  # room for the value labels
    # Below the axes, so it never hides a bar.
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
