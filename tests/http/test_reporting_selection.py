"""Annual selection (rules E3–E5): eligibility, ties at the cut line, criticism and rectification.

Year 2026 points (policy 2026.1): city single 50, province single 100, 《政务》 single 10; deductions:
通报批评 D8 -100, province 漏报 D4b -200, false information D3 -99 (the office's amount).
Targets are set for March only, so the annual target is that month's.
"""

from tests.support.reporting_data import criticized, false_information, items_adopted, late, load, officer, target, unit


async def _scenario(kaohe) -> None:
    events = [
        unit(u, name)
        for u, name in (
            ("S_a", "区发改委"),
            ("S_b", "区教育局"),
            ("S_c", "区财政局"),
            ("S_d", "区民政局"),
            ("S_e", "区司法局"),
            ("S_f", "区商务局"),
            ("S_g", "区文旅局"),
            ("S_h", "区卫健委"),
        )
    ]
    events += [
        officer("O_a", "S_a", "张明"),
        officer("O_a2", "S_a", "刘洋"),
        officer("O_c", "S_c", "李华"),
        officer("O_d", "S_d", "赵强"),
        officer("O_g", "S_g", "王芳"),
    ]
    events += [target(u, 1, 1, month=3) for u in ("S_a", "S_b", "S_c", "S_e", "S_h")]
    events += [target("S_d", 5, 1, month=3), target("S_f", 5, 0, month=3)]
    events += items_adopted("S_a", "a", 1, "city", authors=("O_a",))  # 50
    events += items_adopted("S_b", "b", 1, "city")  # 50
    events += items_adopted("S_c", "c", 1, authors=("O_c",))  # 10
    events += items_adopted("S_d", "d", 3, "city") + [criticized("S_d", ("O_d",))]  # 150 - 100, target missed
    events += items_adopted("S_e", "e", 1) + [late("S_e", "province", "missed")]  # 10 - 200
    events += items_adopted("S_f", "f", 2, "city")  # 100, target missed
    events += items_adopted("S_g", "g", 2, "province", authors=("O_g",))  # 200, no target
    events += items_adopted("S_h", "h", 1, "city") + [false_information("S_h", 99)]  # 50 - 99
    await load(kaohe, events)


async def _select(kaohe, year: int = 2026, **params) -> dict:
    response = await kaohe.reporting.get(f"/v1/selection/{year}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(rows, field="unit_id"):
    return [row[field] for row in rows]


async def test_eligibility_and_every_exclusion_reason(kaohe):
    await _scenario(kaohe)
    body = await _select(kaohe, units=3, officers=2)
    assert body["year"] == 2026 and body["thresholds"] == {"exclusion": 100, "criticism": 200}
    units = body["units"]
    assert units["eligible"] == [
        {"unit_id": "S_a", "unit_name": "区发改委", "rank": 3, "net_points": 50, "deduction_points": 0},
        {"unit_id": "S_b", "unit_name": "区教育局", "rank": 3, "net_points": 50, "deduction_points": 0},
        {"unit_id": "S_c", "unit_name": "区财政局", "rank": 6, "net_points": 10, "deduction_points": 0},
        {"unit_id": "S_h", "unit_name": "区卫健委", "rank": 7, "net_points": -49, "deduction_points": 99},
    ]
    assert _ids(units["selected"]) == ["S_a", "S_b", "S_c"]
    excluded = {
        row["unit_id"]: (row["rank"], row["deduction_points"], sorted(row["reasons"])) for row in units["excluded"]
    }
    assert excluded == {
        "S_g": (1, 0, ["no_annual_target"]),
        "S_f": (2, 0, ["annual_target_missed"]),
        "S_d": (3, 100, ["annual_target_missed", "deductions_at_least_100"]),  # exactly 100: excluded
        "S_e": (8, 200, ["deductions_at_least_100"]),
    }
    assert body["criticize"] == ["S_e"]  # exactly 200; S_d's 100 is not enough
    assert sorted(body["rectification"]) == ["S_d", "S_f"]  # S_g has no annual target: not listed


async def test_units_tied_at_the_cut_line_are_all_selected(kaohe):
    await _scenario(kaohe)
    assert _ids((await _select(kaohe, units=1))["units"]["selected"]) == ["S_a", "S_b"]
    assert _ids((await _select(kaohe, units=2))["units"]["selected"]) == ["S_a", "S_b"]
    assert _ids((await _select(kaohe, units=4))["units"]["selected"]) == ["S_a", "S_b", "S_c", "S_h"]
    assert _ids((await _select(kaohe, units=9))["units"]["selected"]) == ["S_a", "S_b", "S_c", "S_h"]
    assert (await _select(kaohe, units=0))["units"]["selected"] == []


async def test_officers_need_few_deductions_and_their_units_target(kaohe):
    await _scenario(kaohe)
    officers = (await _select(kaohe, officers=1))["officers"]
    assert officers["selected"] == [
        {
            "officer_id": "O_a",
            "officer_name": "张明",
            "unit_id": "S_a",
            "rank": 2,
            "net_points": 50,
            "deduction_points": 0,
        }
    ]
    assert _ids(officers["eligible"], "officer_id") == ["O_a", "O_c", "O_a2"]
    excluded = {row["officer_id"]: (row["rank"], sorted(row["reasons"])) for row in officers["excluded"]}
    assert excluded == {
        "O_g": (1, ["unit_annual_target_missed"]),  # the unit has no annual target at all
        "O_d": (5, ["deductions_at_least_100", "unit_annual_target_missed"]),
    }


async def test_a_year_before_the_units_existed_ranks_nobody(kaohe):
    await _scenario(kaohe)  # every unit registered in January 2026
    body = await _select(kaohe, 2025)
    assert body["units"] == {"selected": [], "eligible": [], "excluded": []}
    assert body["officers"] == {"selected": [], "eligible": [], "excluded": []}
    assert body["criticize"] == [] and body["rectification"] == []


async def test_selection_refuses_a_bad_year_and_count(kaohe):
    assert (await kaohe.reporting.get("/v1/selection/26")).status_code == 422
    assert (await kaohe.reporting.get("/v1/selection/2026", params={"units": -1})).status_code == 422
