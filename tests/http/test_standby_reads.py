"""Scoring and reporting read from a real streaming-replication standby (KAOHE_READ_DATABASE_URL).

A PRIVATE primary (initdb) and a standby made from it with `pg_basebackup -R`, both run by
tools/devdb.py (as an unprivileged user when the tests run as root). Shown here: rankings are
served from the standby; `min_position` is honoured while the standby's replay is paused (503
`position_not_reached` after the bounded wait; the answer as soon as replay resumes); a standby
that goes away answers 503 problem+json on reads while ingest keeps accepting; reads recover
when it returns. Skipped only where PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup)
are missing.
"""

import asyncio
import shutil
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shared.db import asyncpg_dsn
from shared.migrate import upgrade
from shared.read_position import POSITION_HEADER
from tests.support import factories as f
from tests.support.harness import Kaohe, running_kaohe
from tools.devdb import EmbeddedPostgres, candidate_bindirs

BINDIRS = candidate_bindirs()
pytestmark = pytest.mark.skipif(
    not BINDIRS or not (BINDIRS[0] / "pg_basebackup").exists() and not shutil.which("pg_basebackup"),
    reason="PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed",
)
DEADLINE = 60.0
CHANNEL = "city"


async def _until(check, *, what: str, timeout: float = DEADLINE) -> Any:
    """Poll `check()` until it returns something truthy; fail after a generous deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    primary = EmbeddedPostgres(tmp_path_factory.mktemp("primary"))
    standby = EmbeddedPostgres(tmp_path_factory.mktemp("standby"))
    primary.start()
    try:
        asyncio.run(_create(primary))
        upgrade(primary.url("kaohe_pair"))
        standby.start_as_standby_of(primary)
        yield primary, standby
    finally:
        standby.destroy()
        primary.destroy()


async def _create(pg: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(pg.url()))
    try:
        await conn.execute("CREATE DATABASE kaohe_pair")
    finally:
        await conn.close()


@pytest.fixture
async def services(pair) -> AsyncIterator[tuple[Kaohe, EmbeddedPostgres, EmbeddedPostgres]]:
    primary, standby = pair
    standby.start()  # a test may have stopped it
    standby_url = standby.url("kaohe_pair")
    # the database and its schema exist on the standby once replayed
    await _until(lambda: _replayed(standby_url), what="the standby to replay the schema")
    async with running_kaohe(
        primary.url("kaohe_pair"), KAOHE_READ_DATABASE_URL=standby_url, KAOHE_POSITION_POLL_SECONDS=0.05
    ) as kaohe:
        yield kaohe, primary, standby


async def _replayed(url: str) -> bool:
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        return await conn.fetchval("SELECT to_regclass('proj.checkpoint') IS NOT NULL")
    finally:
        await conn.close()


async def _sql(url: str, query: str) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def _append(kaohe: Kaohe, *bodies: dict[str, Any]) -> int:
    position = 0
    for body in bodies:
        response = await kaohe.ingest.post("/v1/events", json=body)
        assert response.status_code == 201, response.text
        position = response.json()["global_position"]
    return position


async def _primary_folded(kaohe: Kaohe, position: int) -> None:
    async def done() -> bool:
        status = (await kaohe.scoring.get("/v1/projections/status")).json()
        return status["checkpoint_position"] >= position

    await _until(done, what=f"the projector on the primary to fold {position}")


async def test_rankings_are_served_from_the_standby(services):
    kaohe, primary, standby = services
    reporting = kaohe.apps["reporting"].state
    assert reporting.kaohe.reads_from_standby
    assert f":{standby.port}/" in reporting.kaohe.settings.read_database_url
    await _until(lambda: asyncio.sleep(0, reporting.position_watch.mode == "poll"), what="the watch to poll")
    unit = "SB1"
    position = await _append(kaohe, f.unit_registered(unit), f.item_submitted(f"{unit}-i", unit))
    response = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026", "min_position": position})
    assert response.status_code == 200, response.text
    assert int(response.headers[POSITION_HEADER]) >= position
    assert unit in {row["unit_id"] for row in response.json()["rows"]}
    # the answer's ETag and 304 work from the standby too, whatever min_position asks
    again = await kaohe.reporting.get(
        "/v1/rankings/units",
        params={"period": "2026", "min_position": 1},
        headers={"If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code in (200, 304)
    if again.status_code == 304:
        assert again.headers["ETag"] == response.headers["ETag"]
    ledger = await kaohe.scoring.get(f"/v1/units/{unit}/ledger", params={"period": "2026", "min_position": position})
    assert ledger.status_code == 200, ledger.text
    assert int(ledger.headers[POSITION_HEADER]) >= position


async def test_min_position_is_honoured_while_the_standby_lags(services):
    kaohe, primary, standby = services
    standby_url = standby.url("kaohe_pair")
    unit = "SB2"
    await _append(kaohe, f.unit_registered(unit), f.item_submitted(f"{unit}-i", unit))
    await _sql(standby_url, "SELECT pg_wal_replay_pause()")
    try:
        position = await _append(kaohe, f.item_adopted(f"{unit}-i", CHANNEL))
        await _primary_folded(kaohe, position)
        # The primary has folded it; the paused standby has not: the bounded wait ends in a 503.
        late = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026", "min_position": position})
        assert late.status_code == 503, late.text
        assert late.headers["content-type"].startswith("application/problem+json")
        assert late.json()["code"] == "position_not_reached"
        assert late.headers["Retry-After"]
        assert int(late.headers[POSITION_HEADER]) < position
        # Without min_position the standby answers at once, from where it stands.
        stale = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"})
        assert stale.status_code == 200 and int(stale.headers[POSITION_HEADER]) < position
        # A reader that waits gets its write as soon as replay resumes.
        waiting = asyncio.create_task(
            kaohe.scoring.get(f"/v1/units/{unit}/ledger", params={"period": "2026", "min_position": position})
        )
        await asyncio.sleep(0)  # let the request start
    finally:
        await _sql(standby_url, "SELECT pg_wal_replay_resume()")
    answer = await waiting
    if answer.status_code == 503:  # resumed replay was slower than the bounded wait: ask again
        answer = await kaohe.scoring.get(
            f"/v1/units/{unit}/ledger", params={"period": "2026", "min_position": position}
        )
    assert answer.status_code == 200, answer.text
    assert int(answer.headers[POSITION_HEADER]) >= position
    assert f"{unit}-i" in {e["item_id"] for e in answer.json()["entries"]}


async def test_a_standby_that_goes_away_fails_reads_not_appends_and_reads_recover(services):
    kaohe, primary, standby = services
    unit = "SB3"
    await _append(kaohe, f.unit_registered(unit))
    standby.stop(mode="immediate")
    try:
        for path, params in (
            ("/v1/rankings/units", {"period": "2026", "min_position": 10**9}),
            ("/v1/selection/2026", {}),
        ):
            response = await kaohe.reporting.get(path, params=params)
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "database_unavailable"
        ledger = await kaohe.scoring.get(f"/v1/units/{unit}/ledger", params={"period": "2026"})
        assert ledger.status_code == 503 and ledger.json()["code"] == "database_unavailable"
        # ingest writes to the primary and keeps accepting
        position = await _append(kaohe, f.item_submitted(f"{unit}-i", unit))
    finally:
        standby.start()

    async def recovered() -> bool:
        response = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026", "min_position": position})
        return response.status_code == 200 and int(response.headers[POSITION_HEADER]) >= position

    await _until(recovered, what="reads from the returned standby")
    ledger = await kaohe.scoring.get(f"/v1/units/{unit}/ledger", params={"period": "2026", "min_position": position})
    assert ledger.status_code == 200, ledger.text
