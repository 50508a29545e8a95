"""POST /v1/events through `services.ingest.fast_append` answers exactly as the route does.

Two ingest apps on one database: one as deployed, one without the fast path (the route alone).
Each request goes to both with the same request id; refusals must be the same bytes (status,
headers, body), a repeat the same 200, and a new event the same shape of 201. A counter on
`append_one` tells which requests the fast path answered itself.
"""

import contextlib
import json
import uuid
from typing import Any

import httpx
import pytest

from services.ingest import fast_append
from services.ingest.app import create_app as create_ingest
from services.ingest.fast_append import FastAppend
from shared.auth import create_key
from shared.db import make_engine
from tests.support import factories as f
from tests.support.harness import ADMIN_KEY, settings_for

REQUEST_ID = {"X-Request-ID": "fast-append-test"}


@pytest.fixture
async def apps(database_url, monkeypatch):
    """(fast, routed, keys, answered): clients of the two apps, keys by role, the fast path's answers."""
    answered: list[str] = []
    append_one = fast_append.append_one

    async def counted(app, event, principal):
        answered.append(event.type)
        return await append_one(app, event, principal)

    monkeypatch.setattr(fast_append, "append_one", counted)
    settings = settings_for(database_url)
    fast, routed = create_ingest(settings), create_ingest(settings)
    routed.user_middleware = [m for m in routed.user_middleware if m.cls is not FastAppend]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in (fast, routed):
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://x")))
        keys = await _keys(database_url)
        yield clients[0], clients[1], keys, answered


