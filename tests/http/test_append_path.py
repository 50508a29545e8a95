"""The append path: same-stream writers are sequenced, a batch goes in by COPY with the log's triggers."""

import asyncio

import asyncpg

from services.ingest.app import create_app as create_ingest
from shared.db import asyncpg_dsn
from shared.eventstore import COPY_FROM, EVENTS_CHANNEL
from tests.support.factories import criticized, given, item_submitted, unit_registered
from tests.support.harness import settings_for


async def test_concurrent_writers_on_one_stream_without_expected_version_all_succeed(kaohe):
    await given(kaohe, unit_registered("U1"))
    responses = await asyncio.gather(*(kaohe.ingest.post("/v1/events", json=criticized("U1")) for _ in range(40)))
    assert [r.status_code for r in responses] == [201] * 40, [r.text for r in responses if r.status_code != 201]
    versions = sorted(r.json()["stream_version"] for r in responses)
    assert versions == list(range(2, 42))


async def test_a_refused_request_in_a_group_takes_back_only_its_own_events(kaohe):
    await given(kaohe, unit_registered("U1"))
    good = [criticized("U1") for _ in range(10)]
    # the same unit registered twice: the second is refused, whatever group it shares
    bad = unit_registered("U1")
    responses = await asyncio.gather(
        *(kaohe.ingest.post("/v1/events", json=body) for body in good[:5]),
        kaohe.ingest.post("/v1/events", json=bad),
        *(kaohe.ingest.post("/v1/events", json=body) for body in good[5:]),
    )
    statuses = [r.status_code for r in responses]
    assert statuses[5] == 409 and responses[5].json()["code"] == "unit_already_registered"
    assert statuses[:5] + statuses[6:] == [201] * 10
    stream = (await kaohe.ingest.get("/v1/streams/unit-U1")).json()
    assert [e["stream_version"] for e in stream["events"]] == list(range(1, 12))


async def test_two_ingest_processes_on_one_stream_both_get_their_events_in(database_url, kaohe):
    """Two ingest apps (as two workers are) race for one stream: the loser reads again and decides again."""
    await given(kaohe, unit_registered("U1"))
    other = create_ingest(settings_for(database_url))
    import httpx

    from tests.support.harness import ADMIN_KEY

    async with other.router.lifespan_context(other):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other),
            base_url="http://other",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=60,
        ) as second:
            clients = [kaohe.ingest, second] * 15
            responses = await asyncio.gather(*(c.post("/v1/events", json=criticized("U1")) for c in clients))
    assert [r.status_code for r in responses] == [201] * 30, [r.text for r in responses if r.status_code != 201]
    assert sorted(r.json()["stream_version"] for r in responses) == list(range(2, 32))


async def test_a_batch_goes_in_by_copy_with_positions_in_order_and_a_notification(kaohe, database_url):
    await given(kaohe, unit_registered("U1"))
    listener = await asyncpg.connect(asyncpg_dsn(database_url))
    notified = asyncio.Event()
    await listener.add_listener(EVENTS_CHANNEL, lambda *_args: notified.set())
    try:
        events = [item_submitted(f"I{n}", "U1") for n in range(COPY_FROM + 10)]
        response = await kaohe.ingest.post("/v1/events/batch", json={"events": events})
        assert response.status_code == 201, response.text
        await asyncio.wait_for(notified.wait(), timeout=30)
    finally:
        await listener.close()
    results = response.json()["results"]
    positions = [r["global_position"] for r in results]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [r["event_id"] for r in results] == [e["event_id"] for e in events]
    page = (await kaohe.ingest.get("/v1/events", params={"after": positions[0] - 1, "limit": 1000})).json()
    stored = {e["event_id"]: e["global_position"] for e in page["events"]}
    assert all(stored[r["event_id"]] == r["global_position"] for r in results)


async def test_copy_takes_the_logs_order_lock(database_url, kaohe):
    """The statement-level BEFORE INSERT trigger (the order lock) fires for COPY: a COPY waits for a
    transaction that holds the lock."""
    await given(kaohe, unit_registered("U1"))
    holder = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "INSERT INTO eventlog.events (event_id, stream_id, stream_version, type, schema_version, occurred_at,"
            " data, content_hash) VALUES (gen_random_uuid(), 'unit-X', 1, 'unit.registered', 1, now(),"
            ' \'{"unit_id": "X", "name": "x", "kind": "department"}\', \'\\x00\')'
        )
        events = [item_submitted(f"I{n}", "U1") for n in range(COPY_FROM)]
        batch = asyncio.create_task(kaohe.ingest.post("/v1/events/batch", json={"events": events}))
        # the batch must be waiting on the advisory lock, not done
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            waiting = await holder.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if waiting:
                break
            assert not batch.done(), batch.result().text
            assert asyncio.get_running_loop().time() < deadline, "the COPY never waited for the order lock"
            await asyncio.sleep(0.02)
        await tx.commit()
        response = await batch
    finally:
        await holder.close()
    assert response.status_code == 201, response.text


async def test_a_connection_an_append_error_left_does_not_go_back_to_the_pool(kaohe, monkeypatch):
    """A server restart can cut a statement off halfway; the committer's connection is then closed,
    not pooled for the next group, and the request is a 503 the client retries."""
    await given(kaohe, unit_registered("U1"))
    committer = kaohe.apps["ingest"].state.committer
    plan, used = committer._plan, []

    async def cut_off(conn, group):
        used.append(conn._con)  # the connection itself, not the pool's proxy (unusable once released)
        raise asyncpg.exceptions._base.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        )

    monkeypatch.setattr(committer, "_plan", cut_off)
    refused = await kaohe.ingest.post("/v1/events", json=criticized("U1"))
    assert refused.status_code == 503 and refused.json()["code"] == "database_unavailable", refused.text
    assert refused.headers["Retry-After"]
    assert used and used[0].is_closed()
    monkeypatch.setattr(committer, "_plan", plan)
    assert (await kaohe.ingest.post("/v1/events", json=criticized("U1"))).status_code == 201
