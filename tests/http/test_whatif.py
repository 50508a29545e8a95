"""POST /v1/what-if: the period under the current and a proposed policy, side by side; nothing stored."""

import copy
import uuid

import asyncpg

from shared.db import asyncpg_dsn

MARCH = "2026-03-05T10:00:00+08:00"


async def post(kaohe, type_name: str, data: dict, at: str = MARCH) -> str:
    event_id = str(uuid.uuid4())
    await kaohe.post(type_name, data, occurred_at=at, event_id=event_id)
    return event_id


async def adopted(kaohe, item_id: str, unit_id: str, channel: str, *, at: str = MARCH, **extra) -> str:
    await post(
        kaohe,
        "item.submitted",
        {"item_id": item_id, "unit_id": unit_id, "title": f"信息{item_id}", "kind": "single"},
        at=at,
    )
    return await post(kaohe, "item.adopted", {"item_id": item_id, "channel": channel, **extra}, at=at)


async def district(kaohe) -> None:
    """City adoptions (S4): U1 two (one in April), U2 one, U4 one that is revoked; other channels around them.
    U2 also contributes to U1's first item (S6); U5 has nothing; U6 registers in July."""
    for unit_id, at in (
        ("U1", MARCH),
        ("U2", MARCH),
        ("U3", MARCH),
        ("U4", MARCH),
        ("U5", MARCH),
        ("U6", "2026-07-01T09:00:00+08:00"),
    ):
        await post(
            kaohe,
            "unit.registered",
            {"unit_id": unit_id, "name": f"单位{unit_id}", "kind": "township"},
            at="2026-01-02T09:00:00+08:00" if at == MARCH else at,
        )
    await adopted(kaohe, "I1", "U1", "city", issue="政府专报第1期", contributors=[{"unit_id": "U2"}])
    await adopted(kaohe, "I2", "U1", "city", issue="政府专报第9期", at="2026-04-08T10:00:00+08:00")
    await adopted(kaohe, "I3", "U3", "province", issue="省专报第2期")
    await adopted(kaohe, "I4", "U2", "city", issue="政府公报第4期")
    await adopted(kaohe, "I5", "U2", "district_zhengwu", issue="政务第12期")
    revoked = await adopted(kaohe, "I6", "U4", "city", issue="政府专报第2期")
    await post(kaohe, "event.revoked", {"target_event_id": revoked, "reason": "重复登记"})
    await adopted(kaohe, "I7", "U4", "district_daily")


async def stored_projection(database_url: str) -> tuple:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        lines = await conn.fetch("SELECT * FROM proj.lines ORDER BY event_id, seq")
        facts = await conn.fetch("SELECT * FROM proj.facts ORDER BY event_id")
        checkpoint = await conn.fetchrow("SELECT * FROM proj.checkpoint")
        return [tuple(r) for r in lines], [tuple(r) for r in facts], tuple(checkpoint)
    finally:
        await conn.close()


async def current_document(kaohe) -> dict:
    policies = (await kaohe.scoring.get("/v1/policies")).json()
    [current] = [p for p in policies if p["current"]]
    return (await kaohe.scoring.get(f"/v1/policies/{current['version']}")).json()


def with_city_single_points(document: dict, points: int) -> dict:
    proposed = copy.deepcopy(document)
    proposed["version"] = "2027.0-draft"
    clause_id = proposed["channels"]["city"]["kinds"]["single"]["points"]
    [clause] = [c for c in proposed["clauses"] if c["id"] == clause_id]
    clause["points"] = points
    return proposed


