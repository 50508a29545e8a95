"""The audit of a 约稿's close, and a rebuild after one unit's D7 of a close was revoked.

A close is one event that deducts D7 from every asked unit with nothing on time; its audit is one
unit's (services/scoring/audit.py): `?unit_id=` names it, may be left out when the close deducted
one unit only, and is 422 `unit_id_required` when it deducted several.
"""

from tests.http.test_rebuild import wait_for_job
from tests.support import factories as f
from tests.support.compare import assert_projection_equals_fresh_fold
from tests.support.factories import event, given, post

DEADLINE = "2026-03-10T18:00:00+08:00"
CLOSE = "2026-03-12T09:00:00+08:00"


def issued(solicitation_id: str, unit_ids: list[str]) -> dict:
    data = {"solicitation_id": solicitation_id, "title": "春耕备耕约稿", "deadline": DEADLINE, "unit_ids": unit_ids}
    return event("solicitation.issued", data, at="2026-03-02T09:00:00+08:00")


def answer(item_id: str, unit_id: str, solicitation_id: str, at: str) -> dict:
    return f.item_submitted(item_id, unit_id, at=at, solicitation_id=solicitation_id)


async def audit(kaohe, event_id: str, expect: int = 200, **params: str) -> dict:
    await kaohe.settled()
    response = await kaohe.scoring.get(f"/v1/audit/deductions/{event_id}", params=params)
    assert response.status_code == expect, response.text
    return response.json()


async def _a_close_of_three_units(kaohe) -> tuple[str, str, str]:
    """U1 on time, U2 late (and an earlier D5), U3 nothing, U4 not asked; U3 disputes and gets its D7 revoked.
    Returns (close, U2's earlier deduction, U3's revoking resolution)."""
    await given(kaohe, *(f.unit_registered(u, at="2026-01-02T09:00:00+08:00") for u in ("U1", "U2", "U3", "U4")))
    earlier = await post(kaohe, f.late_reported("U2", level="city", kind="late", at="2026-02-10T10:00:00+08:00"))
    await given(
        kaohe,
        issued("S1", ["U1", "U2", "U3"]),
        answer("I1", "U1", "S1", "2026-03-09T09:00:00+08:00"),
        answer("I2", "U2", "S1", "2026-03-11T09:00:00+08:00"),
    )
    close = (await post(kaohe, event("solicitation.closed", {"solicitation_id": "S1"}, at=CLOSE)))["event_id"]
    await post(kaohe, f.deduction_disputed("U3", close, at="2026-03-13T09:00:00+08:00"))
    resolved = await post(kaohe, f.dispute_resolved("U3", close, "revoked", at="2026-03-16T09:00:00+08:00"))
    return close, earlier["event_id"], resolved["event_id"]


async def test_a_close_of_several_units_is_audited_one_unit_at_a_time(kaohe):
    close, _earlier, resolved = await _a_close_of_three_units(kaohe)

    problem = await audit(kaohe, close, expect=422)
    assert problem["code"] == "unit_id_required" and problem["unit_ids"] == ["U2", "U3"]
    assert problem["errors"][0]["loc"] == ["query", "unit_id"]
    for not_deducted in ("U1", "U4", "U9"):  # on time, not asked, unknown
        assert (await audit(kaohe, close, expect=422, unit_id=not_deducted))["code"] == "not_a_deduction"
    assert (await audit(kaohe, close, expect=422, unit_id="U 2"))["code"] == "validation_error"

    late = await audit(kaohe, close, unit_id="U2")
    assert (late["event"]["event_id"], late["event"]["type"]) == (close, "solicitation.closed")
    assert (late["unit_id"], late["year"], late["clause"], late["points"]) == ("U2", 2026, "D7", -50)
    assert (late["revoked"], late["revoked_by"], late["disputes"]) == (False, None, [])
    # U2's D5 of February came first: 50 → 100 crosses the exclusion threshold
    assert (late["year_deduction_points_before"], late["year_deduction_points_after"]) == (50, 100)
    assert late["thresholds_crossed"] == [100]
    assert late["replay_check"] == {"recomputed": 100, "projected": 100, "match": True}

    missing = await audit(kaohe, close, unit_id="U3")
    assert (missing["unit_id"], missing["points"], missing["revoked"], missing["revoked_by"]) == (
        "U3",
        -50,
        True,
        resolved,
    )
    [dispute] = missing["disputes"]
    assert (dispute["resolution"]["event_id"], dispute["resolution"]["outcome"]) == (resolved, "revoked")
    assert (missing["year_deduction_points_before"], missing["year_deduction_points_after"]) == (0, 50)
    assert missing["replay_check"] == {"recomputed": 0, "projected": 0, "match": True}  # revoked since


async def test_a_close_of_one_unit_needs_no_unit_and_a_close_of_none_is_not_a_deduction(kaohe):
    await given(kaohe, *(f.unit_registered(u, at="2026-01-02T09:00:00+08:00") for u in ("U1", "U2")))
    await given(kaohe, issued("S1", ["U1", "U2"]), answer("I1", "U1", "S1", "2026-03-09T09:00:00+08:00"))
    await given(kaohe, issued("S2", ["U1"]), answer("I2", "U1", "S2", "2026-03-09T10:00:00+08:00"))
    one = (await post(kaohe, event("solicitation.closed", {"solicitation_id": "S1"}, at=CLOSE)))["event_id"]
    none = (await post(kaohe, event("solicitation.closed", {"solicitation_id": "S2"}, at=CLOSE)))["event_id"]
    body = await audit(kaohe, one)
    assert (body["unit_id"], body["clause"], body["points"]) == ("U2", "D7", -50)
    assert body == await audit(kaohe, one, unit_id="U2")
    assert (await audit(kaohe, none, expect=422))["code"] == "not_a_deduction"


async def test_unit_id_on_an_ordinary_deduction_must_be_its_unit(kaohe):
    await given(kaohe, *(f.unit_registered(u, at="2026-01-02T09:00:00+08:00") for u in ("U1", "U2")))
    criticized = (await post(kaohe, f.criticized("U1")))["event_id"]
    assert (await audit(kaohe, criticized, unit_id="U1"))["unit_id"] == "U1"
    assert (await audit(kaohe, criticized, expect=422, unit_id="U2"))["code"] == "not_a_deduction"


async def test_a_rebuild_after_one_units_d7_was_revoked_equals_the_live_projection(kaohe, database_url):
    """The revocation reaches one unit's line of the close only, live and in a rebuild alike."""
    close, _earlier, resolved = await _a_close_of_three_units(kaohe)
    await kaohe.settled()
    live = await assert_projection_equals_fresh_fold(database_url)
    ledgers = {u: (await kaohe.unit_ledger(u))["entries"] for u in ("U1", "U2", "U3")}
    ranking = await kaohe.ranking("2026")
    d7 = {u: [(e["event_id"], e["revoked_by"]) for e in ledgers[u] if e["clause"] == "D7"] for u in ledgers}
    assert d7 == {"U1": [], "U2": [(close, None)], "U3": [(close, resolved)]}

    response = await kaohe.scoring.post("/v1/projections/rebuild")
    assert response.status_code == 202, response.text
    job = await wait_for_job(kaohe.scoring, response.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert await assert_projection_equals_fresh_fold(database_url) == live
    assert {u: (await kaohe.unit_ledger(u))["entries"] for u in ledgers} == ledgers
    assert (await kaohe.ranking("2026"))["rows"] == ranking["rows"]
