"""Targets and the monthly evaluation (S2/D2): close, late events, reopen, close again."""

from datetime import datetime

from tests.support.factories import (
    entries,
    given,
    item_adopted,
    item_submitted,
    month_closed,
    month_reopened,
    post,
    refused,
    target_set,
    unit_registered,
)

MARCH = "2026-03-10T10:00:00+08:00"


def _month_lines(ledger) -> list[tuple]:
    return [(e["clause"], e["points"], e["revoked_by"]) for e in ledger["entries"] if e["clause"] in ("S2", "D2")]


async def _march(kaohe) -> None:
    """U1 meets both targets, U2 is one submission short, U3 meets submissions but not adoptions, U4 has none."""
    await given(
        kaohe,
        *(unit_registered(u, at="2026-01-05T09:00:00+08:00") for u in ("U1", "U2", "U3", "U4")),
        # U1: a yearly default, overridden for March by a month target
        target_set("U1", submissions=5, adoptions=5),
        target_set("U1", month=3, submissions=2, adoptions=1),
        # U2: a March target, replaced by a later one for the same slot
        target_set("U2", month=3, submissions=1, adoptions=0),
        target_set("U2", month=3, submissions=2, adoptions=1),
        target_set("U3", submissions=1, adoptions=1),
        item_submitted("A1", "U1", at=MARCH),
        item_submitted("A2", "U1", at=MARCH),
        item_adopted("A1", "district_zhengwu", at=MARCH),
        item_submitted("B1", "U2", at=MARCH),
        item_adopted("B1", "district_zhengwu", at=MARCH),
        item_submitted("C1", "U3", at=MARCH),
        item_submitted("D1", "U4", at=MARCH),
    )


async def test_closing_a_month_evaluates_every_unit_with_a_target(kaohe):
    await _march(kaohe)
    close = month_closed(2026, 3)
    appended = await post(kaohe, close)

    u1, u2, u3 = [await kaohe.unit_ledger(u, period="2026-03") for u in ("U1", "U2", "U3")]
    assert _month_lines(u1) == [("S2", 20, None)]
    assert _month_lines(u2) == [("D2", -30, None)]
    assert _month_lines(u3) == [("S2", 0, None)]
    assert u1["net_points"] == 10 + 20 and u2["net_points"] == 10 - 30 and u3["net_points"] == 0
    assert u2["deduction_points"] == 30
    assert _month_lines(await kaohe.unit_ledger("U4", period="2026-03")) == []

    [s2] = [e for e in u1["entries"] if e["clause"] == "S2"]
    assert s2["event_id"] == close["event_id"] and s2["global_position"] == appended["global_position"]
    assert s2["officer_ids"] == [] and s2["reward_yuan"] == "0.00"
    assert datetime.fromisoformat(s2["occurred_at"]) == datetime.fromisoformat(close["occurred_at"])
    assert "20分" in s2["clause_text"]
    [d2] = [e for e in u2["entries"] if e["clause"] == "D2"]
    assert "扣30分" in d2["clause_text"]
    [zero] = [e for e in u3["entries"] if e["clause"] == "S2"]
    assert zero["note"] and "采用" in zero["note"]  # says which target was missed


async def test_month_lines_belong_to_the_month_they_evaluate_not_the_close(kaohe):
    await _march(kaohe)
    await post(kaohe, month_closed(2026, 3, at="2026-04-02T09:00:00+08:00"))
    for period in ("2026-03", "2026-Q1", "2026-H1", "2026"):
        assert _month_lines(await kaohe.unit_ledger("U1", period=period)) == [("S2", 20, None)], period
    for period in ("2026-04", "2026-Q2"):
        assert _month_lines(await kaohe.unit_ledger("U1", period=period)) == [], period


