"""One adoption flows from ingest through the projector into the ranking."""


async def test_city_adoption_scores_50_in_the_year_ranking(kaohe):
    await kaohe.post("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"})
    await kaohe.post(
        "item.submitted", {"item_id": "I1", "unit_id": "U1", "title": "关于一季度经济运行的报告", "kind": "single"}
    )
    await kaohe.post("item.adopted", {"item_id": "I1", "channel": "city", "issue": "政府专报 2026年第5期"})
    ranking = await kaohe.ranking("2026")
    [row] = ranking["rows"]
    assert (row["unit_id"], row["rank"], row["net_points"], row["reward_yuan"]) == ("U1", 1, 50, "100.00")
    assert row["adopted_by_channel"]["city"] == 1 and row["submitted"] == 1
