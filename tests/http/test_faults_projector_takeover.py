"""Two scoring instances (real uvicorn processes): one projects, the other stands by. `kill -9` the
projecting one in the middle of catching up on tens of thousands of events: the standby takes over
by itself, and the final projection equals a fresh fold of the log and, table by table and row by
row (running sums brought back to zero included), a rebuild of it."""

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from shared.db import connect_raw
from tests.http.test_rebuild import wait_for_job
from tests.support.bulk import _event, batches, bulk_events
from tests.support.compare import (
    assert_projection_equals_fresh_fold,
    assert_snapshots_equal,
    fresh_fold,
    projection_snapshot,
)
from tests.support.servers import start, wait_until

pytestmark = pytest.mark.faults

ADMIN_KEY = "kh_takeoveradmin_" + "t" * 40
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
UNITS, ITEMS_PER_UNIT = 40, 300  # 24,046 events


async def _status(http: httpx.AsyncClient, server) -> dict | None:
    try:
        response = await http.get(server.url + "/v1/projections/status", timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


async def _unit_sums_projected(url: str) -> dict[str, int]:
    conn = await connect_raw(url)
    try:
        rows = await conn.fetch(
            "SELECT unit_id, sum(points) AS points FROM proj.lines "
            "WHERE officer_id IS NULL AND revoked_position IS NULL GROUP BY unit_id"
        )
    finally:
        await conn.close()
    return {row["unit_id"]: int(row["points"]) for row in rows}


async def test_the_standby_takes_over_when_the_projecting_instance_is_killed(database_url, tmp_path: Path):
    env = {
        "KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "KAOHE_PROJECTOR_POLL_SECONDS": "0.5",
        "KAOHE_PROJECTOR_BATCH": "200",
    }
    ingest = start("ingest", database_url, tmp_path, env=env)
    scorers = []
    try:
        await asyncio.to_thread(wait_until, ingest)
        events = list(bulk_events(units=UNITS, items_per_unit=ITEMS_PER_UNIT, prefix="K"))
        # Revocations at the end, in later batches than what they revoke: every 97th adoption, and the
        # only adoption of unit KZ, whose running sums go back to exactly zero.
        at = "2026-02-10T09:00:00+08:00"
        lone = [
            _event("unit.registered", {"unit_id": "KZ", "name": "单位Z", "kind": "other"}, at),
            _event("item.submitted", {"item_id": "KZ-1", "unit_id": "KZ", "title": "信息", "kind": "single"}, at),
            _event("item.adopted", {"item_id": "KZ-1", "channel": "city"}, at),
        ]
        adoptions = [e for e in events if e["type"] == "item.adopted"][::97] + [lone[-1]]
        revocations = [
            _event("event.revoked", {"target_event_id": e["event_id"], "reason": "更正"}, at) for e in adoptions
        ]
        async with httpx.AsyncClient(base_url=ingest.url, headers=HEADERS, timeout=120) as client:
            for batch in [lone, *batches(iter(events)), revocations]:
                response = await client.post("/v1/events/batch", json={"events": batch})
                assert response.status_code == 201, response.text[:500]
            head = (await client.get("/v1/events", params={"limit": 1})).json()["head_position"]
        assert head > 20_000

        scorers = [start("scoring", database_url, tmp_path, env=env) for _ in range(2)]
        async with httpx.AsyncClient(headers=HEADERS) as http:
            # Whoever takes the lock first projects; wait until the other one is up as standby, then
            # kill the projecting one while it is still catching up.
            both_projecting, victim = 0, None
            deadline = time.monotonic() + 120
            while victim is None:
                assert time.monotonic() < deadline, "never saw one instance projecting and one standing by"
                statuses = [await _status(http, s) for s in scorers]
                roles = [s and s["projector"] for s in statuses]
                both_projecting += roles.count("projecting") > 1
                if sorted(map(str, roles)) == ["projecting", "standby"]:
                    projecting = roles.index("projecting")
                    checkpoint = statuses[projecting]["checkpoint_position"]
                    assert checkpoint < head, "catch-up finished before the standby was up: nothing to kill mid-way"
                    victim = scorers[projecting]
                    standby = scorers[1 - projecting]
                await asyncio.sleep(0.02)
            victim.kill()
            killed_at, killed_checkpoint = time.monotonic(), checkpoint
            print(f"killed the projecting instance at checkpoint {killed_checkpoint} of {head}")

            takeover = None
            while takeover is None:
                status = await _status(http, standby)
                if status and status["projector"] == "projecting":
                    takeover = time.monotonic() - killed_at
                assert time.monotonic() - killed_at < 30, f"the standby did not take over: {status}"
                await asyncio.sleep(0.05)
            print(f"the standby took over after {takeover:.2f} s")

            while True:
                status = await _status(http, standby)
                if status and status["checkpoint_position"] == head:
                    break
                assert time.monotonic() - killed_at < 180, f"the standby did not catch up: {status}"
                await asyncio.sleep(0.2)
            assert status["projector"] == "projecting" and status["error"] is None
        assert both_projecting == 0, "two instances projected at the same time"
        assert standby.process.poll() is None

        await assert_projection_equals_fresh_fold(database_url)
        live = await projection_snapshot(database_url)
        async with httpx.AsyncClient(base_url=standby.url, headers=HEADERS, timeout=30) as http:
            job = (await http.post("/v1/projections/rebuild")).json()["job_id"]
            assert (await wait_for_job(http, job, timeout=300))["state"] == "succeeded"
        assert_snapshots_equal(live, await projection_snapshot(database_url))
        replay = await fresh_fold(database_url)
        folded: dict[str, int] = defaultdict(int)
        for line in replay.lines:
            if line.officer_id is None and replay.counts(line):
                folded[line.unit_id] += line.points
        assert await _unit_sums_projected(database_url) == dict(folded)
        assert len(folded) == UNITS  # (KZ's only line was revoked)
    finally:
        for server in (ingest, *scorers):
            server.stop()
