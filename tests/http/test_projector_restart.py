"""Killing the scoring process mid catch-up loses and doubles nothing."""

import asyncio

from shared.db import connect_raw
from tests.support.bulk import batches, bulk_events
from tests.support.compare import assert_projection_equals_fresh_fold
from tests.support.harness import running_kaohe
from tests.support.servers import start, wait_until


async def _checkpoint(url: str) -> int:
    conn = await connect_raw(url)
    try:
        return await conn.fetchval("SELECT position FROM proj.checkpoint")
    finally:
        await conn.close()


def _start_scoring(database_url: str, log_dir, env):
    server = start("scoring", database_url, log_dir, env=env)
    wait_until(server, "/healthz")
    return server


async def test_kill_minus_nine_mid_catch_up_then_restart_ends_equal_to_a_fresh_fold(database_url, tmp_path):
    async with running_kaohe(database_url, KAOHE_PROJECTOR=False) as kaohe:
        for batch in batches(bulk_events(units=40, items_per_unit=150, prefix="K")):
            response = await kaohe.ingest.post("/v1/events/batch", json={"events": batch})
            assert response.status_code == 201, response.text
        head = await kaohe.head()
    assert await _checkpoint(database_url) == 0

    env = {"KAOHE_PROJECTOR_BATCH": "50", "KAOHE_FOLD_CACHE": "10"}
    scoring = await asyncio.to_thread(_start_scoring, database_url, tmp_path, env)
    try:
        while not 0 < (checkpoint := await _checkpoint(database_url)) < head // 2:
            assert checkpoint < head, "caught up before it could be killed; use more events"
            await asyncio.sleep(0.005)
        scoring.kill()
        killed_at = await _checkpoint(database_url)
        assert 0 < killed_at < head
        await asyncio.sleep(0.3)
        assert await _checkpoint(database_url) == killed_at, "nothing projects while scoring is down"
        scoring = await asyncio.to_thread(_start_scoring, database_url, tmp_path, env)
        for _ in range(600):
            if await _checkpoint(database_url) == head:
                break
            await asyncio.sleep(0.05)
        assert await _checkpoint(database_url) == head
    finally:
        scoring.stop()
    await assert_projection_equals_fresh_fold(database_url)
