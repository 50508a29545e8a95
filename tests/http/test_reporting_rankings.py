"""Unit and officer rankings: every field, the tie rule, zero rows, categories, revocations, targets.

Points come from the 2026.1 policy: 《政务》 single S3 = 10, city single S4 = 50, district endorsement
S8 = 20, district late report D6 = -30; money R1 = 20, R4 = 100, R6 = 100.
"""

import uuid

from shared.policy_files import load_policies
from shared.settings import Settings
from tests.support.reporting_data import adopt, endorse, item, items_adopted, late, load, officer, revoke, target, unit

CHANNELS = load_policies(Settings().policy_dir, Settings().zone).current.channels

APRIL = "2026-04-10T10:00:00+08:00"


async def _scenario(kaohe) -> int:
    revoked_adoption = str(uuid.uuid4())
    events = [
        unit("Zeta", "区发改委"),
        unit("alpha", "区教育局"),
        unit("Cunit", "区财政局"),
        unit("F", "区司法局"),
        unit("D", "区民政局"),
        unit("E", "城关镇", "township"),
        unit("G", "区数据局", at="2026-05-01T09:00:00+08:00"),
        officer("O1", "Zeta", "张明"),
        officer("O2", "alpha", "李华"),
        officer("O3", "E", "王芳"),
        officer("O4", "D", "赵强"),
        officer("O5", "F", "陈静"),
        target("Zeta", 1, 1),
        target("alpha", 5, 0, month=3),
        item("Z1", "Zeta", authors=("O1",)),
        adopt("Z1", "district_zhengwu"),
        item("Z2", "Zeta", authors=("O1",)),
        adopt("Z2", "district_zhengwu"),
        item("Z3", "Zeta"),
        adopt("Z3", "district_zhengwu"),
        item("A1", "alpha", authors=("O2",)),
        adopt("A1", "district_zhengwu"),
        *items_adopted("alpha", "A", 3)[2:],
        *items_adopted("Cunit", "C", 2),
        item("C3", "Cunit"),
        adopt("C3", "district_zhengwu", event_id=revoked_adoption),
        revoke(revoked_adoption),
        late("D", "district", "late", officers=("O4",)),
        item("E1", "E", authors=("O3",)),
        adopt("E1", "city", issue="政府专报 2026年第5期"),
        endorse("E1", "district"),
        item("Z4", "Zeta", at=APRIL),
        adopt("Z4", "city", at=APRIL),  # second quarter: not in Q1
    ]
    return await load(kaohe, events)


def _by_id(rows, field="unit_id"):
    return {row[field]: row for row in rows}


async def test_units_ranked_with_ties_zero_rows_and_every_field(kaohe):
    position = await _scenario(kaohe)
    ranking = await kaohe.ranking("2026-Q1")
    assert ranking["period"] == "2026-Q1" and ranking["policy_version"] == "2026.1"
    assert ranking["position"] == position
    order = [(row["unit_id"], row["rank"], row["net_points"]) for row in ranking["rows"]]
    # "Zeta" before "alpha": ties are listed in code-point order; G registered after the quarter is absent
    assert order == [("E", 1, 70), ("Zeta", 2, 30), ("alpha", 2, 30), ("Cunit", 4, 20), ("F", 5, 0), ("D", 6, -30)]
    rows = _by_id(ranking["rows"])
    assert rows["E"] | {"adopted_by_channel": None} == {
        "rank": 1,
        "unit_id": "E",
        "unit_name": "城关镇",
        "kind": "township",
        "net_points": 70,
        "award_points": 70,
        "deduction_points": 0,
        "reward_yuan": "200.00",
        "submitted": 1,
        "adopted": 1,
        "adopted_by_channel": None,
        "endorsements": {"district": 1, "city": 0, "province": 0},
        "target": None,
        "target_met": None,
    }
    assert rows["E"]["adopted_by_channel"] == {channel: int(channel == "city") for channel in CHANNELS}
    assert rows["F"] | {"adopted_by_channel": None} == {
        "rank": 5,
        "unit_id": "F",
        "unit_name": "区司法局",
        "kind": "department",
        "net_points": 0,
        "award_points": 0,
        "deduction_points": 0,
        "reward_yuan": "0.00",
        "submitted": 0,
        "adopted": 0,
        "adopted_by_channel": None,
        "endorsements": {"district": 0, "city": 0, "province": 0},
        "target": None,
        "target_met": None,
    }
    assert list(rows["F"]["adopted_by_channel"]) == list(CHANNELS) and set(
        rows["F"]["adopted_by_channel"].values()
    ) == {0}
    assert (rows["D"]["award_points"], rows["D"]["deduction_points"]) == (0, 30)


