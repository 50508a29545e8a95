"""The event log: idempotency, optimistic concurrency, immutability enforced by the database."""

import uuid

import asyncpg
import pytest

from shared.db import asyncpg_dsn

UNIT = {"unit_id": "U1", "name": "区发改委", "kind": "department"}


async def test_same_event_id_twice_is_stored_once_and_answers_duplicate(kaohe):
    event_id = str(uuid.uuid4())
    first = await kaohe.post("unit.registered", UNIT, event_id=event_id)
    again = await kaohe.post("unit.registered", UNIT, event_id=event_id, expect=200)
    assert again["duplicate"] is True
    assert again["global_position"] == first["global_position"]
    assert again["data"] == UNIT and again["actor"]["role"] == "admin"
    assert await kaohe.head() == first["global_position"]


async def test_same_event_id_with_other_content_is_a_conflict(kaohe):
    event_id = str(uuid.uuid4())
    await kaohe.post("unit.registered", UNIT, event_id=event_id)
    head = await kaohe.head()
    conflict = await kaohe.post("unit.registered", {**UNIT, "name": "别的名字"}, event_id=event_id, expect=409)
    assert conflict["code"] == "event_id_conflict"
    assert await kaohe.head() == head


async def test_stale_expected_version_is_refused(kaohe):
    await kaohe.post("unit.registered", UNIT, expected_version=0)
    target = {"unit_id": "U1", "year": 2026, "month": None, "submissions": 3, "adoptions": 1}
    ok = await kaohe.post("unit.target-set", target, expected_version=1)
    assert ok["stream_version"] == 2
    head = await kaohe.head()
    stale = await kaohe.post("unit.target-set", target, expected_version=1, expect=409)
    assert stale["code"] == "wrong_expected_version"
    assert await kaohe.head() == head


async def test_stream_read_back_in_version_order(kaohe):
    await kaohe.post("unit.registered", UNIT)
    await kaohe.post("unit.target-set", {"unit_id": "U1", "year": 2026, "submissions": 3, "adoptions": 1})
    response = await kaohe.ingest.get("/v1/streams/unit-U1")
    body = response.json()
    assert body["stream_id"] == "unit-U1" and body["version"] == 2
    assert [e["stream_version"] for e in body["events"]] == [1, 2]
    assert [e["type"] for e in body["events"]] == ["unit.registered", "unit.target-set"]
    missing = await kaohe.ingest.get("/v1/streams/unit-nobody")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventlog.events SET type = 'x'",
        "DELETE FROM eventlog.events",
        "TRUNCATE eventlog.events",
    ],
)
async def test_the_database_refuses_to_change_the_log(kaohe, database_url, statement):
    await kaohe.post("unit.registered", UNIT)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM eventlog.events") == 1
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "body, code",
    [
        ({"type": "unit.registered", "occurred_at": "2026-03-05T10:00:00", "data": UNIT}, "validation_error"),
        ({"type": "unit.exploded", "occurred_at": "2026-03-05T10:00:00+08:00", "data": UNIT}, "unknown_event_type"),
        (
            {"type": "unit.registered", "occurred_at": "2026-03-05T10:00:00+08:00", "data": {"unit_id": "U2"}},
            "validation_error",
        ),
        (
            {
                "type": "item.submitted",
                "occurred_at": "2026-03-05T10:00:00+08:00",
                "data": {"item_id": "I1", "unit_id": "nobody", "title": "标题", "kind": "single"},
            },
            "unknown_unit",
        ),
        (
            {
                "type": "item.adopted",
                "occurred_at": "2026-03-05T10:00:00+08:00",
                "data": {"item_id": "nothing", "channel": "city"},
            },
            "unknown_item",
        ),
    ],
)
async def test_bad_input_is_a_problem_and_changes_nothing(kaohe, body, code):
    await kaohe.post("unit.registered", UNIT)
    head = await kaohe.head()
    response = await kaohe.ingest.post("/v1/events", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code and problem["status"] == 422 and problem["title"] and problem["detail"]
    assert await kaohe.head() == head
