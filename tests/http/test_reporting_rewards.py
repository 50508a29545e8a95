"""Half-year money rewards (半年信息奖励) per unit and officer, with the lines that carry the money.

Money (policy 2026.1): 《政务》 single R1 = 20, city single R4 = 100, district endorsement R6 = 100,
《政办通报》 research R3 = 100, website “今日” R2 = 10. An item's reward is split evenly among its
authors, rounded down to the cent, the leftover cents to the first author: 20 / 3 → 6.68, 6.66, 6.66.
"""

import uuid
from decimal import Decimal

from tests.support.reporting_data import adopt, endorse, item, late, load, officer, revoke, unit

FEB, MAY, JUNE, JULY = (
    "2026-02-10T10:00:00+08:00",
    "2026-05-12T10:00:00+08:00",
    "2026-06-20T10:00:00+08:00",
    "2026-07-03T10:00:00+08:00",
)


async def _scenario(kaohe) -> None:
    revoked = str(uuid.uuid4())
    await load(
        kaohe,
        [
            unit("R1", "区发改委"),
            unit("R2", "城关镇", "township"),
            unit("R3", "区司法局"),
            unit("R4", "区统计局"),
            officer("o1", "R1", "张明"),
            officer("o2", "R1", "李华"),
            officer("o3", "R1", "王芳"),
            item("I1", "R1", authors=("o1", "o2", "o3")),
            adopt("I1", "district_zhengwu", contributors=[{"unit_id": "R4", "extra_points": 5}]),
            item("I2", "R1", authors=("o1",), at=MAY),
            adopt("I2", "city", at=MAY),
            endorse("I2", "district", at=MAY),
            item("B1", "R2", kind="research", at=FEB),
            adopt("B1", "district_bulletin", at=FEB),
            item("W1", "R2", kind="brief", at=JUNE),
            adopt("W1", "website_today", at=JUNE),
            item("X1", "R2"),
            adopt("X1", "city", event_id=revoked),
            revoke(revoked),
            item("H2", "R2", at=JULY),
            adopt("H2", "district_zhengwu", at=JULY),
            late("R3", "district", "late"),
        ],
    )


async def _rewards(kaohe, period: str) -> dict:
    response = await kaohe.reporting.get("/v1/rewards", params={"period": period})
    assert response.status_code == 200, response.text
    return response.json()


async def test_half_year_rewards_per_unit_and_officer(kaohe):
    await _scenario(kaohe)
    body = await _rewards(kaohe, "2026-H1")
    assert body["period"] == "2026-H1" and body["total_yuan"] == "330.00"
    # R3 (only a deduction) and R4 (S6 contributor: points, no money) are left out
    assert [(u["unit_id"], u["unit_name"], u["reward_yuan"]) for u in body["units"]] == [
        ("R1", "区发改委", "220.00"),
        ("R2", "城关镇", "110.00"),
    ]
    assert [(o["officer_id"], o["officer_name"], o["unit_id"], o["reward_yuan"]) for o in body["officers"]] == [
        ("o1", "张明", "R1", "206.68"),
        ("o2", "李华", "R1", "6.66"),
        ("o3", "王芳", "R1", "6.66"),
    ]


async def test_lines_are_the_ledger_lines_that_carry_money(kaohe):
    await _scenario(kaohe)
    body = await _rewards(kaohe, "2026-H1")
    units = {u["unit_id"]: u for u in body["units"]}
    officers = {o["officer_id"]: o for o in body["officers"]}
    assert [
        (l["clause"], l["reward_clause"], l["points"], l["reward_yuan"], l["item_id"]) for l in officers["o1"]["lines"]
    ] == [("S3", "R1", 10, "6.68", "I1"), ("S4", "R4", 50, "100.00", "I2"), ("S8", "R6", 20, "100.00", "I2")]
    assert officers["o1"]["lines"][0]["clause_text"] == "被《政务》采用单条信息计10分"
    assert officers["o1"]["lines"][0]["officer_ids"] == ["o1", "o2", "o3"]
    assert [(l["clause"], l["points"], l["reward_yuan"]) for l in units["R2"]["lines"]] == [
        ("R3", 0, "100.00"),
        ("S7", 5, "10.00"),
    ]  # the revoked city adoption pays nothing
    assert all(l["revoked_by"] is None for u in body["units"] for l in u["lines"])
    for row in body["units"] + body["officers"]:
        assert str(sum(Decimal(line["reward_yuan"]) for line in row["lines"])) == row["reward_yuan"]
    ledger = await kaohe.unit_ledger("R1", "2026-H1")
    assert ledger["reward_yuan"] == units["R1"]["reward_yuan"]


async def test_other_periods_and_an_empty_one(kaohe):
    await _scenario(kaohe)
    second = await _rewards(kaohe, "2026-H2")
    assert (second["total_yuan"], [(u["unit_id"], u["reward_yuan"]) for u in second["units"]]) == (
        "20.00",
        [("R2", "20.00")],
    )
    assert second["officers"] == []
    assert (await _rewards(kaohe, "2026-Q2"))["total_yuan"] == "210.00"  # I2 city + endorsement, W1 website
    empty = await _rewards(kaohe, "2025-H1")
    assert empty == {"period": "2025-H1", "total_yuan": "0.00", "units": [], "officers": []}
    bad = await kaohe.reporting.get("/v1/rewards", params={"period": "2026-H3"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_period")
