"""The results as files: results.json (everything, every run) and results.md (the tables and
the targets, the same text the benchmark prints)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from rounds import Record
from summary import MIB, Row
from targets import Target

HEADER = (
    "| client | ok | MB/s | wall s | +SHA256 s | to verified s | MB/s verified "
    "| CPU s/GB | peak RSS tree MiB | largest process MiB |"
)

PER_FILE_HEADER = (
    "| client | ok | files/s | wall s | of which sync s | x curl | CPU s | x curl "
    "| peak RSS tree MiB | x curl | largest process MiB |"
)


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mib(value: int | None) -> str:
    return "—" if value is None else f"{value / MIB:.0f}"


def _line(row: Row) -> str:
    sha = "(itself)" if row.verifies else _number(row.sha)
    return (
        f"| {row.client} | {row.ok}/{row.runs} | {_number(row.mbps, 0)} | {_number(row.wall)} "
        f"| {sha} | {_number(row.verified)} | {_number(row.verified_mbps, 0)} "
        f"| {_number(row.cpu_per_gb)} | {_mib(row.tree_rss)} | {_mib(row.process_rss)} |"
    )


def _times(value: float | int | None, curl: float | int | None) -> str:
    return "—" if value is None or not curl else f"{value / curl:.2f}"


def _per_file_line(row: Row, curl: Row | None) -> str:
    """Seconds, CPU and memory, each also as a multiple of curl's in the same run."""
    wall, cpu, rss = (curl.wall, curl.cpu, curl.tree_rss) if curl else (None, None, None)
    return (
        f"| {row.client} | {row.ok}/{row.runs} | {_number(row.files_per_second, 0)} "
        f"| {_number(row.wall)} | {_number(row.sync)} | {_times(row.wall, wall)} "
        f"| {_number(row.cpu)} | {_times(row.cpu, cpu)} "
        f"| {_mib(row.tree_rss)} | {_times(row.tree_rss, rss)} | {_mib(row.process_rss)} |"
    )


def _table(rows: Sequence[Row], per_file: bool) -> list[str]:
    if not per_file:
        return [HEADER, "|---" * 10 + "|", *(_line(r) for r in rows)]
    curl = next((r for r in rows if r.family == "curl"), None)
    return [PER_FILE_HEADER, "|---" * 11 + "|", *(_per_file_line(r, curl) for r in rows)]


def _target_line(target: Target) -> str:
    value = "—" if target.value is None else f"{target.value:.2f}"
    return f"| {target.status} | {target.scenario} | {target.text} | {value} | {target.detail} |"


def markdown(
    facts: Mapping[str, str],
    descriptions: Mapping[str, str],
    rows: Sequence[Row],
    targets: Sequence[Target],
    failures: Sequence[Record],
    per_file: Collection[str] = (),
) -> str:
    """``per_file`` names the scenarios shown in seconds per run rather than MB/s."""
    lines = ["# evio-fetch benchmark", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    lines += [
        "",
        "Medians over the rounds; peak RSS is the largest over the rounds. MB/s = 10^6 bytes/s.",
        "'to verified' = the client's wall time, plus for clients that do not check SHA256",
        "themselves the time of a hashlib SHA256 of the result. CPU is user+sys of the",
        "client's whole process tree (the server's is not counted). In the scenarios",
        "counted in files, wall s includes the sync after the client exited, and 'x curl'",
        "is the figure over curl's in the same run.",
    ]
    for scenario, description in descriptions.items():
        chosen = [r for r in rows if r.scenario == scenario]
        lines += ["", f"## {scenario}: {description}", "", *_table(chosen, scenario in per_file)]
    lines += ["", "## Targets", "", "| result | scenario | target | value | detail |"]
    lines += ["|---|---|---|---|---|", *(_target_line(t) for t in targets)]
    if failures:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {r.scenario} / {r.client} round {r.round}: {r.error}" for r in failures]
    return "\n".join(lines) + "\n"


def write(
    out: Path,
    facts: Mapping[str, str],
    settings: Mapping[str, object],
    rows: Sequence[Row],
    targets: Sequence[Target],
    records: Sequence[Record],
    descriptions: Mapping[str, str],
    per_file: Collection[str] = (),
) -> str:
    """Write results.json and results.md into ``out``; return the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": dict(facts),
        "settings": dict(settings),
        "scenarios": dict(descriptions),
        "summary": [r.as_json() for r in rows],
        "targets": [t.as_json() for t in targets],
        "runs": [r.as_json() for r in records],
    }
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    failures = [r for r in records if not r.ok]
    text = markdown(facts, descriptions, rows, targets, failures, per_file)
    (out / "results.md").write_text(text)
    return text
