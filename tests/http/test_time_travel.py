"""Time travel: ledgers and rankings `as_of_position=N` and `as_of=<time>` show the projection as it stood."""

import uuid
from datetime import datetime, timedelta, timezone


async def post(kaohe, type_name: str, data: dict, at: str = "2026-03-05T10:00:00+08:00") -> dict:
    event_id = str(uuid.uuid4())
    body = await kaohe.post(type_name, data, occurred_at=at, event_id=event_id)
    return {"event_id": event_id, "position": body["global_position"]}


async def history(kaohe) -> dict:
    """U1 earns 50 (city), then loses 100 (D8), U2 earns 100 (province), then the D8 is revoked."""
    for unit_id in ("U1", "U2"):
        await post(
            kaohe,
            "unit.registered",
            {"unit_id": unit_id, "name": f"单位{unit_id}", "kind": "department"},
            at="2026-01-02T09:00:00+08:00",
        )
    await post(
        kaohe,
        "officer.registered",
        {"officer_id": "O1", "unit_id": "U1", "name": "李信息员"},
        at="2026-01-02T09:00:00+08:00",
    )
    await post(
        kaohe,
        "item.submitted",
        {"item_id": "I1", "unit_id": "U1", "title": "春耕备耕情况", "kind": "single", "authors": ["O1"]},
    )
    await post(kaohe, "item.submitted", {"item_id": "I2", "unit_id": "U2", "title": "招商引资进展", "kind": "single"})
    adopted = await post(kaohe, "item.adopted", {"item_id": "I1", "channel": "city", "issue": "政府专报第3期"})
    criticized = await post(kaohe, "unit.criticized", {"unit_id": "U1", "responsible_officers": ["O1"]})
    province = await post(kaohe, "item.adopted", {"item_id": "I2", "channel": "province", "issue": "省专报第9期"})
    revoked = await post(kaohe, "event.revoked", {"target_event_id": criticized["event_id"], "reason": "通报对象有误"})
    await kaohe.settled()
    return {"adopted": adopted, "criticized": criticized, "province": province, "revoked": revoked}


def points(ranking: dict) -> list[tuple]:
    return [(row["rank"], row["unit_id"], row["net_points"], row["deduction_points"]) for row in ranking["rows"]]


async def test_ledgers_as_of_a_position_show_the_earlier_numbers(kaohe):
    h = await history(kaohe)
    before = await kaohe.unit_ledger("U1", as_of_position=h["adopted"]["position"])
    assert (before["net_points"], before["deduction_points"], before["reward_yuan"]) == (50, 0, "100.00")
    assert [e["clause"] for e in before["entries"]] == ["S4"] and before["position"] == h["adopted"]["position"]

    deducted = await kaohe.unit_ledger("U1", as_of_position=h["province"]["position"])
    assert (deducted["net_points"], deducted["deduction_points"]) == (-50, 100)
    [d8] = [e for e in deducted["entries"] if e["clause"] == "D8"]
    assert d8["revoked_by"] is None  # the revocation comes later in the log

    now = await kaohe.unit_ledger("U1")
    assert (now["net_points"], now["deduction_points"]) == (50, 0)
    [d8] = [e for e in now["entries"] if e["clause"] == "D8"]
    assert d8["revoked_by"] == h["revoked"]["event_id"]

    officer = await kaohe.officer_ledger("O1", as_of_position=h["criticized"]["position"])
    assert (officer["net_points"], officer["deduction_points"]) == (-50, 100)
    assert (await kaohe.officer_ledger("O1"))["net_points"] == 50

    # U1 is registered at position 1, U2 at 2: as of 1, U2 does not exist yet
    assert (await kaohe.unit_ledger("U1", as_of_position=1))["entries"] == []
    missing = await kaohe.scoring.get("/v1/units/U2/ledger", params={"period": "2026", "as_of_position": 1})
    assert missing.status_code == 404


async def test_rankings_as_of_a_position_show_the_earlier_order(kaohe):
    h = await history(kaohe)
    at_adoption = await kaohe.ranking("2026", as_of_position=h["adopted"]["position"])
    assert points(at_adoption) == [(1, "U1", 50, 0), (2, "U2", 0, 0)]
    assert at_adoption["position"] == h["adopted"]["position"]
    assert at_adoption["rows"][0]["adopted_by_channel"]["city"] == 1

    at_criticism = await kaohe.ranking("2026", as_of_position=h["criticized"]["position"])
    assert points(at_criticism) == [(1, "U2", 0, 0), (2, "U1", -50, 100)]

    at_province = await kaohe.ranking("2026", as_of_position=h["province"]["position"])
    assert points(at_province) == [(1, "U2", 100, 0), (2, "U1", -50, 100)]

    assert points(await kaohe.ranking("2026")) == [(1, "U2", 100, 0), (2, "U1", 50, 0)]
    empty = await kaohe.ranking("2026", as_of_position=0)
    assert (empty["rows"], empty["position"]) == ([], 0)


async def test_as_of_a_time_means_the_last_position_recorded_at_or_before_it(kaohe):
    h = await history(kaohe)
    log = (await kaohe.ingest.get("/v1/events", params={"limit": 100})).json()["events"]
    recorded = {event["global_position"]: datetime.fromisoformat(event["recorded_at"]) for event in log}
    adopted, criticized = h["adopted"]["position"], h["criticized"]["position"]
    assert recorded[adopted] < recorded[criticized]
    midway = recorded[adopted] + (recorded[criticized] - recorded[adopted]) / 2

    for moment in (recorded[adopted], midway):
        ledger = await kaohe.unit_ledger("U1", as_of=moment.isoformat())
        assert (ledger["position"], ledger["net_points"]) == (adopted, 50)
        ranking = await kaohe.ranking("2026", as_of=moment.isoformat())
        assert ranking["position"] == adopted
        assert points(ranking) == [(1, "U1", 50, 0), (2, "U2", 0, 0)]

    # the instant the criticism was recorded includes it; a zone other than UTC means the same instant
    in_shanghai = recorded[criticized].astimezone(timezone(timedelta(hours=8)))
    assert (await kaohe.unit_ledger("U1", as_of=in_shanghai.isoformat()))["net_points"] == -50

    before_everything = min(recorded.values()) - timedelta(microseconds=1)
    assert (await kaohe.ranking("2026", as_of=before_everything.isoformat()))["rows"] == []
    gone = await kaohe.scoring.get(
        "/v1/units/U1/ledger", params={"period": "2026", "as_of": before_everything.isoformat()}
    )
    assert gone.status_code == 404

    naive = await kaohe.scoring.get("/v1/units/U1/ledger", params={"period": "2026", "as_of": "2026-03-05T10:00:00"})
    assert naive.status_code == 422
    both = await kaohe.scoring.get(
        "/v1/units/U1/ledger", params={"period": "2026", "as_of": midway.isoformat(), "as_of_position": adopted}
    )
    assert both.status_code == 422
