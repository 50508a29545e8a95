"""The database restarts (cleanly, then as a crash) while clients append through real uvicorn servers.

Uses a PRIVATE PostgreSQL (tools/devdb.py), never the shared server. Clients retry with the same
event ids until they get 201 or 200. Afterwards: every event is in the log exactly once, no client
ever saw a 5xx other than 503 problem+json, the services recovered by themselves (no restart), and
the projection equals a fresh fold of the log.
"""

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.db import asyncpg_dsn
from shared.migrate import upgrade
from tests.support.compare import assert_projection_equals_fresh_fold
from tests.support.servers import start, wait_until
from tools.devdb import EmbeddedPostgres

pytestmark = pytest.mark.faults
ADMIN_KEY = "kh_faultadmin_" + "r" * 40
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
AT = "2026-03-05T10:00:00+08:00"
LANES = 4
PAIRS_PER_LANE = 60  # each pair: an item submitted, then adopted (the adoption depends on it)


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory):
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("private-pg"))
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


async def _create_database(pg: EmbeddedPostgres) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(pg.url()))
    try:
        await conn.execute("CREATE DATABASE kaohe_faults")
    finally:
        await conn.close()
    url = pg.url("kaohe_faults")
    await asyncio.to_thread(upgrade, url)
    return url


def _event(type_name: str, data: dict) -> dict:
    return {"event_id": str(uuid.uuid4()), "type": type_name, "occurred_at": AT, "data": data}


class Lane:
    """One client: appends its events in order, retrying each (same id) until it is stored."""

    def __init__(self, number: int) -> None:
        unit = f"L{number}"
        self.events = [_event("unit.registered", {"unit_id": unit, "name": f"单位{number}", "kind": "department"})]
        for i in range(PAIRS_PER_LANE):
            item = f"{unit}-I{i}"
            self.events.append(
                _event("item.submitted", {"item_id": item, "unit_id": unit, "title": f"信息{i}", "kind": "single"})
            )
            self.events.append(_event("item.adopted", {"item_id": item, "channel": "city"}))
        self.answers: Counter[int] = Counter()  # status -> count, over every attempt
        self.bad: list[str] = []
        self.stored: list[str] = []
        self.progress = 0

    async def run(self, client: httpx.AsyncClient) -> None:
        for body in self.events:
            while True:
                try:
                    response = await client.post("/v1/events", json=body)
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                self.answers[response.status_code] += 1
                if response.status_code in (200, 201):
                    self.stored.append(body["event_id"])
                    self.progress += 1
                    break
                if response.status_code == 503:
                    problem = response.json()
                    if response.headers["content-type"] != "application/problem+json" or problem["status"] != 503:
                        self.bad.append(f"503 that is not problem+json: {response.text[:200]}")
                    await asyncio.sleep(0.1)
                    continue
                self.bad.append(f"{response.status_code} for {body['type']}: {response.text[:300]}")
                break


async def _until(predicate, *, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_appends_survive_database_restarts_exactly_once(private_pg, tmp_path: Path):
    url = await _create_database(private_pg)
    env = {"KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY, "KAOHE_PROJECTOR_POLL_SECONDS": "0.5", "KAOHE_DB_POOL_SIZE": "5"}
    servers = {name: start(name, url, tmp_path, env=env) for name in ("ingest", "scoring", "reporting")}
    try:
        for server in servers.values():
            await asyncio.to_thread(wait_until, server)
        lanes = [Lane(n) for n in range(LANES)]
        async with httpx.AsyncClient(base_url=servers["ingest"].url, headers=HEADERS, timeout=10) as client:
            writers = [asyncio.create_task(lane.run(client)) for lane in lanes]
            total = sum(len(lane.events) for lane in lanes)

            def progressed(fraction: float):
                async def check():
                    return sum(lane.progress for lane in lanes) >= fraction * total or all(w.done() for w in writers)

                return check

            await _until(progressed(0.25), timeout=120, what="a quarter of the appends")
            await asyncio.to_thread(private_pg.stop, mode="fast")  # a clean restart
            await asyncio.sleep(1.0)
            await asyncio.to_thread(private_pg.start)
            await _until(progressed(0.6), timeout=120, what="appends after the first restart")
            await asyncio.to_thread(private_pg.stop, mode="immediate")  # a crash: recovery on start
            await asyncio.sleep(1.0)
            await asyncio.to_thread(private_pg.start)
            await asyncio.wait_for(asyncio.gather(*writers), timeout=180)

        problems = [bad for lane in lanes for bad in lane.bad]
        assert not problems, "\n".join(problems)
        statuses = sum((lane.answers for lane in lanes), Counter())
        assert set(statuses) <= {200, 201, 503}, statuses
        assert statuses[503] > 0, "no append met the database while it was down: the test proved nothing"
        print(f"answers over every attempt: {dict(statuses)}")

        # every event is in the log exactly once, and nothing else is
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = await conn.fetch(
                "SELECT event_id::text, global_position AS position, (actor->>'role') AS role FROM eventlog.events"
            )
        finally:
            await conn.close()
        logged = Counter(row["event_id"] for row in rows)
        sent = {body["event_id"] for lane in lanes for body in lane.events}
        assert set(logged) == sent and set(logged.values()) == {1}
        assert {row["role"] for row in rows} == {"admin"}

        # the services recovered by themselves: ready, the projector caught up, reporting follows
        async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
            for server in servers.values():

                async def ready(server=server):
                    try:
                        return (await http.get(server.url + "/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _until(ready, timeout=60, what=f"{server.name} ready again")

            head = max(row["position"] for row in rows)  # positions may skip after a crash: sequences

            async def caught_up():
                status = (await http.get(servers["scoring"].url + "/v1/projections/status")).json()
                return status["checkpoint_position"] == status["head_position"] == head

            await _until(caught_up, timeout=60, what="the projector to catch up")

            async def reporting_current():
                ranking = await http.get(servers["reporting"].url + "/v1/rankings/units", params={"period": "2026"})
                return ranking.status_code == 200 and ranking.json()["position"] == head

            await _until(reporting_current, timeout=60, what="reporting to see the last position")
            ranking = (
                await http.get(servers["reporting"].url + "/v1/rankings/units", params={"period": "2026"})
            ).json()
            assert sorted(row["adopted"] for row in ranking["rows"]) == [PAIRS_PER_LANE] * LANES

        assert all(server.process.poll() is None for server in servers.values()), "a service died"
        lines = await assert_projection_equals_fresh_fold(url)
        assert lines == LANES * PAIRS_PER_LANE
        for server in servers.values():
            assert '"level": "error"' not in server.log(), server.log()[-3000:]
    finally:
        for server in servers.values():
            server.stop()
