"""Small explicit event builders for the reporting tests, posted in one batch through the ingest API."""

import uuid
from typing import Any

MARCH = "2026-03-05T10:00:00+08:00"
JANUARY = "2026-01-02T09:00:00+08:00"


def event(type_name: str, data: dict[str, Any], at: str = MARCH, event_id: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id or str(uuid.uuid4()), "type": type_name, "occurred_at": at, "data": data}


def unit(unit_id: str, name: str, kind: str = "department", at: str = JANUARY) -> dict[str, Any]:
    return event("unit.registered", {"unit_id": unit_id, "name": name, "kind": kind}, at)


def officer(officer_id: str, unit_id: str, name: str, at: str = JANUARY) -> dict[str, Any]:
    return event("officer.registered", {"officer_id": officer_id, "unit_id": unit_id, "name": name}, at)


def target(
    unit_id: str, submissions: int, adoptions: int, *, year: int = 2026, month: int | None = None, at: str = JANUARY
) -> dict[str, Any]:
    return event(
        "unit.target-set",
        {"unit_id": unit_id, "year": year, "month": month, "submissions": submissions, "adoptions": adoptions},
        at,
    )


def item(
    item_id: str,
    unit_id: str,
    *,
    title: str | None = None,
    kind: str = "single",
    authors: tuple[str, ...] = (),
    at: str = MARCH,
) -> dict[str, Any]:
    return event(
        "item.submitted",
        {
            "item_id": item_id,
            "unit_id": unit_id,
            "title": title or f"信息{item_id}",
            "kind": kind,
            "authors": list(authors),
        },
        at,
    )


def adopt(
    item_id: str, channel: str, *, issue: str | None = None, at: str = MARCH, event_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    data = {"item_id": item_id, "channel": channel, **extra}
    if issue is not None:
        data["issue"] = issue
    return event("item.adopted", data, at, event_id)


def endorse(item_id: str, level: str, at: str = MARCH) -> dict[str, Any]:
    return event("item.endorsed", {"item_id": item_id, "level": level}, at)


def revoke(target_event_id: str, at: str = MARCH) -> dict[str, Any]:
    return event("event.revoked", {"target_event_id": target_event_id, "reason": "录入错误"}, at)


def late(unit_id: str, level: str, kind: str, officers: tuple[str, ...] = (), at: str = MARCH) -> dict[str, Any]:
    return event(
        "unit.late-reported",
        {"unit_id": unit_id, "level": level, "kind": kind, "responsible_officers": list(officers)},
        at,
    )


def criticized(unit_id: str, officers: tuple[str, ...] = (), at: str = MARCH) -> dict[str, Any]:
    return event("unit.criticized", {"unit_id": unit_id, "responsible_officers": list(officers)}, at)


def false_information(unit_id: str, points: int, at: str = MARCH) -> dict[str, Any]:
    return event("unit.false-information", {"unit_id": unit_id, "points": points}, at)


def items_adopted(
    unit_id: str,
    prefix: str,
    count: int,
    channel: str = "district_zhengwu",
    *,
    authors: tuple[str, ...] = (),
    kind: str = "single",
    at: str = MARCH,
) -> list[dict[str, Any]]:
    """`count` items of a unit, each adopted once in `channel`."""
    events = []
    for n in range(1, count + 1):
        events += [
            item(f"{prefix}{n}", unit_id, authors=authors, kind=kind, at=at),
            adopt(f"{prefix}{n}", channel, at=at),
        ]
    return events


async def load(kaohe, events: list[dict[str, Any]]) -> int:
    """Append all events in one batch and wait until the projection has folded them."""
    response = await kaohe.ingest.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text
    return await kaohe.settled()
