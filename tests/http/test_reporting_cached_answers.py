"""Polls get 304 or the cached answer before routing — but only callers the route would serve."""

import asyncio

from shared.auth import create_key
from shared.db import make_engine


async def _key(database_url: str, role: str) -> str:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        key = await create_key(conn, role=role, name=f"test-{role}")
    await engine.dispose()
    return key


async def test_a_current_etag_is_304_for_a_reader_and_never_for_a_caller_the_route_refuses(kaohe, database_url):
    await kaohe.post("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"})
    await kaohe.settled()
    first = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"})
    etag = first.headers["etag"]
    viewer = await _key(database_url, "viewer")
    platform = await _key(database_url, "platform")

    for key in (None, viewer):  # None: the admin key the harness sends
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        again = await kaohe.reporting.get(
            "/v1/rankings/units", params={"period": "2026"}, headers={"If-None-Match": etag, **auth}
        )
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert again.headers["cache-control"] == "no-cache" and again.headers["x-request-id"]
        cached = await kaohe.reporting.get("/v1/rankings/units", params={"period": "2026"}, headers=auth)
        assert cached.status_code == 200 and cached.content == first.content and cached.headers["etag"] == etag

    refused = await kaohe.reporting.get(
        "/v1/rankings/units",
        params={"period": "2026"},
        headers={"If-None-Match": etag, "Authorization": f"Bearer {platform}"},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    unknown = await kaohe.reporting.get(
        "/v1/rankings/units",
        params={"period": "2026"},
        headers={"If-None-Match": etag, "Authorization": "Bearer kh_nobody_x"},
    )
    assert unknown.status_code == 401
    anonymous = await kaohe.reporting.get(
        "/v1/rankings/units", params={"period": "2026"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401  # public reads are off by default: no cached answer either

    other_query = await kaohe.reporting.get(
        "/v1/rankings/units", params={"period": "2026-Q1"}, headers={"If-None-Match": etag}
    )
    assert other_query.status_code == 200 and other_query.headers["etag"] != etag

    await kaohe.post("unit.registered", {"unit_id": "U2", "name": "区财政局", "kind": "department"})
    await kaohe.settled()
    for _ in range(100):  # the watch hears the projector's NOTIFY
        changed = await kaohe.reporting.get(
            "/v1/rankings/units", params={"period": "2026"}, headers={"If-None-Match": etag}
        )
        if changed.status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert [row["unit_id"] for row in changed.json()["rows"]] == ["U1", "U2"]
