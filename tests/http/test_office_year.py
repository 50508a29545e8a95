"""The office's year over HTTP: 约稿 and D7 from the close, per-unit disputes, GET /v1/solicitations,
整改 and GET /v1/rectifications, rewards.paid and the half-year statement (rules.md "The office's year")."""

from typing import Any

import httpx

from shared.auth import create_key
from shared.db import make_engine
from tests.support import factories as f
from tests.support.factories import event, given, post, refused
from tests.support.harness import running_kaohe

DEADLINE = "2026-03-10T18:00:00+08:00"
AFTER = "2026-03-12T09:00:00+08:00"


def issued(solicitation_id: str, *, unit_ids: list[str] | None = None, deadline: str = DEADLINE, at: str = f.AT):
    data: dict[str, Any] = {"solicitation_id": solicitation_id, "title": f"约稿{solicitation_id}", "deadline": deadline}
    if unit_ids is not None:
        data["unit_ids"] = unit_ids
    return event("solicitation.issued", data, at=at)


def closed(solicitation_id: str, *, at: str = AFTER):
    return event("solicitation.closed", {"solicitation_id": solicitation_id}, at=at)


def answer(item_id: str, unit_id: str, solicitation_id: str, *, at: str):
    return f.item_submitted(item_id, unit_id, at=at, solicitation_id=solicitation_id)


async def unit_key(database_url: str, unit_id: str) -> str:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await create_key(conn, role="unit", name=f"key-{unit_id}", unit_id=unit_id)
    finally:
        await engine.dispose()