async def test_revoked_adoption_is_not_counted(kaohe):
    await _scenario(kaohe)
    row = _by_id((await kaohe.ranking("2026-Q1"))["rows"])["Cunit"]
    assert (row["net_points"], row["submitted"], row["adopted"], row["reward_yuan"]) == (20, 3, 2, "40.00")
    assert row["adopted_by_channel"]["district_zhengwu"] == 2


async def test_targets_are_summed_over_the_period_and_null_without_one(kaohe):
    await _scenario(kaohe)
    rows = _by_id((await kaohe.ranking("2026-Q1"))["rows"])
    # yearly default 1/1 over three months; alpha has only a March target
    assert (rows["Zeta"]["target"], rows["Zeta"]["target_met"]) == ({"submissions": 3, "adoptions": 3}, True)
    assert (rows["alpha"]["target"], rows["alpha"]["target_met"]) == ({"submissions": 5, "adoptions": 0}, False)
    assert (rows["Cunit"]["target"], rows["Cunit"]["target_met"]) == (None, None)
    year = _by_id((await kaohe.ranking("2026"))["rows"])
    assert year["Zeta"]["target"] == {"submissions": 12, "adoptions": 12} and year["Zeta"]["target_met"] is False


async def test_kind_ranks_one_category_among_itself(kaohe):
    await _scenario(kaohe)
    departments = await kaohe.ranking("2026-Q1", kind="department")
    assert departments["kind"] == "department"
    assert [(r["unit_id"], r["rank"]) for r in departments["rows"]] == [
        ("Zeta", 1),
        ("alpha", 1),
        ("Cunit", 3),
        ("F", 4),
        ("D", 5),
    ]
    assert [r["net_points"] for r in departments["rows"]][:4] == [30, 30, 20, 0]
    townships = await kaohe.ranking("2026-Q1", kind="township")
    assert [(r["unit_id"], r["rank"]) for r in townships["rows"]] == [("E", 1)]
    assert (await kaohe.ranking("2026-Q1", kind="other"))["rows"] == []
    bad = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026-Q1", "kind": "village"})
    assert bad.status_code == 422


async def test_a_unit_registered_later_shows_in_the_year_with_zero(kaohe):
    await _scenario(kaohe)
    year = _by_id((await kaohe.ranking("2026"))["rows"])
    # Zeta 80, E 70, alpha 30, Cunit 20, then F and G tied at 0
    assert (year["G"]["net_points"], year["G"]["rank"], year["F"]["rank"]) == (0, 5, 5)
    assert year["Zeta"]["net_points"] == 80  # Q1 30 + the April city adoption 50


async def test_officers_ranked_by_full_points_of_their_items(kaohe):
    position = await _scenario(kaohe)
    response = await kaohe.reporting.get("/v1/rankings/officers", params={"period": "2026-Q1"})
    assert response.status_code == 200
    body = response.json()
    assert body["position"] == position and body["period"] == "2026-Q1"
    assert [(r["officer_id"], r["rank"], r["net_points"]) for r in body["rows"]] == [
        ("O3", 1, 70),
        ("O1", 2, 20),
        ("O2", 3, 10),
        ("O5", 4, 0),
        ("O4", 5, -30),
    ]
    rows = _by_id(body["rows"], "officer_id")
    assert rows["O1"] == {
        "rank": 2,
        "officer_id": "O1",
        "officer_name": "张明",
        "unit_id": "Zeta",
        "net_points": 20,
        "award_points": 20,
        "deduction_points": 0,
        "reward_yuan": "40.00",
        "adopted": 2,
    }
    assert (rows["O3"]["reward_yuan"], rows["O3"]["adopted"]) == ("200.00", 1)
    assert (rows["O4"]["deduction_points"], rows["O4"]["reward_yuan"], rows["O4"]["adopted"]) == (30, "0.00", 0)


async def test_rankings_send_etags_and_answer_304(kaohe):
    await _scenario(kaohe)
    first = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026-Q1"})
    assert first.headers["cache-control"] == "no-cache" and first.headers["etag"]
    again = await kaohe.reporting.get(
        "/v1/rankings/units", params={"period": "2026-Q1"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert (again.status_code, again.content) == (304, b"")