async def test_a_late_adoption_scores_but_leaves_the_closed_month_alone_until_reopen(kaohe):
    await _march(kaohe)
    await post(kaohe, month_closed(2026, 3))
    first_close = (await kaohe.unit_ledger("U3", period="2026-03"))["entries"][0]["event_id"]

    # recorded after the close, but it happened in March
    await post(kaohe, item_adopted("C1", "city", at="2026-03-20T10:00:00+08:00"))
    u3 = await kaohe.unit_ledger("U3", period="2026-03")
    assert entries(u3) == [("S2", 0, "0.00", [], None), ("S4", 50, "100.00", [], None)]
    assert u3["net_points"] == 50

    reopen = month_reopened(2026, 3)
    await post(kaohe, reopen)
    for unit_id in ("U1", "U2", "U3"):
        ledger = await kaohe.unit_ledger(unit_id, period="2026-03")
        revoked = [e for e in ledger["entries"] if e["clause"] in ("S2", "D2")]
        assert revoked and all(e["revoked_by"] == reopen["event_id"] for e in revoked), unit_id
        assert all(e["event_id"] == first_close for e in revoked)
    assert (await kaohe.unit_ledger("U1", period="2026-03"))["net_points"] == 10
    assert (await kaohe.unit_ledger("U2", period="2026-03"))["net_points"] == 10

    close_again = month_closed(2026, 3, at="2026-04-03T09:00:00+08:00")
    await post(kaohe, close_again)
    u3 = await kaohe.unit_ledger("U3", period="2026-03")
    assert _month_lines(u3) == [("S2", 0, reopen["event_id"]), ("S2", 20, None)]
    assert u3["entries"][-1]["event_id"] == close_again["event_id"]
    assert u3["net_points"] == 50 + 20
    assert _month_lines(await kaohe.unit_ledger("U1", period="2026-03")) == [
        ("S2", 20, reopen["event_id"]),
        ("S2", 20, None),
    ]
    assert (await kaohe.unit_ledger("U2", period="2026-03"))["net_points"] == 10 - 30


async def test_a_target_set_after_the_close_counts_only_when_the_month_is_closed_again(kaohe):
    await _march(kaohe)
    await post(kaohe, month_closed(2026, 3))
    await post(kaohe, target_set("U4", month=3, submissions=1, adoptions=0))
    assert _month_lines(await kaohe.unit_ledger("U4", period="2026-03")) == []
    await given(kaohe, month_reopened(2026, 3), month_closed(2026, 3))
    assert _month_lines(await kaohe.unit_ledger("U4", period="2026-03")) == [("S2", 20, None)]


async def test_a_month_target_overrides_a_yearly_default_set_later(kaohe):
    await given(
        kaohe,
        unit_registered("U1"),
        target_set("U1", month=3, submissions=1, adoptions=0),
        target_set("U1", submissions=9, adoptions=9),
        item_submitted("I1", "U1", at=MARCH),
    )
    await given(kaohe, month_closed(2026, 3), month_closed(2026, 4))
    assert _month_lines(await kaohe.unit_ledger("U1", period="2026-03")) == [("S2", 20, None)]
    assert _month_lines(await kaohe.unit_ledger("U1", period="2026-04")) == [("D2", -30, None)]


async def test_an_adoption_revoked_before_the_close_does_not_count(kaohe):
    await given(
        kaohe, unit_registered("U1"), target_set("U1", submissions=1, adoptions=1), item_submitted("I1", "U1", at=MARCH)
    )
    adoption = item_adopted("I1", "district_daily", at=MARCH)
    await post(kaohe, adoption)
    await post(
        kaohe,
        {
            "event_id": None,
            "type": "event.revoked",
            "occurred_at": MARCH,
            "data": {"target_event_id": adoption["event_id"], "reason": "重复录入"},
        },
    )
    await post(kaohe, month_closed(2026, 3))
    assert _month_lines(await kaohe.unit_ledger("U1", period="2026-03")) == [("S2", 0, None)]


async def test_a_unit_registered_after_the_close_is_not_evaluated(kaohe):
    await given(kaohe, month_closed(2026, 3))
    await given(kaohe, unit_registered("U9"), target_set("U9", submissions=0, adoptions=0))
    assert _month_lines(await kaohe.unit_ledger("U9", period="2026-03")) == []


async def test_closing_twice_is_409_month_already_closed(kaohe):
    await post(kaohe, month_closed(2026, 3))
    await refused(kaohe, month_closed(2026, 3, at="2026-04-05T09:00:00+08:00"), 409, "month_already_closed")


async def test_reopening_a_month_that_is_not_closed_is_409_month_not_closed(kaohe):
    await refused(kaohe, month_reopened(2026, 3), 409, "month_not_closed")
    await given(kaohe, month_closed(2026, 3), month_reopened(2026, 3))
    await refused(kaohe, month_reopened(2026, 3), 409, "month_not_closed")


async def test_a_month_can_be_closed_only_after_it_ended_in_shanghai_time(kaohe):
    await refused(kaohe, month_closed(2026, 3, at="2026-03-31T23:59:59+08:00"), 422, "month_not_over")
    # 2026-03-31T15:59:59Z is still March in Shanghai
    await refused(kaohe, month_closed(2026, 3, at="2026-03-31T15:59:59Z"), 422, "month_not_over")
    await refused(kaohe, month_closed(2025, 12, at="2025-12-31T10:00:00+08:00"), 422, "month_not_over")
    # the first instant of April in Shanghai is already late enough
    await post(kaohe, month_closed(2026, 3, at="2026-03-31T16:00:00Z"))
