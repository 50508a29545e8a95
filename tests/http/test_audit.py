"""GET /v1/audit/deductions/{event_id}: the recorded event, its disputes, log-order totals, replay check."""

import uuid

import asyncpg
import yaml

from shared.db import asyncpg_dsn
from shared.settings import REPO_ROOT

POLICY = yaml.safe_load((REPO_ROOT / "policies" / "2026.yaml").read_text(encoding="utf-8"))
TEXT = {clause["id"]: clause["text"] for clause in POLICY["clauses"]}
MARCH = "2026-03-05T10:00:00+08:00"


async def register(kaohe, unit_id: str, *officers: str) -> None:
    await kaohe.post(
        "unit.registered",
        {"unit_id": unit_id, "name": f"单位{unit_id}", "kind": "township"},
        occurred_at="2025-01-02T09:00:00+08:00",
    )
    for officer_id in officers:
        await kaohe.post(
            "officer.registered",
            {"officer_id": officer_id, "unit_id": unit_id, "name": "王信息员"},
            occurred_at="2025-01-02T09:00:00+08:00",
        )


async def deduct(kaohe, type_name: str, data: dict, *, at: str = MARCH, **extra) -> str:
    event_id = str(uuid.uuid4())
    await kaohe.post(type_name, data, occurred_at=at, event_id=event_id, **extra)
    return event_id


async def audit(kaohe, event_id: str, expect: int = 200) -> dict:
    await kaohe.settled()
    response = await kaohe.scoring.get(f"/v1/audit/deductions/{event_id}")
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_deduction_disputed_twice_and_revoked_shows_the_whole_chain(kaohe):
    await register(kaohe, "U1", "O1")
    late = await deduct(
        kaohe,
        "unit.late-reported",
        {"unit_id": "U1", "level": "city", "kind": "late", "responsible_officers": ["O1"], "note": "防汛信息迟报"},
        metadata={"source": "督查室", "reference": "市府办通报〔2026〕7号"},
    )
    first = await deduct(
        kaohe, "unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": late, "reason": "已按时口头报告"}
    )
    upheld = await deduct(
        kaohe,
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": late, "outcome": "upheld", "reason": "无书面记录"},
    )
    second = await deduct(
        kaohe, "unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": late, "reason": "补充提交短信截图"}
    )
    revoked = await deduct(
        kaohe,
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": late, "outcome": "revoked", "reason": "证据属实"},
    )
    # A deduction recorded after the revocation: the revoked one no longer counts before it.
    later = await deduct(kaohe, "unit.solicitation-missed", {"unit_id": "U1"})

    body = await audit(kaohe, late)
    event = body["event"]
    assert (event["event_id"], event["type"], event["stream_id"]) == (late, "unit.late-reported", "unit-U1")
    assert event["actor"] == {"name": "bootstrap-admin", "role": "admin"}
    assert event["metadata"] == {"source": "督查室", "reference": "市府办通报〔2026〕7号"}
    assert event["data"]["note"] == "防汛信息迟报" and event["recorded_at"]
    assert (body["clause"], body["clause_text"], body["points"]) == ("D5", TEXT["D5"], -50)
    assert (body["revoked"], body["revoked_by"]) == (True, revoked)
    assert [
        (d["event_id"], d["reason"], d["resolution"]["event_id"], d["resolution"]["outcome"]) for d in body["disputes"]
    ] == [(first, "已按时口头报告", upheld, "upheld"), (second, "补充提交短信截图", revoked, "revoked")]
    assert all(d["recorded_at"] for d in body["disputes"])
    # The later revocation shows in `revoked`, not in the log-order figures.
    assert (body["year_deduction_points_before"], body["year_deduction_points_after"]) == (0, 50)
    assert body["thresholds_crossed"] == []
    assert body["replay_check"] == {"recomputed": 50, "projected": 50, "match": True}

    after = await audit(kaohe, later)
    assert (after["clause"], after["points"], after["revoked"], after["disputes"]) == ("D7", -50, False, [])
    assert (after["year_deduction_points_before"], after["year_deduction_points_after"]) == (0, 50)

    ledger = await kaohe.unit_ledger("U1")
    assert ledger["deduction_points"] == after["replay_check"]["projected"] == 50


