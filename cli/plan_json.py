"""The plan as one JSON document (``--dry-run --json``), documented in docs/json.md."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from evio_fetch.cli.plan_view import totals
from evio_fetch.engine.model import Action, PlanItem
from evio_fetch.engine.redaction import redact_url

# The plan's layout version. Field order here is key order in the document; renaming or
# removing a field is a schema change, adding one is not.
PLAN_SCHEMA = 1


class JsonShard(msgspec.Struct, frozen=True):
    index: int
    count: int


class JsonPlanSummary(msgspec.Struct, frozen=True):
    fetch: int
    resume: int
    skip: int
    bytes_to_fetch: int
    unknown_sizes: int


class JsonPlanEntry(msgspec.Struct, frozen=True):
    label: str
    path: str | None
    named_by_server: bool
    source: str | None
    action: Action
    reason: str
    size: int | None
    partial_bytes: int | None


class JsonPlan(msgspec.Struct, frozen=True):
    schema: int
    evio_fetch: str
    shard: JsonShard | None
    summary: JsonPlanSummary
    plan: list[JsonPlanEntry]


def _entry(item: PlanItem) -> JsonPlanEntry:
    spec = item.spec
    return JsonPlanEntry(
        label=spec.label,
        path=item.path,
        named_by_server=spec.target is None,
        source=redact_url(spec.url) if spec.url is not None else spec.drive_id,
        action=item.action,
        reason=item.reason,
        size=item.size,
        partial_bytes=item.partial if item.action == "resume" else None,
    )


def plan_document(
    items: Sequence[PlanItem], version: str, shard: tuple[int, int] | None = None
) -> bytes:
    """The ``--dry-run --json`` document, one entry per file in input order, ending in a
    newline."""
    sums = totals(items)
    document = JsonPlan(
        schema=PLAN_SCHEMA,
        evio_fetch=version,
        shard=JsonShard(*shard) if shard is not None else None,
        summary=JsonPlanSummary(
            fetch=sums.fetch,
            resume=sums.resume,
            skip=sums.skip,
            bytes_to_fetch=sums.bytes_left,
            unknown_sizes=sums.unknown_sizes,
        ),
        plan=[_entry(item) for item in items],
    )
    return msgspec.json.encode(document) + b"\n"
