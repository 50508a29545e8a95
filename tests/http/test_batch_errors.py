"""A batch's 422 names every bad event at once, schema and rule errors alike, each with its index
and the `loc` of the bad value (api.md answers 11 and 22); nothing of the batch is stored."""

from tests.support import factories as f


async def test_a_batch_lists_every_bad_event_with_its_index_and_loc(kaohe):
    await f.given(kaohe, f.unit_registered("U1"), f.item_submitted("I1", "U1"))
    bad_schema = f.item_submitted("I2", "U1")
    bad_schema["data"]["kind"] = "poem"
    unknown_channel = f.item_adopted("I1", "state_council")
    fine = f.item_adopted("I1", "city")
    out_of_range = f.false_information("U1", 30)
    problem = await f.refused(
        kaohe, {"events": [bad_schema, unknown_channel, fine, out_of_range]}, 422, "validation_error", batch=True
    )
    by_index = {}
    for error in problem["errors"]:
        by_index.setdefault(error["index"], []).append(error)
    assert sorted(by_index) == [0, 1, 3]
    assert any("kind" in error["loc"] for error in by_index[0])
    assert by_index[1] == [
        {"index": 1, "loc": ["events", 1, "data", "channel"], "msg": by_index[1][0]["msg"], "code": "unknown_channel"}
    ]
    assert by_index[3][0]["loc"] == ["events", 3, "data", "points"] and by_index[3][0]["code"] == "points_out_of_range"


async def test_a_single_event_refused_by_a_rule_names_the_value(kaohe):
    await f.given(kaohe, f.unit_registered("U1"), f.item_submitted("I1", "U1", kind="brief"))
    problem = await f.refused(kaohe, f.item_adopted("I1", "province"), 422, "kind_not_accepted_by_channel")
    assert problem["errors"] == [{"loc": ["body", "data", "kind"], "msg": problem["detail"]}]