async def test_raising_city_single_points_changes_exactly_the_units_with_city_adoptions(kaohe, database_url):
    await district(kaohe)
    ranking = await kaohe.ranking("2026")
    before = await stored_projection(database_url)
    document = await current_document(kaohe)
    assert document["clauses"][[c["id"] for c in document["clauses"]].index("S4")]["points"] == 50

    response = await kaohe.scoring.post(
        "/v1/what-if", json={"policy": with_city_single_points(document, 60), "period": "2026"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["current_policy_version"], body["proposed_policy_version"]) == (
        "2026",
        document["version"],
        "2027.0-draft",
    )
    rows = {row["unit_id"]: row for row in body["rows"]}
    assert set(rows) == {row["unit_id"] for row in ranking["rows"]} == {"U1", "U2", "U3", "U4", "U5", "U6"}
    assert {u: rows[u]["current_points"] for u in rows} == {r["unit_id"]: r["net_points"] for r in ranking["rows"]}
    assert {u: rows[u]["change"] for u in rows} == {"U1": 20, "U2": 10, "U3": 0, "U4": 0, "U5": 0, "U6": 0}
    assert {u: (rows[u]["current_points"], rows[u]["proposed_points"]) for u in rows} == {
        "U1": (100, 120),
        "U2": (70, 80),
        "U3": (100, 100),
        "U4": (10, 10),
        "U5": (0, 0),
        "U6": (0, 0),
    }
    assert [(r["unit_id"], r["current_rank"], r["proposed_rank"]) for r in body["rows"]] == [
        ("U1", 1, 1),
        ("U3", 1, 2),
        ("U2", 3, 3),
        ("U4", 4, 4),
        ("U5", 5, 5),
        ("U6", 5, 5),
    ]
    assert {r["unit_id"]: r["rank"] for r in ranking["rows"]} == {u: rows[u]["current_rank"] for u in rows}

    quarter = (
        await kaohe.scoring.post(
            "/v1/what-if", json={"policy": with_city_single_points(document, 60), "period": "2026-Q1"}
        )
    ).json()
    # the April adoption is in Q2; U6, registered in July, is not in Q1's ranking
    assert {r["unit_id"]: r["change"] for r in quarter["rows"]} == {"U1": 10, "U2": 10, "U3": 0, "U4": 0, "U5": 0}

    assert await stored_projection(database_url) == before
    assert await kaohe.ranking("2026") == ranking


async def test_the_current_policy_proposed_again_changes_nothing(kaohe):
    await district(kaohe)
    document = await current_document(kaohe)
    body = (await kaohe.scoring.post("/v1/what-if", json={"policy": document, "period": "2026-03"})).json()
    assert body["rows"] and all(
        row["change"] == 0 and row["current_rank"] == row["proposed_rank"] for row in body["rows"]
    )


async def test_an_invalid_policy_is_422_naming_the_field(kaohe):
    document = await current_document(kaohe)
    broken = copy.deepcopy(document)
    del broken["thresholds"]
    response = await kaohe.scoring.post("/v1/what-if", json={"policy": broken, "period": "2026"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_policy"
    assert ["body", "policy", "thresholds"] in [error["loc"] for error in response.json()["errors"]]

    dangling = copy.deepcopy(document)
    dangling["channels"]["city"]["kinds"]["single"]["points"] = "S99"
    response = await kaohe.scoring.post("/v1/what-if", json={"policy": dangling, "period": "2026"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_policy")
    assert "channels.city.kinds.single.points" in response.json()["detail"]

    empty = copy.deepcopy(document)
    empty["channels"]["city"]["kinds"]["single"] = {}
    response = await kaohe.scoring.post("/v1/what-if", json={"policy": empty, "period": "2026"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_policy")
    assert ["body", "policy", "channels", "city", "kinds", "single"] in [
        error["loc"] for error in response.json()["errors"]
    ]

    response = await kaohe.scoring.post("/v1/what-if", json={"policy": document, "period": "2026-13"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_period")


async def test_a_policy_that_cannot_score_the_log_is_422(kaohe):
    await district(kaohe)
    document = await current_document(kaohe)
    narrower = copy.deepcopy(document)
    del narrower["channels"]["city"]["kinds"]["single"]  # the log holds city single adoptions
    response = await kaohe.scoring.post("/v1/what-if", json={"policy": narrower, "period": "2026"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_policy")
    assert "cannot score" in response.json()["detail"]


async def test_a_generation_dropped_under_the_snapshot_is_retried_in_a_new_one(kaohe, database_url, monkeypatch):
    """A rebuild's switch can drop the generation a what-if's snapshot names before the what-if has
    locked its tables: the what-if takes a new snapshot instead of failing."""
    from services.scoring import whatif
    from shared.db import connect_raw
    from shared.domain.periods import parse_period
    from tests.http.test_fold_properties import POLICIES, ZONE

    await district(kaohe)
    await kaohe.settled()
    proposed = whatif.proposed_policy(with_city_single_points(await current_document(kaohe), 40))
    restores = 0
    restored = whatif._restored

    async def dropped_once(*args, **kwargs):
        nonlocal restores
        restores += 1
        if restores == 1:
            raise asyncpg.UndefinedTableError('relation "proj_g9.checkpoint" does not exist')
        return await restored(*args, **kwargs)

    conn = await connect_raw(database_url)
    try:
        whole = await whatif.compare(
            conn, policies=POLICIES, proposed=proposed, period=parse_period("2026-Q1"), zone=ZONE, checkpointed=False
        )
        monkeypatch.setattr(whatif, "_restored", dropped_once)
        answer = await whatif.compare(
            conn, policies=POLICIES, proposed=proposed, period=parse_period("2026-Q1"), zone=ZONE
        )
    finally:
        await conn.close()
    assert restores == 2
    assert answer == whole and any(row["change"] for row in answer["rows"])
