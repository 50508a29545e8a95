"""POST /v1/projections/rebuild: a new generation, built from the log, switched to atomically."""

import asyncio
import uuid

import asyncpg

from services.scoring import rebuild
from shared.db import asyncpg_dsn
from tests.support.compare import assert_projection_equals_fresh_fold
from tests.support.harness import running_kaohe

MARCH = "2026-03-05T10:00:00+08:00"


async def history(kaohe) -> None:
    """A little of everything that revokes: an adoption revoked, a month closed, reopened, closed again."""
    for unit_id in ("U1", "U2"):
        await kaohe.post(
            "unit.registered",
            {"unit_id": unit_id, "name": f"单位{unit_id}", "kind": "township"},
            occurred_at="2026-01-02T09:00:00+08:00",
        )
        await kaohe.post(
            "unit.target-set",
            {"unit_id": unit_id, "year": 2026, "month": None, "submissions": 1, "adoptions": 1},
            occurred_at="2026-01-02T09:00:00+08:00",
        )
    await kaohe.post(
        "officer.registered",
        {"officer_id": "O1", "unit_id": "U1", "name": "赵信息员"},
        occurred_at="2026-01-02T09:00:00+08:00",
    )
    for n, at in enumerate(("2026-01-10T10:00:00+08:00", "2026-01-20T10:00:00+08:00")):
        await kaohe.post(
            "item.submitted",
            {"item_id": f"I{n}", "unit_id": "U1", "title": "信息", "kind": "single", "authors": ["O1"]},
            occurred_at=at,
        )
    adoption = str(uuid.uuid4())
    await kaohe.post(
        "item.adopted", {"item_id": "I0", "channel": "city"}, event_id=adoption, occurred_at="2026-01-10T11:00:00+08:00"
    )
    await kaohe.post(
        "item.adopted", {"item_id": "I1", "channel": "district_zhengwu"}, occurred_at="2026-01-20T11:00:00+08:00"
    )
    await kaohe.post("period.month-closed", {"year": 2026, "month": 1}, occurred_at="2026-02-01T09:00:00+08:00")
    await kaohe.post("event.revoked", {"target_event_id": adoption, "reason": "重复登记"})
    await kaohe.post("period.month-reopened", {"year": 2026, "month": 1, "reason": "采用记录更正"})
    await kaohe.post("period.month-closed", {"year": 2026, "month": 1})
    await kaohe.post("unit.criticized", {"unit_id": "U2", "responsible_officers": []})


