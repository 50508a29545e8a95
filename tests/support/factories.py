"""Small explicit factories: one function per event type, each returning a body for POST /v1/events.

Every body carries its own `event_id`, so a test knows the id of an event before it posts it (to
revoke it, dispute it, or find its lines). Times default to a day in March 2026, Shanghai time.
"""

import uuid
from typing import Any

AT = "2026-03-05T10:00:00+08:00"
YEAR = 2026


def event(
    type_name: str, data: dict[str, Any], *, at: str = AT, event_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"event_id": event_id or str(uuid.uuid4()), "type": type_name, "occurred_at": at, "data": data, **extra}


def _optional(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def unit_registered(unit_id: str, *, name: str | None = None, kind: str = "department", at: str = AT):
    name = f"单位{unit_id}" if name is None else name
    return event("unit.registered", {"unit_id": unit_id, "name": name, "kind": kind}, at=at)


def officer_registered(officer_id: str, unit_id: str, *, name: str | None = None, at: str = AT):
    return event(
        "officer.registered",
        {"officer_id": officer_id, "unit_id": unit_id, "name": f"信息员{officer_id}" if name is None else name},
        at=at,
    )


def target_set(
    unit_id: str, *, submissions: int, adoptions: int, month: int | None = None, year: int = YEAR, at: str = AT
):
    return event(
        "unit.target-set",
        {"unit_id": unit_id, "year": year, "month": month, "submissions": submissions, "adoptions": adoptions},
        at=at,
    )


def assessed(unit_id: str, outcome: str, *, year: int = YEAR, note: str | None = None, at: str = AT):
    return event("unit.assessed", {"unit_id": unit_id, "year": year, "outcome": outcome, **_optional(note=note)}, at=at)


def item_submitted(
    item_id: str,
    unit_id: str,
    *,
    kind: str = "single",
    authors: list[str] | None = None,
    title: str | None = None,
    at: str = AT,
    **flags: Any,
):
    title = f"信息{item_id}" if title is None else title
    return event(
        "item.submitted",
        {"item_id": item_id, "unit_id": unit_id, "title": title, "kind": kind, "authors": authors or [], **flags},
        at=at,
    )


def item_adopted(
    item_id: str,
    channel: str,
    *,
    kind: str | None = None,
    issue: str | None = None,
    contributors: list[dict[str, Any]] | None = None,
    at: str = AT,
):
    return event(
        "item.adopted",
        {"item_id": item_id, "channel": channel, **_optional(kind=kind, issue=issue, contributors=contributors)},
        at=at,
    )


def item_endorsed(item_id: str, level: str, *, leader: str | None = None, at: str = AT):
    return event("item.endorsed", {"item_id": item_id, "level": level, **_optional(leader=leader)}, at=at)


def false_information(
    unit_id: str, points: int, *, responsible: list[str] | None = None, item_id: str | None = None, at: str = AT
):
    return event(
        "unit.false-information",
        {"unit_id": unit_id, "points": points, **_optional(responsible_officers=responsible, item_id=item_id)},
        at=at,
    )


def late_reported(
    unit_id: str,
    level: str,
    kind: str,
    *,
    responsible: list[str] | None = None,
    item_id: str | None = None,
    at: str = AT,
):
    return event(
        "unit.late-reported",
        {
            "unit_id": unit_id,
            "level": level,
            "kind": kind,
            **_optional(responsible_officers=responsible, item_id=item_id),
        },
        at=at,
    )


def solicitation_missed(unit_id: str, *, responsible: list[str] | None = None, at: str = AT):
    return event(
        "unit.solicitation-missed",
        {"unit_id": unit_id, "solicitation": "区政府办公室约稿", **_optional(responsible_officers=responsible)},
        at=at,
    )


def criticized(unit_id: str, *, responsible: list[str] | None = None, at: str = AT):
    return event(
        "unit.criticized",
        {"unit_id": unit_id, "bulletin": "通报批评2026年第1号", **_optional(responsible_officers=responsible)},
        at=at,
    )


def deduction_disputed(unit_id: str, deduction_event_id: str, *, at: str = AT):
    return event(
        "unit.deduction-disputed",
        {"unit_id": unit_id, "deduction_event_id": deduction_event_id, "reason": "已按时报送，附系统截图"},
        at=at,
    )


def dispute_resolved(unit_id: str, deduction_event_id: str, outcome: str, *, at: str = AT):
    return event(
        "unit.dispute-resolved",
        {"unit_id": unit_id, "deduction_event_id": deduction_event_id, "outcome": outcome, "reason": "经核实"},
        at=at,
    )


def revoked(target_event_id: str, *, at: str = AT):
    return event("event.revoked", {"target_event_id": target_event_id, "reason": "录入错误"}, at=at)


def _after_month(year: int, month: int) -> str:
    """09:00 Shanghai time on the first day after the month: the earliest ordinary time to close it."""
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01T09:00:00+08:00"


def month_closed(year: int, month: int, *, at: str | None = None):
    return event("period.month-closed", {"year": year, "month": month}, at=at or _after_month(year, month))


def month_reopened(year: int, month: int, *, at: str | None = None):
    return event(
        "period.month-reopened",
        {"year": year, "month": month, "reason": "补录采用信息"},
        at=at or _after_month(year, month),
    )


# --- posting ---------------------------------------------------------------------------------------


async def post(kaohe, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]:
    response = await kaohe.ingest.post("/v1/events", json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def given(kaohe, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    """Append the events as one batch; they must all be accepted."""
    response = await kaohe.ingest.post("/v1/events/batch", json={"events": list(bodies)})
    assert response.status_code == 201, response.text
    return response.json()["results"]


async def refused(kaohe, body: dict[str, Any], status: int, code: str, *, batch: bool = False) -> dict[str, Any]:
    """POST (one event or a batch) must answer `status` with problem `code`, and the log must not move."""
    head = await kaohe.head()
    path, payload = ("/v1/events/batch", body) if batch else ("/v1/events", body)
    response = await kaohe.ingest.post(path, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem["status"] == status
    assert await kaohe.head() == head, "a refused request moved the log head"
    return problem


def entries(ledger: dict[str, Any]) -> list[tuple]:
    """The ledger's lines as (clause, points, reward_yuan, officer_ids, revoked_by) for compact asserts."""
    return [(e["clause"], e["points"], e["reward_yuan"], e["officer_ids"], e["revoked_by"]) for e in ledger["entries"]]
