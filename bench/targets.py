"""The performance targets evio-fetch is held to, evaluated on the medians: each one a ratio
or a ceiling, PASS or FAIL, or SKIP when its scenario or a client in it did not run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from clients import AUTO
from summary import MIB, Row

CPU_PER_GB = 2.5
# Without --segments, within 10 % of the best fixed count (issue 14).
AUTO_SHARE = 0.9
TREE_RSS = 200 * MIB
DRY_RUN_SECONDS = 5.0
DRY_RUN_RSS = 300 * MIB
# Peak tree RSS with four times the files, over that with a quarter of them: what the run
# must hold per file (its manifest entry, plan item and result, about a KiB) is a few
# percent of the whole; a buffer, task or connection per file would be far more.
FLAT_RSS = 1.1
# Where CPU per GB means nothing (a few MB, or nothing, is downloaded: the cost is per file).
NOT_PER_GB = {"scale", "scale-small", "scale-dry-run"}
OWN_RSS_CEILING = {"scale-dry-run"}


@dataclass(frozen=True)
class Target:
    scenario: str
    text: str
    value: float | None  # the measured ratio or figure
    limit: float
    at_most: bool  # PASS when value <= limit; otherwise when value >= limit
    status: str  # PASS, FAIL or SKIP
    detail: str

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    @property
    def comparison(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.limit:g}"


Metric = Callable[[Row], float | None]


def _mbps(row: Row) -> float | None:
    return row.mbps


def _verified(row: Row) -> float | None:
    return row.verified


def _wall(row: Row) -> float | None:
    return row.wall


def _cpu(row: Row) -> float | None:
    return row.cpu


class _Rows:
    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows

    def ran(self, scenario: str) -> list[Row]:
        return [r for r in self.rows if r.scenario == scenario]

    def get(self, scenario: str, client: str) -> Row | None:
        return next((r for r in self.ran(scenario) if r.client == client), None)


def _judge(
    scenario: str, text: str, value: float | None, limit: float, at_most: bool, detail: str
) -> Target:
    if value is None:
        return Target(scenario, text, None, limit, at_most, "FAIL", detail or "no successful run")
    passed = value <= limit if at_most else value >= limit
    return Target(scenario, text, value, limit, at_most, "PASS" if passed else "FAIL", detail)


def _skip(scenario: str, text: str, limit: float, at_most: bool, why: str) -> Target:
    return Target(scenario, text, None, limit, at_most, "SKIP", why)


def _ratio(
    rows: _Rows,
    scenario: str,
    pair: tuple[str, str],
    metric: Metric,
    limit: float,
    at_most: bool = False,
    what: str = "MB/s",
    plus: str = "",
) -> Target:
    mine, theirs = pair
    text = f"{mine} {what} {'≤' if at_most else '≥'} {limit:g} x {theirs}{plus}"
    a, b = rows.get(scenario, mine), rows.get(scenario, theirs)
    if a is None or b is None:
        return _skip(scenario, text, limit, at_most, f"{mine if a is None else theirs} not run")
    top, bottom = metric(a), metric(b)
    value = top / bottom if top is not None and bottom else None
    return _judge(scenario, text, value, limit, at_most, f"{_show(top)} vs {_show(bottom)}")


def _show(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _best_evio_verified(rows: _Rows, scenario: str, limit: float) -> Target:
    text = f"best evio time to verified ≤ {limit:g} x curl + SHA256"
    evio = [r for r in rows.ran(scenario) if r.verifies and r.verified is not None]
    curl = rows.get(scenario, "curl")
    if not evio or curl is None or curl.verified is None:
        return _skip(scenario, text, limit, True, "evio-fetch or curl missing")
    best = min(evio, key=lambda r: r.verified or float("inf"))
    value = (best.verified or 0.0) / curl.verified
    detail = f"{best.client} {_show(best.verified)} s vs {_show(curl.verified)} s"
    return _judge(scenario, text, value, limit, True, detail)


def _auto_vs_best_fixed(rows: _Rows, scenario: str, limit: float) -> Target:
    """evio-fetch without --segments against its best fixed --segments in the same run."""
    text = f"{AUTO} MB/s ≥ {limit:g} x the best evio --segments N"
    auto = rows.get(scenario, AUTO)
    fixed = [r for r in rows.ran(scenario) if "--segments" in r.options and r.verifies]
    if auto is None or not fixed:
        return _skip(scenario, text, limit, False, f"{AUTO} or a fixed --segments not run")
    best = max(fixed, key=lambda r: r.mbps or 0.0)
    value = auto.mbps / best.mbps if auto.mbps is not None and best.mbps else None
    detail = f"{_show(auto.mbps)} vs {best.client} {_show(best.mbps)}"
    return _judge(scenario, text, value, limit, False, detail)


def _of_connections(rows: _Rows, scenario: str, connections: int, limit: float) -> Target:
    """evio-fetch with ``connections`` over that many times one connection's rate (curl's, in
    the same run): what a server capping each connection lets any client reach."""
    text = f"evio seg{connections} MB/s ≥ {limit:g} x {connections} x curl (one connection)"
    mine, one = rows.get(scenario, f"evio seg{connections}"), rows.get(scenario, "curl")
    if mine is None or one is None:
        return _skip(scenario, text, limit, False, "evio-fetch or curl not run")
    ideal = None if one.mbps is None else connections * one.mbps
    value = mine.mbps / ideal if mine.mbps is not None and ideal else None
    return _judge(scenario, text, value, limit, False, f"{_show(mine.mbps)} vs {_show(ideal)}")


def _evio_ceiling(rows: _Rows, scenario: str, what: str, limit: float, unit: float) -> Target:
    text = {
        "cpu_per_gb": "evio CPU s per GB",
        "tree_rss": "evio peak tree RSS MiB",
        "wall": "evio wall s",
    }[what]
    text = f"{text} ≤ {limit / unit:g} (worst variant)"
    evio = [r for r in rows.ran(scenario) if r.family == "evio-fetch" and r.ok]
    values = [(getattr(r, what), r.client) for r in evio if getattr(r, what) is not None]
    if not values:
        return _judge(scenario, text, None, limit / unit, True, "")
    worst, client = max(values)
    return _judge(scenario, text, worst / unit, limit / unit, True, client)


def _flat_rss(rows: _Rows, client: str, counts: tuple[str, str], limit: float) -> Target:
    """Peak tree RSS of ``client`` on the larger scenario over that on the smaller one."""
    larger, smaller = counts
    text = f"{client} peak tree RSS, {larger} / {smaller} ≤ {limit:g} (flat in the file count)"
    big, small = rows.get(larger, client), rows.get(smaller, client)
    if big is None or small is None:
        missing = larger if big is None else smaller
        return _skip(larger, text, limit, True, f"{client} on {missing} not run")
    if not big.tree_rss or not small.tree_rss:
        return _judge(larger, text, None, limit, True, "")
    extra = (big.tree_rss - small.tree_rss) / max(big.files - small.files, 1)
    detail = (
        f"{big.tree_rss / MIB:.0f} MiB at {big.files:,} files vs {small.tree_rss / MIB:.0f} MiB "
        f"at {small.files:,}: {extra:,.0f} bytes per extra file"
    )
    return _judge(larger, text, big.tree_rss / small.tree_rss, limit, True, detail)


def evaluate(all_rows: Sequence[Row], scenarios: Sequence[str]) -> list[Target]:
    rows = _Rows(all_rows)
    targets = [
        _ratio(
            rows,
            "big",
            ("evio seg4", "curl"),
            _verified,
            0.75,
            True,
            "time to verified",
            " + SHA256",
        ),
        _best_evio_verified(rows, "big", 0.75),
        _ratio(rows, "big", ("evio seg4 nosha", "curl"), _mbps, 1.0),
        _auto_vs_best_fixed(rows, "big", AUTO_SHARE),
        _auto_vs_best_fixed(rows, "capped", AUTO_SHARE),
        _auto_vs_best_fixed(rows, "evio", AUTO_SHARE),
        _ratio(rows, "capped", ("evio seg4", "evio seg1"), _mbps, 3.6),
        _ratio(rows, "capped", ("evio seg4", "curl"), _mbps, 3.6),
        _ratio(rows, "capped", ("evio seg16", "aria2c x16"), _mbps, 1.3),
        _of_connections(rows, "capped", 16, 0.9),
        _ratio(rows, "latency", ("evio c16", "curl par16"), _mbps, 1.0),
        _ratio(rows, "many", ("evio c16", "curl par16"), _mbps, 0.8),
        _ratio(rows, "many", ("evio c16", "aria2c j16"), _mbps, 2.0),
        *_scale_targets(rows),
    ]
    for scenario in scenarios:
        if scenario not in NOT_PER_GB:
            targets.append(_evio_ceiling(rows, scenario, "cpu_per_gb", CPU_PER_GB, 1.0))
        if scenario not in OWN_RSS_CEILING:
            targets.append(_evio_ceiling(rows, scenario, "tree_rss", TREE_RSS, MIB))
    return [_unrun(t, scenarios) for t in targets]


def _scale_targets(rows: _Rows) -> list[Target]:
    pair = ("evio c32", "curl par32")
    return [
        _ratio(rows, "scale", pair, _wall, 2.0, True, "wall s (with sync)"),
        _ratio(rows, "scale", pair, _cpu, 3.0, True, "CPU s"),
        _flat_rss(rows, "evio c32", ("scale", "scale-small"), FLAT_RSS),
        _evio_ceiling(rows, "scale-dry-run", "wall", DRY_RUN_SECONDS, 1.0),
        _evio_ceiling(rows, "scale-dry-run", "tree_rss", DRY_RUN_RSS, MIB),
    ]


def _unrun(target: Target, scenarios: Sequence[str]) -> Target:
    if target.scenario in scenarios:
        return target
    return _skip(target.scenario, target.text, target.limit, target.at_most, "scenario not run")
