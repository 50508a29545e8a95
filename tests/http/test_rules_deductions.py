"""D1, D3–D8 with the seed's numbers; responsible officers carry the same deduction (D2: test_month_close)."""

import pytest

from tests.support.factories import (
    assessed,
    criticized,
    entries,
    false_information,
    given,
    item_submitted,
    late_reported,
    officer_registered,
    post,
    refused,
    solicitation_missed,
    unit_registered,
)

# level, kind, clause, points (rules.md: D4–D6b)
LATE = [
    ("province", "late", "D4", -100),
    ("province", "missed", "D4b", -200),
    ("province", "concealed", "D4b", -200),
    ("city", "late", "D5", -50),
    ("city", "missed", "D5b", -100),
    ("city", "concealed", "D5b", -100),
    ("district", "late", "D6", -30),
    ("district", "missed", "D6b", -60),
    ("district", "concealed", "D6b", -60),
]


async def _unit_with_officers(kaohe) -> None:
    await given(
        kaohe,
        unit_registered("U1"),
        officer_registered("O1", "U1"),
        officer_registered("O2", "U1"),
        officer_registered("O3", "U1"),
    )


def _totals(ledger) -> tuple:
    return ledger["net_points"], ledger["award_points"], ledger["deduction_points"], ledger["reward_yuan"]


async def test_d1_inadequate_assessment_deducts_20_from_the_unit_only(kaohe):
    await _unit_with_officers(kaohe)
    await post(kaohe, assessed("U1", "inadequate"))
    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [("D1", -20, "0.00", [], None)]
    assert _totals(unit) == (-20, 0, 20, "0.00")
    assert "扣20分" in unit["entries"][0]["clause_text"]


@pytest.mark.parametrize("points", [50, 75, 100])
async def test_d3_false_information_deducts_the_amount_the_office_sets(kaohe, points):
    await _unit_with_officers(kaohe)
    await given(kaohe, item_submitted("I1", "U1"))
    await post(kaohe, false_information("U1", points, responsible=["O2"], item_id="I1"))
    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [("D3", -points, "0.00", ["O2"], None)]
    assert unit["entries"][0]["item_id"] == "I1"
    assert _totals(unit) == (-points, 0, points, "0.00")
    assert "扣50-100分" in unit["entries"][0]["clause_text"]
    assert entries(await kaohe.officer_ledger("O2")) == [("D3", -points, "0.00", ["O2"], None)]
    assert entries(await kaohe.officer_ledger("O1")) == []


@pytest.mark.parametrize("points", [0, 49, 101, 200])
async def test_d3_points_outside_50_to_100_are_refused(kaohe, points):
    await _unit_with_officers(kaohe)
    problem = await refused(kaohe, false_information("U1", points), 422, "points_out_of_range")
    assert "50" in problem["detail"] and "100" in problem["detail"]


@pytest.mark.parametrize("level,kind,clause,points", LATE, ids=[f"{c}-{l}-{k}" for l, k, c, _ in LATE])
async def test_late_reported_deducts_by_level_and_kind(kaohe, level, kind, clause, points):
    await _unit_with_officers(kaohe)
    await post(kaohe, late_reported("U1", level, kind, responsible=["O1", "O3"]))
    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [(clause, points, "0.00", ["O1", "O3"], None)]
    assert _totals(unit) == (points, 0, -points, "0.00")
    assert f"{-points}分" in unit["entries"][0]["clause_text"]
    for officer_id in ("O1", "O3"):
        officer = await kaohe.officer_ledger(officer_id)
        assert entries(officer) == [(clause, points, "0.00", ["O1", "O3"], None)]
        assert _totals(officer) == (points, 0, -points, "0.00")
    assert entries(await kaohe.officer_ledger("O2")) == []


async def test_d7_solicitation_missed_deducts_50(kaohe):
    await _unit_with_officers(kaohe)
    await post(kaohe, solicitation_missed("U1", responsible=["O1"]))
    assert entries(await kaohe.unit_ledger("U1")) == [("D7", -50, "0.00", ["O1"], None)]
    assert entries(await kaohe.officer_ledger("O1")) == [("D7", -50, "0.00", ["O1"], None)]


async def test_d8_criticized_deducts_100(kaohe):
    await _unit_with_officers(kaohe)
    await post(kaohe, criticized("U1"))
    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [("D8", -100, "0.00", [], None)]
    assert "扣100分" in unit["entries"][0]["clause_text"]


async def test_deductions_add_up_and_net_is_awards_minus_deductions(kaohe):
    await _unit_with_officers(kaohe)
    await given(
        kaohe,
        assessed("U1", "adequate"),
        criticized("U1", responsible=["O1"]),
        late_reported("U1", "district", "late", responsible=["O1"]),
        solicitation_missed("U1"),
    )
    assert _totals(await kaohe.unit_ledger("U1")) == (20 - 180, 20, 180, "0.00")
    assert _totals(await kaohe.officer_ledger("O1")) == (-130, 0, 130, "0.00")
