"""A rebuild while a writer appends and a reader polls: the reader never sees the projection go back,
and afterwards the projection equals a fresh fold of the whole log."""

import asyncio
import uuid

from tests.http.test_rebuild import schemas
from tests.support.bulk import batches, bulk_events
from tests.support.compare import assert_projection_equals_fresh_fold, fresh_fold
from tests.support.harness import running_kaohe

BATCH = 200  # projector and rebuild chunk: the log below is many chunks long


async def seed(kaohe) -> None:
    for batch in batches(bulk_events(units=40, items_per_unit=60, prefix="B")):
        response = await kaohe.ingest.post("/v1/events/batch", json={"events": batch})
        assert response.status_code == 201, response.text[:500]
    await kaohe.settled(timeout=120)


async def writer(kaohe, stop: asyncio.Event) -> int:
    """Append continuously: new items adopted and revoked, and a new unit every few rounds."""
    n = 0
    while not stop.is_set():
        if n % 5 == 0:
            await kaohe.post("unit.registered", {"unit_id": f"W{n}", "name": f"新单位{n}", "kind": "township"})
        unit_id = f"BU{n % 40}"
        await kaohe.post(
            "item.submitted", {"item_id": f"W-{n}", "unit_id": unit_id, "title": "新信息", "kind": "single"}
        )
        adoption = str(uuid.uuid4())
        await kaohe.post("item.adopted", {"item_id": f"W-{n}", "channel": "city"}, event_id=adoption)
        if n % 3 == 0:
            await kaohe.post("event.revoked", {"target_event_id": adoption, "reason": "更正"})
        n += 1
    return n


async def reader(kaohe, stop: asyncio.Event) -> dict:
    """Poll the year's ranking; every answer must be complete and never older than the one before."""
    seen = {"polls": 0, "generations": set(), "rows": 0, "position": 0}
    while not stop.is_set():
        response = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["rows"], "an empty ranking was served"
        assert len(body["rows"]) >= seen["rows"], f"row count went back: {len(body['rows'])} < {seen['rows']}"
        assert body["position"] >= seen["position"], f"position went back: {body['position']} < {seen['position']}"
        seen["rows"], seen["position"] = len(body["rows"]), body["position"]
        seen["generations"].add(response.headers["etag"].strip('"').split(":")[0])
        seen["polls"] += 1
        await asyncio.sleep(0)
    return seen


async def test_rebuild_under_load(database_url):
    async with running_kaohe(database_url, KAOHE_PROJECTOR_BATCH=BATCH) as kaohe:
        await seed(kaohe)
        before_request = await kaohe.head()
        stop_reading, stop_writing = asyncio.Event(), asyncio.Event()
        reading = asyncio.create_task(reader(kaohe, stop_reading))
        writing = asyncio.create_task(writer(kaohe, stop_writing))

        job_id = (await kaohe.scoring.post("/v1/projections/rebuild")).json()["job_id"]
        progress = []
        while (job := (await kaohe.scoring.get(f"/v1/projections/rebuild/{job_id}")).json())["state"] == "running":
            progress.append((job["processed"], job["total"]))
            await asyncio.sleep(0.01)
        switched_at = job["position"]
        while await kaohe.head() < switched_at + 20:  # the writer goes on into the new generation
            await asyncio.sleep(0.01)
        stop_writing.set()
        written = await writing
        await kaohe.settled(timeout=120)
        stop_reading.set()
        seen = await reading

        assert job["state"] == "succeeded", job
        assert job["processed"] == job["total"] and switched_at > before_request  # appends landed mid-rebuild
        assert all(p <= t for p, t in progress) and progress == sorted(progress)
        assert any(0 < p < job["processed"] for p, _ in progress)  # progress was visible while it ran
        assert written > 0 and seen["generations"] == {"proj_g1", "proj_g2"}
        assert await schemas(database_url) == ("proj_g2", ["proj_g2"])

        stored_lines = await assert_projection_equals_fresh_fold(database_url)
        assert stored_lines > 2400  # one per bulk adoption, and the writer's
        # and the ranking served equals the one a fresh fold gives
        replay = await fresh_fold(database_url)
        net: dict[str, int] = {}
        for line in replay.lines:
            if line.officer_id is None and line.month // 100 == 2026 and replay.counts(line):
                net[line.unit_id] = net.get(line.unit_id, 0) + line.points
        ranking = (await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"})).json()
        assert {row["unit_id"]: row["net_points"] for row in ranking["rows"] if row["unit_id"] in net} == net
        assert len(ranking["rows"]) == 40 + (written + 4) // 5
