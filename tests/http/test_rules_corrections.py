"""Corrections: `event.revoked`, disputes of deductions, and the one-assessment-per-year rule."""

from tests.support.factories import (
    assessed,
    criticized,
    deduction_disputed,
    dispute_resolved,
    entries,
    given,
    item_adopted,
    item_endorsed,
    item_submitted,
    late_reported,
    officer_registered,
    post,
    refused,
    revoked,
    solicitation_missed,
    unit_registered,
)


async def _adopted_item(kaohe) -> dict:
    await given(
        kaohe,
        unit_registered("U1"),
        unit_registered("U2"),
        officer_registered("O1", "U1"),
        officer_registered("O2", "U1"),
        item_submitted("I1", "U1", authors=["O1", "O2"]),
    )
    adoption = item_adopted("I1", "city", issue="政府专报 第5期", contributors=[{"unit_id": "U2", "extra_points": 5}])
    await post(kaohe, adoption)
    return adoption


# --- event.revoked ---------------------------------------------------------------------------------


async def test_a_revoked_adoption_stays_visible_and_stops_counting(kaohe):
    adoption = await _adopted_item(kaohe)
    await post(kaohe, item_adopted("I1", "district_daily"))
    before = await kaohe.unit_ledger("U1")
    assert (before["net_points"], before["reward_yuan"]) == (60, "120.00")

    revocation = revoked(adoption["event_id"])
    await post(kaohe, revocation)
    by = revocation["event_id"]
    u1 = await kaohe.unit_ledger("U1")
    assert entries(u1) == [("S4", 50, "100.00", ["O1", "O2"], by), ("S3c", 10, "20.00", ["O1", "O2"], None)]
    assert (u1["net_points"], u1["award_points"], u1["reward_yuan"]) == (10, 10, "20.00")
    u2 = await kaohe.unit_ledger("U2")
    assert entries(u2) == [("S6", 15, "0.00", [], by)] and u2["net_points"] == 0
    o1 = await kaohe.officer_ledger("O1")
    assert entries(o1) == [("S4", 50, "50.00", ["O1", "O2"], by), ("S3c", 10, "10.00", ["O1", "O2"], None)]
    assert (o1["net_points"], o1["reward_yuan"]) == (10, "10.00")


async def test_revoked_deductions_and_endorsements_stop_counting(kaohe):
    await given(
        kaohe, unit_registered("U1"), officer_registered("O1", "U1"), item_submitted("I1", "U1", authors=["O1"])
    )
    endorsement, deduction = item_endorsed("I1", "province"), late_reported("U1", "city", "late", responsible=["O1"])
    await given(kaohe, endorsement, deduction)
    assert (await kaohe.unit_ledger("U1"))["net_points"] == 80 - 50
    await given(kaohe, revoked(endorsement["event_id"]), revoked(deduction["event_id"]))
    u1 = await kaohe.unit_ledger("U1")
    assert (u1["net_points"], u1["award_points"], u1["deduction_points"], u1["reward_yuan"]) == (0, 0, 0, "0.00")
    assert all(e["revoked_by"] for e in u1["entries"]) and len(u1["entries"]) == 2
    o1 = await kaohe.officer_ledger("O1")
    assert (o1["net_points"], o1["deduction_points"], len(o1["entries"])) == (0, 0, 2)


async def test_revoking_twice_is_409_already_revoked(kaohe):
    adoption = await _adopted_item(kaohe)
    await post(kaohe, revoked(adoption["event_id"]))
    await refused(kaohe, revoked(adoption["event_id"]), 409, "already_revoked")


async def test_revoking_an_event_that_awards_nothing_is_422_not_revocable(kaohe):
    registration, submission = unit_registered("U1"), item_submitted("I1", "U1")
    await given(kaohe, registration, submission, officer_registered("O1", "U1"))
    for target in (registration, submission):
        await refused(kaohe, revoked(target["event_id"]), 422, "not_revocable")
    revocation = revoked((await _adopt(kaohe))["event_id"])
    await post(kaohe, revocation)
    await refused(kaohe, revoked(revocation["event_id"]), 422, "not_revocable")