async def _keys(url: str) -> dict[str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            keys = {role: await create_key(conn, role=role, name=f"fast-{role}") for role in ("platform", "viewer")}
            keys["unit"] = await create_key(conn, role="unit", name="fast-unit", unit_id="U1")
    finally:
        await engine.dispose()
    return {**keys, "admin": ADMIN_KEY}


def _request(body: Any, *, key: str | None = ADMIN_KEY, **headers: str) -> dict[str, Any]:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    sent = {"Content-Type": "application/json", **REQUEST_ID, **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return {"content": content, "headers": sent}


async def _both(fast: httpx.AsyncClient, routed: httpx.AsyncClient, request: dict[str, Any]):
    return await fast.post("/v1/events", **request), await routed.post("/v1/events", **request)


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.headers.multi_items(), a.content) == (b.status_code, b.headers.multi_items(), b.content)


async def test_a_new_event_is_answered_by_the_fast_path_as_the_route_answers(apps):
    fast, routed, _keys, answered = apps
    await fast.post("/v1/events/batch", json={"events": [f.unit_registered("U1")]}, headers=_auth(ADMIN_KEY))
    a = await fast.post("/v1/events", **_request(f.item_submitted("I1", "U1")))
    b = await routed.post("/v1/events", **_request(f.item_submitted("I2", "U1")))
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert answered == ["item.submitted"]
    assert [name for name, _ in a.headers.multi_items()] == [name for name, _ in b.headers.multi_items()]
    assert a.headers["content-type"] == b.headers["content-type"] == "application/json"
    first, second = a.json(), b.json()
    assert list(first) == list(second) == ["event_id", "global_position", "stream_id", "stream_version", "recorded_at"]
    assert first["recorded_at"].endswith("Z") and second["recorded_at"].endswith("Z")
    assert (first["stream_id"], first["stream_version"]) == ("item-I1", 1)
    assert second["global_position"] == first["global_position"] + 1


async def test_a_repeat_is_the_same_200_on_both(apps):
    fast, routed, _keys, answered = apps
    await fast.post("/v1/events/batch", json={"events": [f.unit_registered("U1")]}, headers=_auth(ADMIN_KEY))
    request = _request(f.item_submitted("I1", "U1"), **{"Content-Type": "application/json; charset=utf-8"})
    assert (await fast.post("/v1/events", **request)).status_code == 201
    a, b = await _both(fast, routed, request)
    assert a.status_code == 200 and a.json()["duplicate"] is True
    _same(a, b)
    assert answered == ["item.submitted", "item.submitted"]


BAD_BODIES = {
    "not JSON": b'{"type": ',
    "duplicate keys": b'{"type": "item.submitted", "type": "unit.registered"}',
    "not an object": b"[]",
    "null": b"null",
    "unknown type": f.event("unit.exploded", {"unit_id": "U1"}),
    "no type": {"occurred_at": f.AT, "data": {}},
    "missing field": f.event("item.submitted", {"item_id": "I9", "unit_id": "U1", "kind": "single"}),
    "wrong types": f.event("item.submitted", {"item_id": "I9", "unit_id": "U1", "title": 3, "kind": "x"}),
    "extra field": {**f.item_submitted("I9", "U1"), "surprise": 1},
    "unix time": {**f.item_submitted("I9", "U1"), "occurred_at": 1767225600},
    "expected_version as float": {**f.item_submitted("I9", "U1"), "expected_version": 1.0},
    "lone surrogate in metadata": b'{"type": "item.submitted", "occurred_at": "2026-03-05T10:00:00+08:00", '
    b'"data": {"item_id": "I9", "unit_id": "U1", "title": "t", "kind": "single"}, "metadata": {"a": "\\ud800"}}',
    "metadata too large": {**f.item_submitted("I9", "U1"), "metadata": {"a": "x" * 20_000}},
    "unknown unit (a rule)": f.item_submitted("I9", "U404"),
    "unit registered twice (a rule)": f.unit_registered("U1"),
    "an adoption of no item (a rule)": f.item_adopted("I404", "city"),
}

ANSWERED_BY_THE_FAST_PATH = {name for name in BAD_BODIES if "(a rule)" in name} | {"metadata too large"}


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_a_refused_event_gets_the_same_bytes_from_both(apps, name):
    fast, routed, _keys, answered = apps
    await fast.post("/v1/events/batch", json={"events": [f.unit_registered("U1")]}, headers=_auth(ADMIN_KEY))
    a, b = await _both(fast, routed, _request(BAD_BODIES[name]))
    assert a.status_code in (400, 409, 422), a.text
    assert a.headers["content-type"] == "application/problem+json"
    _same(a, b)
    # what the schema refuses goes to the route; what the append refuses, the fast path renders
    assert len(answered) == (1 if name in ANSWERED_BY_THE_FAST_PATH else 0)


async def test_an_event_id_conflict_is_the_same_409(apps):
    fast, routed, _keys, answered = apps
    await fast.post("/v1/events/batch", json={"events": [f.unit_registered("U1")]}, headers=_auth(ADMIN_KEY))
    stored = f.criticized("U1")
    assert (await fast.post("/v1/events", **_request(stored))).status_code == 201
    a, b = await _both(fast, routed, _request({**stored, "occurred_at": "2026-03-06T10:00:00+08:00"}))
    assert a.status_code == 409 and a.json()["code"] == "event_id_conflict", a.text
    _same(a, b)
    assert answered == ["unit.criticized", "unit.criticized"]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


REFUSED_CALLERS = {
    "no key": lambda keys, body: _request(body, key=None),
    "unknown key": lambda keys, body: _request(body, key="kh_0badc0de_" + "y" * 43),
    "two keys": lambda keys, body: {
        "content": json.dumps(body).encode(),
        "headers": [("Content-Type", "application/json"), *REQUEST_ID.items()]
        + [("Authorization", f"Bearer {ADMIN_KEY}")] * 2,
    },
    "a viewer": lambda keys, body: _request(body, key=keys["viewer"]),
    "a platform key, a deduction": lambda keys, body: _request(f.criticized("U1"), key=keys["platform"]),
    "a unit key, another unit": lambda keys, body: _request(
        f.deduction_disputed("U2", str(uuid.uuid4())), key=keys["unit"]
    ),
    "text/plain": lambda keys, body: _request(body, **{"Content-Type": "text/plain"}),
    "over 1 MiB": lambda keys, body: _request({**body, "metadata": {"a": "x" * (1024 * 1024)}}),
    "a browser": lambda keys, body: _request(f.item_submitted("I9", "U404"), Accept="text/html"),
}


@pytest.mark.parametrize("name", list(REFUSED_CALLERS))
async def test_a_refused_caller_gets_the_same_bytes_from_both(apps, name):
    fast, routed, keys, _answered = apps
    await fast.post("/v1/events/batch", json={"events": [f.unit_registered("U1")]}, headers=_auth(ADMIN_KEY))
    request = REFUSED_CALLERS[name](keys, f.item_submitted("I9", "U1"))
    a = await fast.post("/v1/events", **request)
    b = await routed.post("/v1/events", **request)
    assert a.status_code in (400, 401, 403, 413, 415, 422), a.text
    _same(a, b)


async def test_what_the_fast_path_is_not_sure_of_goes_to_the_route(apps):
    fast, routed, keys, answered = apps
    await fast.post("/v1/events/batch", json={"events": [f.unit_registered("U1")]}, headers=_auth(ADMIN_KEY))
    others = [
        ("/v1/events?x=1", _request(f.item_submitted("I1", "U1"))),
        ("/v1/events", _request(f.item_submitted("I2", "U1"), **{"Content-Type": "application/vnd.kaohe+json"})),
    ]
    for path, request in others:
        response = await fast.post(path, **request)
        assert response.status_code == 201, response.text
    assert answered == []
    # a unit key appending its own unit's dispute: answered by the fast path
    disputed = f.deduction_disputed("U1", str(uuid.uuid4()))
    a, b = await _both(fast, routed, _request(disputed, key=keys["unit"]))
    _same(a, b)  # (refused by the rules: no such deduction)
    assert answered == ["unit.deduction-disputed"]
