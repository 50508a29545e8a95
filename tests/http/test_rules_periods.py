"""Periods are cut in Asia/Shanghai time; every period form of the contract works, anything else is 422."""

import pytest

from tests.support.factories import (
    given,
    item_adopted,
    item_submitted,
    month_closed,
    officer_registered,
    post,
    target_set,
    unit_registered,
)

APRIL_IN_SHANGHAI = "2026-03-31T16:30:00Z"  # 00:30 on 1 April, local time
MARCH_IN_SHANGHAI = "2026-03-31T15:59:00Z"  # 23:59 on 31 March, local time


async def _two_adoptions_either_side_of_midnight(kaohe) -> tuple[dict, dict]:
    await given(
        kaohe,
        unit_registered("U1"),
        officer_registered("O1", "U1"),
        item_submitted("I1", "U1", authors=["O1"], at="2026-03-01T10:00:00+08:00"),
    )
    march, april = (
        item_adopted("I1", "district_zhengwu", issue="3月", at=MARCH_IN_SHANGHAI),
        item_adopted("I1", "city", at=APRIL_IN_SHANGHAI),
    )
    await given(kaohe, march, april)
    return march, april


@pytest.mark.parametrize(
    "period,expected",
    [
        ("2026-03", "march"),
        ("2026-Q1", "march"),
        ("2026-04", "april"),
        ("2026-Q2", "april"),
        ("2026-H1", "both"),
        ("2026", "both"),
        ("2026-H2", "none"),
        ("2026-02", "none"),
        ("2025", "none"),
    ],
)
async def test_an_event_belongs_to_the_period_of_its_local_business_time(kaohe, period, expected):
    march, april = await _two_adoptions_either_side_of_midnight(kaohe)
    wanted = {"march": [march], "april": [april], "both": [march, april], "none": []}[expected]
    for ledger in (await kaohe.unit_ledger("U1", period=period), await kaohe.officer_ledger("O1", period=period)):
        assert ledger["period"] == period
        assert [e["event_id"] for e in ledger["entries"]] == [e["event_id"] for e in wanted]
        assert ledger["net_points"] == {"march": 10, "april": 50, "both": 60, "none": 0}[expected]


async def test_a_submission_just_after_local_midnight_counts_for_the_next_months_target(kaohe):
    await given(
        kaohe,
        unit_registered("U1"),
        target_set("U1", submissions=1, adoptions=0),
        item_submitted("I1", "U1", at=APRIL_IN_SHANGHAI),
    )
    await given(kaohe, month_closed(2026, 3), month_closed(2026, 4))
    assert [e["clause"] for e in (await kaohe.unit_ledger("U1", period="2026-03"))["entries"]] == ["D2"]
    assert [e["clause"] for e in (await kaohe.unit_ledger("U1", period="2026-04"))["entries"]] == ["S2"]


@pytest.mark.parametrize(
    "period",
    [
        "2026-13",
        "2026-00",
        "2026-3",
        "2026-Q5",
        "2026-Q0",
        "2026-H3",
        "26",
        "2026-W01",
        "2026-q1",
        "2026-01-01",
        "",
        "abc",
        "二〇二六",
    ],
)
async def test_a_bad_period_is_422_invalid_period(kaohe, period):
    await post(kaohe, unit_registered("U1"))
    await post(kaohe, officer_registered("O1", "U1"))
    for path in ("/v1/units/U1/ledger", "/v1/officers/O1/ledger"):
        response = await kaohe.scoring.get(path, params={"period": period})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "invalid_period"


async def test_a_missing_period_is_422(kaohe):
    await post(kaohe, unit_registered("U1"))
    response = await kaohe.scoring.get("/v1/units/U1/ledger")
    assert response.status_code == 422 and response.json()["code"] in ("invalid_period", "validation_error")


async def test_an_unknown_unit_or_officer_in_the_path_is_404(kaohe):
    for path in ("/v1/units/NOPE/ledger", "/v1/officers/NOPE/ledger"):
        response = await kaohe.scoring.get(path, params={"period": "2026"})
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