async def _adopt(kaohe) -> dict:
    adoption = item_adopted("I1", "website_today")
    await post(kaohe, adoption)
    return adoption


async def test_revoking_an_unknown_event_is_422_unknown_event(kaohe):
    await post(kaohe, unit_registered("U1"))
    await refused(kaohe, revoked("6f1c1d4e-1111-4222-8333-944455556666"), 422, "unknown_event")


async def test_a_revoked_adoption_may_be_recorded_again_in_the_same_issue(kaohe):
    adoption = await _adopted_item(kaohe)
    again = item_adopted("I1", "city", issue="政府专报 第5期")
    await refused(kaohe, again, 409, "duplicate_adoption")
    await post(kaohe, revoked(adoption["event_id"]))
    await post(kaohe, again)
    assert (await kaohe.unit_ledger("U1"))["net_points"] == 50


# --- disputes --------------------------------------------------------------------------------------


async def _deducted(kaohe) -> dict:
    await given(kaohe, unit_registered("U1"), unit_registered("U2"), officer_registered("O1", "U1"))
    deduction = criticized("U1", responsible=["O1"])
    await post(kaohe, deduction)
    return deduction


async def test_a_dispute_resolved_as_revoked_reverses_the_deduction(kaohe):
    deduction = await _deducted(kaohe)
    await post(kaohe, deduction_disputed("U1", deduction["event_id"]))
    assert (await kaohe.unit_ledger("U1"))["net_points"] == -100  # a dispute alone changes nothing
    resolution = dispute_resolved("U1", deduction["event_id"], "revoked")
    await post(kaohe, resolution)
    u1 = await kaohe.unit_ledger("U1")
    assert entries(u1) == [("D8", -100, "0.00", ["O1"], resolution["event_id"])]
    assert (u1["net_points"], u1["deduction_points"]) == (0, 0)
    o1 = await kaohe.officer_ledger("O1")
    assert entries(o1) == [("D8", -100, "0.00", ["O1"], resolution["event_id"])] and o1["deduction_points"] == 0
    # a reversed deduction can be neither disputed nor revoked again
    await refused(kaohe, deduction_disputed("U1", deduction["event_id"]), 409, "already_revoked")
    await refused(kaohe, revoked(deduction["event_id"]), 409, "already_revoked")


async def test_an_upheld_deduction_still_counts(kaohe):
    deduction = await _deducted(kaohe)
    await given(
        kaohe, deduction_disputed("U1", deduction["event_id"]), dispute_resolved("U1", deduction["event_id"], "upheld")
    )
    u1 = await kaohe.unit_ledger("U1")
    assert entries(u1) == [("D8", -100, "0.00", ["O1"], None)] and u1["deduction_points"] == 100
    # the dispute is closed: resolving it again finds none open
    await refused(kaohe, dispute_resolved("U1", deduction["event_id"], "revoked"), 409, "no_open_dispute")


async def test_a_second_open_dispute_is_409_dispute_already_open(kaohe):
    deduction = await _deducted(kaohe)
    await post(kaohe, deduction_disputed("U1", deduction["event_id"]))
    await refused(kaohe, deduction_disputed("U1", deduction["event_id"]), 409, "dispute_already_open")


async def test_resolving_without_an_open_dispute_is_409_no_open_dispute(kaohe):
    deduction = await _deducted(kaohe)
    await refused(kaohe, dispute_resolved("U1", deduction["event_id"], "revoked"), 409, "no_open_dispute")


async def test_disputing_what_is_not_a_deduction_of_that_unit_is_422_not_a_deduction(kaohe):
    deduction = await _deducted(kaohe)
    award = assessed("U1", "adequate")
    await given(kaohe, award, item_submitted("I1", "U1"))
    adoption = item_adopted("I1", "district_zhengwu")
    await post(kaohe, adoption)
    for target in (award, adoption):
        await refused(kaohe, deduction_disputed("U1", target["event_id"]), 422, "not_a_deduction")
    # another unit's deduction
    await refused(kaohe, deduction_disputed("U2", deduction["event_id"]), 422, "not_a_deduction")
    await refused(kaohe, dispute_resolved("U2", deduction["event_id"], "revoked"), 422, "not_a_deduction")
    await refused(kaohe, deduction_disputed("U1", "6f1c1d4e-1111-4222-8333-944455556666"), 422, "unknown_event")


