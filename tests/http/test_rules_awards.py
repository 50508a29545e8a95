"""S1, S3–S10 and R1–R8 with the seed's numbers, through the HTTP API into unit and officer ledgers."""

import re
from datetime import datetime

import pytest

from tests.support.factories import (
    assessed,
    entries,
    given,
    item_adopted,
    item_endorsed,
    item_submitted,
    officer_registered,
    post,
    unit_registered,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
AUTHORS = ["O1", "O2", "O3"]
# An item's reward split over three authors, written out by hand: rounded down to the cent, the
# leftover cents to the first author.
SPLIT_OVER_3 = {
    "10.00": ["3.34", "3.33", "3.33"],
    "20.00": ["6.68", "6.66", "6.66"],
    "100.00": ["33.34", "33.33", "33.33"],
    "200.00": ["66.68", "66.66", "66.66"],
    "300.00": ["100.00", "100.00", "100.00"],
    "500.00": ["166.68", "166.66", "166.66"],
}

# channel, kind, clause, points, reward clause, yuan (rules.md tables)
ADOPTIONS = [
    ("district_zhengwu", "single", "S3", 10, "R1", "20.00"),
    ("district_zhengwu", "brief", "S3b", 5, "R1b", "10.00"),
    ("district_daily", "single", "S3c", 10, "R1c", "20.00"),
    ("district_daily", "brief", "S3c", 10, "R1c", "20.00"),
    ("city", "single", "S4", 50, "R4", "100.00"),
    ("city", "research", "S4b", 100, "R4b", "300.00"),
    ("province", "single", "S5", 100, "R5", "200.00"),
    ("province", "research", "S5b", 300, "R5b", "500.00"),
    ("website_today", "single", "S7", 5, "R2", "10.00"),
    ("website_today", "brief", "S7", 5, "R2", "10.00"),
    ("district_bulletin", "research", "R3", 0, "R3", "100.00"),
]
ENDORSEMENTS = [
    ("district", "S8", 20, "R6", "100.00"),
    ("city", "S9", 40, "R7", "300.00"),
    ("province", "S10", 80, "R8", "500.00"),
]


async def _unit_with_authors(kaohe, *, kind: str = "single") -> None:
    await given(
        kaohe,
        unit_registered("U1", name="区发改委"),
        *(officer_registered(o, "U1") for o in AUTHORS),
        item_submitted("I1", "U1", kind=kind, authors=AUTHORS),
    )


def _number_in_text(text: str, points: int | None = None, yuan: str | None = None) -> None:
    """The clause text is the rulebook's Chinese and states the number the line carries."""
    assert CJK.search(text), text
    if points:
        assert f"{abs(points)}分" in text, text
    if yuan:
        assert f"{int(float(yuan))}元" in text, text


@pytest.mark.parametrize(
    "channel,kind,clause,points,reward_clause,yuan", ADOPTIONS, ids=[f"{a[2]}-{a[0]}-{a[1]}" for a in ADOPTIONS]
)
async def test_adoption_scores_its_clause_for_the_unit_and_every_author(
    kaohe, channel, kind, clause, points, reward_clause, yuan
):
    await _unit_with_authors(kaohe, kind=kind)
    adoption = item_adopted("I1", channel, issue="2026年第5期")
    await post(kaohe, adoption)

    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [(clause, points, yuan, AUTHORS, None)]
    [line] = unit["entries"]
    assert line["event_id"] == adoption["event_id"] and line["reward_clause"] == reward_clause
    _number_in_text(line["clause_text"], points=points, yuan=yuan if clause.startswith("R") else None)
    assert (unit["net_points"], unit["award_points"], unit["deduction_points"], unit["reward_yuan"]) == (
        points,
        points,
        0,
        yuan,
    )

    # every author gets the full points; the money is split evenly, leftover cents to the first author
    for officer_id, share in zip(AUTHORS, SPLIT_OVER_3[yuan]):
        ledger = await kaohe.officer_ledger(officer_id)
        assert entries(ledger) == [(clause, points, share, AUTHORS, None)]
        assert (ledger["net_points"], ledger["reward_yuan"]) == (points, share)


async def test_adoption_kind_on_the_event_overrides_the_items_kind(kaohe):
    """S3c accepts single and brief; `kind` on the adoption is what the channel scores."""
    await _unit_with_authors(kaohe, kind="single")
    await post(kaohe, item_adopted("I1", "district_zhengwu", kind="brief"))
    await post(kaohe, item_adopted("I1", "district_daily", kind="brief"))
    assert entries(await kaohe.unit_ledger("U1")) == [
        ("S3b", 5, "10.00", AUTHORS, None),
        ("S3c", 10, "20.00", AUTHORS, None),
    ]


@pytest.mark.parametrize("level,clause,points,reward_clause,yuan", ENDORSEMENTS, ids=[e[1] for e in ENDORSEMENTS])
async def test_endorsement_scores_each_time(kaohe, level, clause, points, reward_clause, yuan):
    await _unit_with_authors(kaohe)
    first, second = item_endorsed("I1", level, leader="区长"), item_endorsed("I1", level)
    await given(kaohe, first, second)

    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [(clause, points, yuan, AUTHORS, None)] * 2
    assert [e["reward_clause"] for e in unit["entries"]] == [reward_clause] * 2
    assert [e["event_id"] for e in unit["entries"]] == [first["event_id"], second["event_id"]]
    _number_in_text(unit["entries"][0]["clause_text"], points=points)
    assert (unit["net_points"], unit["reward_yuan"]) == (2 * points, f"{2 * int(float(yuan))}.00")
    for officer_id, share in zip(AUTHORS, SPLIT_OVER_3[yuan]):
        assert entries(await kaohe.officer_ledger(officer_id)) == [(clause, points, share, AUTHORS, None)] * 2


async def test_s1_adequate_assessment_gives_20_points_and_no_money(kaohe):
    await given(kaohe, unit_registered("U1"), officer_registered("O1", "U1"))
    await post(kaohe, assessed("U1", "adequate", note="分管领导明确"))
    unit = await kaohe.unit_ledger("U1")
    assert entries(unit) == [("S1", 20, "0.00", [], None)]
    assert unit["entries"][0]["reward_clause"] is None and unit["entries"][0]["note"] == "分管领导明确"
    _number_in_text(unit["entries"][0]["clause_text"], points=20)
    # S1 is unit-only
    assert entries(await kaohe.officer_ledger("O1")) == []


async def test_s6_contributors_get_one_line_of_10_plus_extra_and_no_money(kaohe):
    await given(
        kaohe,
        unit_registered("U1"),
        unit_registered("U2"),
        unit_registered("U3"),
        officer_registered("O1", "U1"),
        officer_registered("O2", "U2"),
        item_submitted("I1", "U1", authors=["O1"]),
    )
    await post(
        kaohe, item_adopted("I1", "city", contributors=[{"unit_id": "U2"}, {"unit_id": "U3", "extra_points": 15}])
    )
    assert entries(await kaohe.unit_ledger("U1")) == [("S4", 50, "100.00", ["O1"], None)]
    u2, u3 = await kaohe.unit_ledger("U2"), await kaohe.unit_ledger("U3")
    assert entries(u2) == [("S6", 10, "0.00", [], None)]
    assert entries(u3) == [("S6", 25, "0.00", [], None)]
    assert (u3["net_points"], u3["reward_yuan"]) == (25, "0.00")
    assert u2["entries"][0]["reward_clause"] is None
    _number_in_text(u2["entries"][0]["clause_text"], points=10)
    # the author gets the item's points and all its money; the contributors' officers get nothing
    assert entries(await kaohe.officer_ledger("O1")) == [("S4", 50, "100.00", ["O1"], None)]
    assert entries(await kaohe.officer_ledger("O2")) == []


async def test_every_adoption_scores_on_its_own(kaohe):
    """S6: an item adopted by several publications scores again for each; another issue scores again."""
    await _unit_with_authors(kaohe)
    await given(
        kaohe,
        item_adopted("I1", "district_zhengwu", issue="第1期"),
        item_adopted("I1", "district_zhengwu", issue="第2期"),
        item_adopted("I1", "city"),
        item_adopted("I1", "province"),
    )
    unit = await kaohe.unit_ledger("U1")
    assert [e["clause"] for e in unit["entries"]] == ["S3", "S3", "S4", "S5"]
    assert (unit["net_points"], unit["reward_yuan"]) == (170, "340.00")


async def test_a_ledger_line_carries_every_field_of_the_contract(kaohe):
    await _unit_with_authors(kaohe)
    adoption = item_adopted("I1", "district_zhengwu", issue="政务 2026年第5期")
    adoption["occurred_at"] = "2026-03-05T10:00:00+08:00"
    appended = await post(kaohe, adoption)

    unit = await kaohe.unit_ledger("U1", period="2026-03")
    assert unit["unit_id"] == "U1" and unit["period"] == "2026-03" and unit["policy_version"] == "2026.1"
    assert (unit["net_points"], unit["award_points"], unit["deduction_points"], unit["reward_yuan"]) == (
        10,
        10,
        0,
        "20.00",
    )
    [line] = unit["entries"]
    assert set(line) >= {
        "event_id",
        "global_position",
        "occurred_at",
        "clause",
        "clause_text",
        "points",
        "reward_yuan",
        "officer_ids",
        "revoked_by",
        "note",
    }
    assert line["event_id"] == adoption["event_id"]
    assert line["global_position"] == appended["global_position"]
    assert datetime.fromisoformat(line["occurred_at"]) == datetime.fromisoformat(adoption["occurred_at"])
    assert line["clause"] == "S3" and line["clause_text"] == "被《政务》采用单条信息计10分"
    assert line["points"] == 10 and isinstance(line["points"], int)
    assert line["reward_yuan"] == "20.00" and line["reward_clause"] == "R1"
    assert line["officer_ids"] == AUTHORS and line["revoked_by"] is None and line["note"] is None

    officer = await kaohe.officer_ledger("O2", period="2026-03")
    assert officer["officer_id"] == "O2" and officer["unit_id"] == "U1"
    [share] = officer["entries"]
    assert (share["event_id"], share["points"], share["reward_yuan"]) == (adoption["event_id"], 10, "6.66")


async def test_author_shares_add_up_exactly_to_the_items_reward(kaohe):
    """100 yuan over 3 authors → 33.34, 33.33, 33.33; an author registered first gets the leftover."""
    await given(
        kaohe,
        unit_registered("U1"),
        *(officer_registered(o, "U1") for o in ("A", "B", "C")),
        item_submitted("I1", "U1", authors=["C", "A", "B"]),
    )
    await post(kaohe, item_adopted("I1", "city"))
    shares = {o: (await kaohe.officer_ledger(o))["reward_yuan"] for o in ("A", "B", "C")}
    assert shares == {"C": "33.34", "A": "33.33", "B": "33.33"}  # the first *named* author
    assert (await kaohe.unit_ledger("U1"))["reward_yuan"] == "100.00"


async def test_an_item_without_authors_pays_the_unit_only(kaohe):
    await given(kaohe, unit_registered("U1"), officer_registered("O1", "U1"), item_submitted("I1", "U1"))
    await post(kaohe, item_adopted("I1", "website_today"))
    assert entries(await kaohe.unit_ledger("U1")) == [("S7", 5, "10.00", [], None)]
    assert entries(await kaohe.officer_ledger("O1")) == []
