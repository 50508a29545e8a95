"""`python -m bench.one_stream`: 20 clients appending to ONE stream without `expected_version` for
10 s against a real ingest (KAOHE_WORKERS workers) on a fresh database of 127.0.0.1:5432; prints the
statuses, the rate and the share of refusals (issue 15 item 8: 68 % `409 concurrent_append` before
the group committer sequenced same-stream requests)."""

import asyncio
import time
import uuid

import asyncpg
import httpx

from bench import services
from shared.migrate import upgrade

SERVER = "postgresql://postgres@127.0.0.1:5432"
DB = "kaohe_bench_one_stream"
CLIENTS, SECONDS = 20, 10.0


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _append_for(client: httpx.AsyncClient, statuses: dict[int, int], stop: float) -> None:
    while time.monotonic() < stop:
        response = await client.post(
            "/v1/events",
            json={
                "event_id": str(uuid.uuid4()),
                "type": "unit.criticized",
                "occurred_at": "2026-03-05T10:00:00+08:00",
                "data": {"unit_id": "U1", "bulletin": "通报批评"},
            },
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1


async def main() -> None:
    await _admin(f"DROP DATABASE IF EXISTS {DB}")
    await _admin(f"CREATE DATABASE {DB}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
    await asyncio.to_thread(upgrade, url)
    key = services.admin_key()
    server = await services.start("ingest", env=services.service_env(url, key))
    statuses: dict[int, int] = {}
    try:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as client:
            registered = await client.post(
                "/v1/events",
                json={
                    "type": "unit.registered",
                    "occurred_at": "2026-03-01T10:00:00+08:00",
                    "data": {"unit_id": "U1", "name": "单位", "kind": "department"},
                },
            )
            assert registered.status_code == 201, registered.text
            started = time.monotonic()
            await asyncio.gather(*(_append_for(client, statuses, started + SECONDS) for _ in range(CLIENTS)))
            elapsed = time.monotonic() - started
    finally:
        server.stop()
        await _admin(f"DROP DATABASE IF EXISTS {DB}")
    accepted = statuses.get(201, 0)
    refused = 1 - accepted / max(1, sum(statuses.values()))
    print(f"{CLIENTS} clients, one stream, {elapsed:.1f} s: statuses {statuses}; {accepted / elapsed:.0f} appends/s; ")
    print(f"refused {refused:.1%}")


if __name__ == "__main__":
    asyncio.run(main())