async def test_every_deduction_type_can_be_disputed_and_reversed(kaohe):
    await given(kaohe, unit_registered("U1"))
    deductions = [
        late_reported("U1", "province", "missed"),
        solicitation_missed("U1"),
        criticized("U1"),
        {**criticized("U1"), "type": "unit.false-information", "data": {"unit_id": "U1", "points": 60}},
    ]
    await given(kaohe, *deductions)
    assert (await kaohe.unit_ledger("U1"))["deduction_points"] == 200 + 50 + 100 + 60
    for deduction in deductions:
        await given(
            kaohe,
            deduction_disputed("U1", deduction["event_id"]),
            dispute_resolved("U1", deduction["event_id"], "revoked"),
        )
    assert (await kaohe.unit_ledger("U1"))["deduction_points"] == 0


# --- one assessment per unit and year --------------------------------------------------------------


async def test_a_second_assessment_in_a_year_is_409_until_the_first_is_revoked(kaohe):
    await post(kaohe, unit_registered("U1"))
    first = assessed("U1", "inadequate")
    await post(kaohe, first)
    await refused(kaohe, assessed("U1", "adequate"), 409, "already_assessed")
    await refused(kaohe, assessed("U1", "inadequate"), 409, "already_assessed")
    await post(kaohe, assessed("U1", "adequate", year=2027, at="2026-03-06T10:00:00+08:00"))  # another year
    revocation = revoked(first["event_id"])
    await post(kaohe, revocation)
    await post(kaohe, assessed("U1", "adequate"))
    u1 = await kaohe.unit_ledger("U1")
    assert entries(u1) == [("D1", -20, "0.00", [], revocation["event_id"]), ("S1", 20, "0.00", [], None)]
    assert u1["net_points"] == 20


async def test_an_assessment_scores_in_the_year_it_assesses(kaohe):
    """Decision (rules.md is silent): like S2/D2, S1/D1 belong to the period they evaluate; an assessment
    recorded after its year ended scores in that year's December, one recorded early in its January."""
    await post(kaohe, unit_registered("U1", at="2025-01-02T09:00:00+08:00"))
    late, early = (
        assessed("U1", "adequate", year=2025, at="2026-01-15T10:00:00+08:00"),
        assessed("U1", "inadequate", year=2027, at="2026-11-20T10:00:00+08:00"),
    )
    this_year = assessed("U1", "adequate", year=2026, at="2026-02-01T10:00:00+08:00")
    await given(kaohe, late, early, this_year)
    assert [e["event_id"] for e in (await kaohe.unit_ledger("U1", period="2025-12"))["entries"]] == [late["event_id"]]
    assert [e["event_id"] for e in (await kaohe.unit_ledger("U1", period="2027-01"))["entries"]] == [early["event_id"]]
    u1 = await kaohe.unit_ledger("U1", period="2026")
    assert entries(u1) == [("S1", 20, "0.00", [], None)] and u1["entries"][0]["event_id"] == this_year["event_id"]
    assert [e["clause"] for e in (await kaohe.unit_ledger("U1", period="2026-02"))["entries"]] == ["S1"]


async def test_the_audit_of_a_d1_counts_it_in_the_year_it_assesses(kaohe):
    await post(kaohe, unit_registered("U1", at="2025-01-02T09:00:00+08:00"))
    d1 = assessed("U1", "inadequate", year=2025, at="2026-01-15T10:00:00+08:00")
    await given(kaohe, criticized("U1", at="2025-06-01T10:00:00+08:00"), d1)
    await kaohe.settled()
    response = await kaohe.scoring.get(f"/v1/audit/deductions/{d1['event_id']}")
    assert response.status_code == 200, response.text
    audit = response.json()
    assert (audit["clause"], audit["points"]) == ("D1", -20)
    assert (audit["year_deduction_points_before"], audit["year_deduction_points_after"]) == (100, 120)
    assert audit["replay_check"] == {"recomputed": 120, "projected": 120, "match": True}
