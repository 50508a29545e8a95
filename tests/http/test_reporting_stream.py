"""Pushed rankings: GET /v1/rankings/units/stream (server-sent events) over a real uvicorn server."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import orjson

from shared.auth import create_key
from shared.db import make_engine
from tests.support import factories as f
from tests.support.harness import ADMIN_KEY
from tests.support.serve import serving

DEADLINE = 30.0  # generous: the contract is "within a second", measured by bench/, not here
STREAM = "/v1/rankings/units/stream"


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each server-sent event."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


@contextlib.asynccontextmanager
async def stream(base: str, params: dict, headers: dict | None = None) -> AsyncIterator[AsyncIterator[dict]]:
    async with httpx.AsyncClient(base_url=base, timeout=DEADLINE) as client:
        async with client.stream("GET", STREAM, params=params, headers=headers or {}) as response:
            assert response.status_code == 200, (await response.aread()).decode()
            assert response.headers["content-type"].startswith("text/event-stream")

            async def rankings():
                async for name, data in sse_events(response):
                    assert name == "ranking"
                    yield orjson.loads(data)

            yield rankings()


async def _keys(url: str) -> dict[str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return {role: await create_key(conn, role=role, name=f"sse-{role}") for role in ("viewer", "platform")}
    finally:
        await engine.dispose()


async def test_a_connected_client_gets_the_ranking_at_once_and_again_when_it_changes(kaohe):
    await kaohe.post("unit.registered", f.unit_registered("T1", kind="township")["data"])
    await kaohe.post("unit.registered", f.unit_registered("D1")["data"])
    await kaohe.settled()
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with serving(kaohe.apps["reporting"]) as base:
        async with (
            stream(base, {"period": "2026"}, auth) as rankings,
            stream(base, {"period": "2026", "kind": "township"}, auth) as townships,
        ):
            first = await asyncio.wait_for(anext(rankings), DEADLINE)
            assert first == await kaohe.ranking("2026")  # the same body as the plain GET
            assert {r["unit_id"]: r["submitted"] for r in first["rows"]} == {"T1": 0, "D1": 0}
            only = await asyncio.wait_for(anext(townships), DEADLINE)
            assert only["kind"] == "township" and [r["unit_id"] for r in only["rows"]] == ["T1"]

            appended = await kaohe.post("item.submitted", f.item_submitted("I1", "T1")["data"])

            async def changed(source) -> dict:
                async for ranking in source:
                    if ranking["position"] >= appended["global_position"]:
                        return ranking
                raise AssertionError("the stream ended")

            pushed = await asyncio.wait_for(changed(rankings), DEADLINE)
            assert {r["unit_id"]: r["submitted"] for r in pushed["rows"]} == {"T1": 1, "D1": 0}
            pushed_township = await asyncio.wait_for(changed(townships), DEADLINE)
            assert pushed_township["rows"][0]["submitted"] == 1
        # every listener gone: no feed is kept running for nobody
        feeds = kaohe.apps["reporting"].state.ranking_feeds

        async def drained() -> None:
            while feeds.feeds:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(drained(), DEADLINE)


async def test_the_stream_asks_for_the_same_keys_as_the_ranking(kaohe, database_url):
    keys = await _keys(database_url)
    async with serving(kaohe.apps["reporting"]) as base:
        async with httpx.AsyncClient(base_url=base, timeout=DEADLINE) as client:
            anonymous = await client.get(STREAM, params={"period": "2026"})
            assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
            wrong = await client.get(STREAM, params={"period": "2026", "access_token": "kh_nope_nope"})
            assert wrong.status_code == 401
            platform = await client.get(
                STREAM, params={"period": "2026"}, headers={"Authorization": f"Bearer {keys['platform']}"}
            )
            assert platform.status_code == 403 and platform.json()["code"] == "forbidden"
            bad = await client.get(
                STREAM, params={"period": "2026-13"}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            )
            assert bad.status_code == 422
        # a viewer, by header or (for EventSource, which sends no headers) by access_token
        viewer = {"Authorization": f"Bearer {keys['viewer']}"}
        for params, headers in (({"period": "2026"}, viewer), ({"period": "2026", "access_token": keys["viewer"]}, {})):
            async with stream(base, params, headers) as rankings:
                first = await asyncio.wait_for(anext(rankings), DEADLINE)
                assert first["period"] == "2026"
