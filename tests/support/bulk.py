"""Many valid events quickly: units, items, adoptions and a few deductions, for load-shaped tests."""

import uuid
from collections.abc import Iterator
from typing import Any

CHANNEL_KINDS = (
    ("district_zhengwu", "single"),
    ("city", "single"),
    ("website_today", "brief"),
    ("province", "research"),
    ("district_daily", "brief"),
)


def bulk_events(*, units: int, items_per_unit: int, prefix: str = "B") -> Iterator[dict[str, Any]]:
    """Register `units` units, then per unit items each submitted and adopted once; every 7th unit is criticised."""
    at = "2026-02-10T09:00:00+08:00"
    for u in range(units):
        yield _event("unit.registered", {"unit_id": f"{prefix}U{u}", "name": f"单位{u}", "kind": "department"}, at)
    for i in range(items_per_unit):
        for u in range(units):
            channel, kind = CHANNEL_KINDS[(u + i) % len(CHANNEL_KINDS)]
            item_id = f"{prefix}I{u}-{i}"
            yield _event(
                "item.submitted",
                {"item_id": item_id, "unit_id": f"{prefix}U{u}", "title": f"信息{i}", "kind": kind},
                at,
            )
            yield _event("item.adopted", {"item_id": item_id, "channel": channel}, at)
    for u in range(0, units, 7):
        yield _event("unit.criticized", {"unit_id": f"{prefix}U{u}"}, at)


def _event(type_name: str, data: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": type_name, "occurred_at": occurred_at, "data": data}


def batches(events: Iterator[dict[str, Any]], size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
