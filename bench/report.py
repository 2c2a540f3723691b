"""The results as files: results.json (everything, every run) and results.md (the tables and
the targets, the same text the benchmark prints)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from rounds import Record
from summary import MIB, Row
from targets import Target

HEADER = (
    "| client | ok | MB/s | wall s | +SHA256 s | to verified s | MB/s verified "
    "| CPU s/GB | peak RSS tree MiB | largest process MiB |"
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


def _target_line(target: Target) -> str:
    value = "—" if target.value is None else f"{target.value:.2f}"
    return f"| {target.status} | {target.scenario} | {target.text} | {value} | {target.detail} |"


def markdown(
    facts: Mapping[str, str],
    descriptions: Mapping[str, str],
    rows: Sequence[Row],
    targets: Sequence[Target],
    failures: Sequence[Record],
) -> str:
    lines = ["# evio-fetch benchmark", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    lines += [
        "",
        "Medians over the rounds; peak RSS is the largest over the rounds. MB/s = 10^6 bytes/s.",
        "'to verified' = the client's wall time, plus for clients that do not check SHA256",
        "themselves the time of a hashlib SHA256 of the result. CPU is user+sys of the",
        "client's whole process tree (the server's is not counted).",
    ]
    for scenario, description in descriptions.items():
        lines += ["", f"## {scenario}: {description}", "", HEADER, "|---" * 10 + "|"]
        lines += [_line(r) for r in rows if r.scenario == scenario]
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
    text = markdown(facts, descriptions, rows, targets, [r for r in records if not r.ok])
    (out / "results.md").write_text(text)
    return text