async def wait_for_job(client, job_id: str, timeout: float = 120.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"/v1/projections/rebuild/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] != "running":
            return job
        assert asyncio.get_running_loop().time() < deadline, f"rebuild did not finish: {job}"
        await asyncio.sleep(0.02)


async def schemas_after_cleanup(database_url: str) -> tuple[str, list[str]]:
    """The generations once the old one is dropped: the drop follows the switch's commit."""
    for _ in range(100):
        found = await schemas(database_url)
        if len(found[1]) == 1:
            return found
        await asyncio.sleep(0.05)
    return found


async def schemas(database_url: str) -> tuple[str, list[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        active = await conn.fetchval("SELECT schema_name FROM scoring.active_generation")
        names = [
            r["nspname"]
            for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname ~ '^proj_g[0-9]+$' ORDER BY nspname"
            )
        ]
        return active, names
    finally:
        await conn.close()


async def test_a_rebuild_switches_to_an_equal_generation_and_keeps_projecting(kaohe, database_url):
    await history(kaohe)
    ranking, ledger = await kaohe.ranking("2026"), await kaohe.unit_ledger("U1")
    head = await kaohe.head()

    response = await kaohe.scoring.post("/v1/projections/rebuild")
    assert response.status_code == 202, response.text
    job = await wait_for_job(kaohe.scoring, response.json()["job_id"])
    assert (job["state"], job["processed"], job["total"], job["position"]) == ("succeeded", head, head, head)
    assert job["events_per_second"] > 0 and job["schema"] == "proj_g2" and job["error"] is None
    assert await schemas_after_cleanup(database_url) == ("proj_g2", ["proj_g2"])  # the old generation is dropped

    rebuilt = await kaohe.ranking("2026")
    assert rebuilt["rows"] == ranking["rows"]
    assert (await kaohe.unit_ledger("U1"))["entries"] == ledger["entries"]
    await assert_projection_equals_fresh_fold(database_url)

    # the projector carries on in the new generation, with the rebuilt fold state (I0 is known)
    await kaohe.post("item.endorsed", {"item_id": "I0", "level": "district"})
    assert (await kaohe.unit_ledger("U1"))["net_points"] == ledger["net_points"] + 20
    await assert_projection_equals_fresh_fold(database_url)

    again = await kaohe.scoring.post("/v1/projections/rebuild")
    assert (await wait_for_job(kaohe.scoring, again.json()["job_id"]))["schema"] == "proj_g3"
    assert await schemas_after_cleanup(database_url) == ("proj_g3", ["proj_g3"])
    await assert_projection_equals_fresh_fold(database_url)


async def test_any_instance_takes_the_request_and_the_projecting_one_runs_it(database_url):
    async with running_kaohe(database_url, KAOHE_PROJECTOR="false") as front:
        await history(front)
        first = (await front.scoring.post("/v1/projections/rebuild")).json()["job_id"]
        second = (await front.scoring.post("/v1/projections/rebuild")).json()["job_id"]
        assert first == second  # a rebuild already requested is joined, not queued twice
        waiting = (await front.scoring.get(f"/v1/projections/rebuild/{first}")).json()
        assert (waiting["state"], waiting["processed"], waiting["started_at"]) == ("running", 0, None)
        head = await front.head()

        async with running_kaohe(database_url) as projecting:  # holds the projector lock
            job = await wait_for_job(front.scoring, first)  # asked on the instance that does not run it
            assert (job["state"], job["processed"]) == ("succeeded", head)
            assert (await projecting.scoring.get(f"/v1/projections/rebuild/{first}")).json() == job
            await projecting.settled()
        await assert_projection_equals_fresh_fold(database_url)


async def test_a_job_left_half_built_by_a_stopped_leader_starts_again(database_url):
    async with running_kaohe(database_url, KAOHE_PROJECTOR="false") as front:
        await history(front)
        job_id = (await front.scoring.post("/v1/projections/rebuild")).json()["job_id"]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:  # what a leader that died mid-bulk leaves behind
        await conn.execute(
            "SET ROLE kaohe_scoring; CREATE SCHEMA proj_g9; CREATE TABLE proj_g9.lines (x int); RESET ROLE"
        )
        await conn.execute(
            "UPDATE scoring.rebuild_jobs SET schema_name = 'proj_g9', processed = 5, "
            "started_at = now() WHERE job_id = $1::uuid",
            job_id,
        )
    finally:
        await conn.close()
    async with running_kaohe(database_url) as kaohe:
        job = await wait_for_job(kaohe.scoring, job_id)
        assert (job["state"], job["schema"], job["processed"]) == ("succeeded", "proj_g2", await kaohe.head())
    assert await schemas_after_cleanup(database_url) == ("proj_g2", ["proj_g2"])
    await assert_projection_equals_fresh_fold(database_url)


async def test_a_failed_rebuild_leaves_the_live_projection_serving(kaohe, database_url):
    await history(kaohe)
    ranking = await kaohe.ranking("2026")
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:  # the scoring role may no longer create schemas: the new generation cannot be made
        await conn.execute(f'REVOKE CREATE ON DATABASE "{conn._params.database}" FROM kaohe_scoring')
    finally:
        await conn.close()
    job_id = (await kaohe.scoring.post("/v1/projections/rebuild")).json()["job_id"]
    job = await wait_for_job(kaohe.scoring, job_id)
    assert job["state"] == "failed" and "permission denied" in job["error"]
    assert await schemas(database_url) == ("proj_g1", ["proj_g1"])
    await kaohe.post("unit.criticized", {"unit_id": "U1"})
    after = await kaohe.ranking("2026")
    assert after["position"] > ranking["position"] and len(after["rows"]) == len(ranking["rows"])
    await assert_projection_equals_fresh_fold(database_url)


async def test_unknown_jobs_are_404(kaohe):
    for job_id in (str(uuid.uuid4()), "nope"):
        response = await kaohe.scoring.get(f"/v1/projections/rebuild/{job_id}")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_a_switch_held_up_by_a_reader_is_retried_and_never_half_done(kaohe, database_url, monkeypatch, caplog):
    monkeypatch.setattr(rebuild, "SWITCH_LOCK_TIMEOUT", "50ms")
    await history(kaohe)
    reader = await asyncpg.connect(asyncpg_dsn(database_url))
    transaction = reader.transaction(isolation="repeatable_read")
    await transaction.start()
    assert await reader.fetchval("SELECT schema_name FROM scoring.active_generation") == "proj_g1"
    try:
        job_id = (await kaohe.scoring.post("/v1/projections/rebuild")).json()["job_id"]
        deadline = asyncio.get_running_loop().time() + 60
        while caplog.text.count("readers held the projection") < 2:  # at least one retry
            assert asyncio.get_running_loop().time() < deadline, caplog.text
            await kaohe.post("item.endorsed", {"item_id": "I1", "level": "district"})  # the log moves on
            await asyncio.sleep(0.05)
        job = (await kaohe.scoring.get(f"/v1/projections/rebuild/{job_id}")).json()
        assert job["state"] == "running"
        assert (await schemas(database_url))[0] == "proj_g1"
        # the reader's transaction still sees the old generation, whole
        assert await reader.fetchval("SELECT position FROM proj.checkpoint") > 0
    finally:
        await transaction.rollback()
        await reader.close()
    job = await wait_for_job(kaohe.scoring, job_id)
    assert (job["state"], job["position"]) == ("succeeded", await kaohe.head())
    await kaohe.settled()
    await assert_projection_equals_fresh_fold(database_url)