def as_key(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {key}"}}


async def solicitations(kaohe, **params: Any) -> list[dict[str, Any]]:
    await kaohe.settled()
    response = await kaohe.reporting.get("/v1/solicitations", params=params)
    assert response.status_code == 200, response.text
    return response.json()["solicitations"]


def d7(ledger: dict[str, Any]) -> list[tuple]:
    return [
        (e["clause"], e["points"], e["event_id"], e["revoked_by"]) for e in ledger["entries"] if e["clause"] == "D7"
    ]


async def _district(kaohe, *units: str) -> None:
    await given(kaohe, *(f.unit_registered(u) for u in units))


async def test_d7_on_time_late_missing_and_not_asked(kaohe):
    await _district(kaohe, "U1", "U2", "U3", "U4")
    await given(
        kaohe,
        issued("S1", unit_ids=["U1", "U2", "U3"]),
        answer("I1", "U1", "S1", at="2026-03-09T09:00:00+08:00"),
        answer("I2", "U2", "S1", at="2026-03-11T09:00:00+08:00"),
    )
    [open_row] = await solicitations(kaohe, status="open")
    assert [(u["unit_id"], u["status"], u["item_ids"]) for u in open_row["units"]] == [
        ("U1", "on_time", ["I1"]),
        ("U2", "late", ["I2"]),
        ("U3", "pending", []),
    ]
    close = await post(kaohe, closed("S1"))
    assert d7(await kaohe.unit_ledger("U1")) == []
    assert d7(await kaohe.unit_ledger("U2", period="2026-03")) == [("D7", -50, close["event_id"], None)]
    assert d7(await kaohe.unit_ledger("U3", period="2026-Q1")) == [("D7", -50, close["event_id"], None)]
    assert d7(await kaohe.unit_ledger("U4")) == []
    assert (await kaohe.unit_ledger("U3"))["deduction_points"] == 50
    assert await solicitations(kaohe, status="open") == []
    [row] = await solicitations(kaohe, status="closed")
    assert row["closed"] is True and row["deadline"].startswith("2026-03-10T10:00:00")
    assert [(u["unit_id"], u["status"]) for u in row["units"]] == [("U1", "on_time"), ("U2", "late"), ("U3", "missing")]
    await refused(kaohe, answer("I4", "U4", "S1", at=AFTER), 422, "not_solicited")


async def test_close_at_the_deadline_and_the_refusals(kaohe):
    await _district(kaohe, "U1", "U2")
    await post(kaohe, issued("S1"))  # none named: both units, registered before
    await refused(kaohe, issued("S1"), 409, "solicitation_already_issued")
    await refused(kaohe, issued("S2", unit_ids=["U9"]), 422, "unknown_unit")
    await refused(kaohe, closed("S1", at="2026-03-10T17:59:59+08:00"), 422, "deadline_not_reached")
    await refused(kaohe, closed("S9"), 422, "unknown_solicitation")
    await refused(kaohe, answer("I9", "U1", "S9", at=DEADLINE), 422, "unknown_solicitation")
    await post(kaohe, answer("I1", "U1", "S1", at=DEADLINE))  # at the deadline is on time
    close = await post(kaohe, closed("S1", at=DEADLINE))
    await refused(kaohe, closed("S1"), 409, "solicitation_already_closed")
    assert d7(await kaohe.unit_ledger("U1")) == []
    assert d7(await kaohe.unit_ledger("U2")) == [("D7", -50, close["event_id"], None)]


async def test_one_units_d7_revoked_on_dispute_while_anothers_stands(kaohe, database_url):
    await _district(kaohe, "U1", "U2", "U3")
    close = (await given(kaohe, issued("S1"), closed("S1")))[1]["event_id"]
    key = await unit_key(database_url, "U1")
    # the unit's own key disputes its own D7, naming the close; another unit's key may not for U1
    dispute = f.deduction_disputed("U1", close)
    response = await kaohe.ingest.post("/v1/events", json=dispute, **as_key(kaohe.ingest, key))
    assert response.status_code == 201, response.text
    other = await kaohe.ingest.post("/v1/events", json=f.deduction_disputed("U2", close), **as_key(kaohe.ingest, key))
    assert other.status_code == 403, other.text
    await post(kaohe, f.deduction_disputed("U2", close))
    resolved = await post(kaohe, f.dispute_resolved("U1", close, "revoked"))
    await post(kaohe, f.dispute_resolved("U2", close, "upheld"))
    assert d7(await kaohe.unit_ledger("U1")) == [("D7", -50, close, resolved["event_id"])]
    assert (await kaohe.unit_ledger("U1"))["deduction_points"] == 0
    assert d7(await kaohe.unit_ledger("U2")) == [("D7", -50, close, None)]
    assert d7(await kaohe.unit_ledger("U3")) == [("D7", -50, close, None)]
    assert (await kaohe.unit_ledger("U3"))["deduction_points"] == 50
    # a unit key sees its own rows only
    response = await kaohe.reporting.get("/v1/solicitations", **as_key(kaohe.reporting, key))
    [row] = response.json()["solicitations"]
    assert [u["unit_id"] for u in row["units"]] == ["U1"]
    # the rebuilt projection agrees (the per-unit revocation is replayed the same way)
    job = await kaohe.scoring.post("/v1/projections/rebuild")
    assert job.status_code == 202


async def test_solicitations_survive_a_restart_of_the_projector(database_url):
    """The fold restores open solicitations (asked units, on-time answers) from its generation."""
    async with running_kaohe(database_url) as kaohe:
        await _district(kaohe, "U1", "U2")
        await given(kaohe, issued("S1"), answer("I1", "U1", "S1", at="2026-03-09T09:00:00+08:00"))
        await kaohe.settled()
    async with running_kaohe(database_url) as kaohe:
        close = await post(kaohe, closed("S1"))
        assert d7(await kaohe.unit_ledger("U1")) == []
        assert d7(await kaohe.unit_ledger("U2")) == [("D7", -50, close["event_id"], None)]


async def test_rectification_states_and_refusals(kaohe, database_url):
    await _district(kaohe, "U1", "U2", "U3")
    key = await unit_key(database_url, "U1")
    plan = event("unit.rectification-submitted", {"unit_id": "U1", "year": 2026, "plan": "明确专人，每月报送5条"})
    response = await kaohe.ingest.post("/v1/events", json=plan, **as_key(kaohe.ingest, key))
    assert response.status_code == 201, response.text
    review = {"unit_id": "U1", "year": 2026, "outcome": "accepted", "reason": "同意"}
    forbidden = await kaohe.ingest.post(
        "/v1/events", json=event("unit.rectification-reviewed", review), **as_key(kaohe.ingest, key)
    )
    assert forbidden.status_code == 403, forbidden.text
    await refused(kaohe, {**plan, "event_id": None}, 409, "rectification_pending")
    await post(kaohe, event("unit.rectification-reviewed", {**review, "outcome": "returned", "reason": "不具体"}))
    await refused(kaohe, event("unit.rectification-reviewed", review), 409, "no_rectification_pending")
    await post(kaohe, {**plan, "event_id": None})
    await post(kaohe, event("unit.rectification-submitted", {"unit_id": "U2", "year": 2026, "plan": "加强"}))
    await post(kaohe, event("unit.rectification-reviewed", {**review, "unit_id": "U2"}))
    await post(kaohe, event("unit.rectification-submitted", {"unit_id": "U3", "year": 2026, "plan": "加强"}))
    await post(kaohe, event("unit.rectification-reviewed", {**review, "unit_id": "U3", "outcome": "returned"}))
    await kaohe.settled()
    rows = (await kaohe.reporting.get("/v1/rectifications/2026")).json()["rows"]
    assert [(r["unit_id"], r["status"]) for r in rows] == [("U1", "submitted"), ("U2", "accepted"), ("U3", "returned")]
    own = (await kaohe.reporting.get("/v1/rectifications/2026", **as_key(kaohe.reporting, key))).json()["rows"]
    assert [r["unit_id"] for r in own] == ["U1"] and own[0]["plan"] == "明确专人，每月报送5条"


async def test_a_unit_on_the_rectification_list_shows_as_required(kaohe):
    await _district(kaohe, "U1", "U2")
    await given(
        kaohe,
        f.target_set("U1", submissions=10, adoptions=2),
        f.target_set("U2", submissions=0, adoptions=0),
        f.item_submitted("I1", "U2"),
    )
    await kaohe.settled()
    rows = (await kaohe.reporting.get("/v1/rectifications/2026")).json()["rows"]
    assert ("U1", "required") in [(r["unit_id"], r["status"]) for r in rows]
    assert "U2" not in [r["unit_id"] for r in rows]


async def test_statement_before_and_after_a_revocation_and_bad_payments(kaohe):
    await _district(kaohe, "U1")
    await given(
        kaohe,
        f.officer_registered("O1", "U1"),
        f.officer_registered("O2", "U1"),
        f.item_submitted("I1", "U1", authors=["O1", "O2"]),
    )
    adoption = await post(kaohe, f.item_adopted("I1", "district_zhengwu"))
    paid = {"unit_id": "U1", "period": "2026-H1", "amount_yuan": "20.00", "reference": "凭证 2026-07-001"}
    await post(kaohe, event("rewards.paid", paid, at="2026-07-05T10:00:00+08:00"))
    await kaohe.settled()
    body = (await kaohe.reporting.get("/v1/rewards/statement", params={"period": "2026-H1"})).json()
    [row] = body["units"]
    assert (row["earned_yuan"], row["paid_yuan"], row["balance_yuan"]) == ("20.00", "20.00", "0.00")
    assert [(o["officer_id"], o["share_yuan"]) for o in row["officers"]] == [("O1", "10.00"), ("O2", "10.00")]
    assert (body["total_earned_yuan"], body["total_paid_yuan"]) == ("20.00", "20.00")
    await post(kaohe, f.revoked(adoption["event_id"]))
    await kaohe.settled()
    body = (await kaohe.reporting.get("/v1/rewards/statement", params={"period": "2026-H1"})).json()
    [row] = body["units"]
    assert (row["earned_yuan"], row["paid_yuan"], row["balance_yuan"]) == ("0.00", "20.00", "-20.00")
    xlsx = await kaohe.reporting.get("/v1/rewards/statement", params={"period": "2026-H1", "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert (await kaohe.reporting.get("/v1/rewards/statement", params={"period": "2026-Q1"})).status_code == 422
    for amount in ("0.00", "-5.00"):
        await refused(kaohe, event("rewards.paid", {**paid, "amount_yuan": amount}), 422, "amount_not_positive")
    for bad in ({"amount_yuan": "5.001"}, {"amount_yuan": "5"}, {"period": "2026-Q1"}, {"period": "2026-H3"}):
        await refused(kaohe, event("rewards.paid", {**paid, **bad}), 422, "validation_error")