async def test_an_open_dispute_has_no_resolution(kaohe):
    await register(kaohe, "U1")
    missed = await deduct(kaohe, "unit.solicitation-missed", {"unit_id": "U1"})
    dispute = await deduct(
        kaohe, "unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": missed, "reason": "约稿通知未送达"}
    )
    body = await audit(kaohe, missed)
    assert [(d["event_id"], d["resolution"]) for d in body["disputes"]] == [(dispute, None)]
    assert (body["revoked"], body["revoked_by"]) == (False, None)


async def test_thresholds_crossed_in_log_order_per_year(kaohe):
    await register(kaohe, "U1")
    await register(kaohe, "U2")
    d6b = await deduct(kaohe, "unit.late-reported", {"unit_id": "U1", "level": "district", "kind": "missed"})
    d6 = await deduct(kaohe, "unit.late-reported", {"unit_id": "U1", "level": "district", "kind": "late"})
    d1 = await deduct(kaohe, "unit.assessed", {"unit_id": "U1", "year": 2026, "outcome": "inadequate"})
    old_year = await deduct(
        kaohe,
        "unit.late-reported",
        {"unit_id": "U1", "level": "province", "kind": "missed"},
        at="2025-12-20T10:00:00+08:00",
    )
    d8 = await deduct(kaohe, "unit.criticized", {"unit_id": "U1"})
    # exactly at the threshold counts as crossing it (before < T <= after)
    first = await deduct(kaohe, "unit.false-information", {"unit_id": "U2", "points": 50})
    second = await deduct(kaohe, "unit.false-information", {"unit_id": "U2", "points": 50})
    # U2's own thresholds are untouched by U1's deductions
    expected = {
        d6b: (60, 0, 60, []),
        d6: (30, 60, 90, []),
        d1: (20, 90, 110, [100]),
        old_year: (200, 0, 200, [100, 200]),
        d8: (100, 110, 210, [200]),
        first: (50, 0, 50, []),
        second: (50, 50, 100, [100]),
    }
    for event_id, (points, before, after, crossed) in expected.items():
        body = await audit(kaohe, event_id)
        assert (
            -body["points"],
            body["year_deduction_points_before"],
            body["year_deduction_points_after"],
            body["thresholds_crossed"],
        ) == (points, before, after, crossed), event_id
        assert body["replay_check"]["match"] is True
    assert (await audit(kaohe, d1))["clause"] == "D1"
    assert (await audit(kaohe, old_year))["year"] == 2025
    assert (await audit(kaohe, d8))["replay_check"]["recomputed"] == 210


async def test_unknown_events_are_404_and_non_deductions_422(kaohe):
    await register(kaohe, "U1")
    adequate = await deduct(kaohe, "unit.assessed", {"unit_id": "U1", "year": 2026, "outcome": "adequate"})
    submitted = await deduct(
        kaohe, "item.submitted", {"item_id": "I1", "unit_id": "U1", "title": "信息", "kind": "single"}
    )
    for event_id in (adequate, submitted):
        assert (await audit(kaohe, event_id, expect=422))["code"] == "not_a_deduction"
    for event_id in (str(uuid.uuid4()), "not-a-uuid"):
        assert (await audit(kaohe, event_id, expect=404))["code"] == "not_found"


async def test_a_tampered_projection_row_fails_the_replay_check(kaohe, database_url):
    await register(kaohe, "U1")
    criticized = await deduct(kaohe, "unit.criticized", {"unit_id": "U1"})
    assert (await audit(kaohe, criticized))["replay_check"] == {"recomputed": 100, "projected": 100, "match": True}

    conn = await asyncpg.connect(asyncpg_dsn(database_url))  # as postgres, behind the services' backs
    try:
        schema = await conn.fetchval("SELECT schema_name FROM scoring.active_generation")
        changed = await conn.execute(
            f"UPDATE {schema}.lines SET points = -70 WHERE event_id = $1::uuid AND officer_id IS NULL", criticized
        )
        assert changed == "UPDATE 1"
    finally:
        await conn.close()

    body = await audit(kaohe, criticized)
    assert body["replay_check"] == {"recomputed": 100, "projected": 70, "match": False}
    # the derivation itself comes from the log, not from the tampered row
    assert (body["points"], body["year_deduction_points_after"]) == (-100, 100)
