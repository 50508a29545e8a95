"""The ordering trap: no event may be skipped because its transaction committed late."""

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from shared import eventstore
from shared.db import make_engine
from shared.eventstore import NewRecord, content_hash
from tests.support.bulk import bulk_events
from tests.support.compare import assert_projection_equals_fresh_fold


async def _seed_item(kaohe) -> None:
    await kaohe.post("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"})
    await kaohe.post("item.submitted", {"item_id": "I1", "unit_id": "U1", "title": "标题", "kind": "single"})


def _adoption(issue: str) -> NewRecord:
    data = {"item_id": "I1", "channel": "city", "issue": issue}
    occurred = datetime(2026, 3, 5, 2, tzinfo=UTC)
    return NewRecord(
        event_id=uuid.uuid4(),
        stream_id="item-I1",
        stream_version=2,
        type="item.adopted",
        occurred_at=occurred,
        data=data,
        metadata={},
        actor={"name": "test", "role": "admin"},
        content_hash=content_hash("item.adopted", occurred, data, {}),
    )


async def test_a_writer_holding_its_transaction_open_is_still_projected(kaohe, database_url):
    await _seed_item(kaohe)
    before = await kaohe.settled()
    engine = make_engine(database_url)
    held_open = asyncio.Event()

    async def slow_writer() -> int:
        async with engine.begin() as conn:
            [row] = await eventstore.append(conn, [_adoption("第1期")])
            held_open.set()
            await conn.execute(text("SELECT pg_sleep(1.0)"))  # commits after the others tried to append
            return row["global_position"]

    slow = asyncio.create_task(slow_writer())
    await held_open.wait()
    fast = [
        asyncio.create_task(
            kaohe.post("item.adopted", {"item_id": "I1", "channel": "city", "issue": f"第{n}期"}, expect=None)
        )
        for n in range(2, 7)
    ]
    await asyncio.sleep(0.5)
    status = (await kaohe.scoring.get("/v1/projections/status")).json()
    assert status["checkpoint_position"] == before, "nothing after the open transaction may become visible"
    slow_position = await slow
    answers = [await task for task in fast]
    await engine.dispose()
    fast_positions = [answer["global_position"] for answer in answers]
    assert all(position > slow_position for position in fast_positions)

    ledger = await kaohe.unit_ledger("U1", "2026")
    assert sorted(e["global_position"] for e in ledger["entries"]) == sorted([slow_position, *fast_positions])
    assert ledger["net_points"] == 6 * 50
    await assert_projection_equals_fresh_fold(database_url)


async def test_sixteen_concurrent_writers_end_with_projection_equal_to_a_fresh_fold(kaohe, database_url):
    events = list(bulk_events(units=16, items_per_unit=80, prefix="S"))
    registrations, rest = events[:16], events[16:]
    assert (await kaohe.ingest.post("/v1/events/batch", json={"events": registrations})).status_code == 201
    pairs = [rest[i : i + 2] for i in range(0, len(rest), 2)]  # (submitted, adopted) of one item, kept in order
    lanes = [pairs[lane::16] for lane in range(16)]

    async def writer(lane: list[list[dict]]) -> None:
        for pair in lane:
            for event in pair:
                response = await kaohe.ingest.post("/v1/events", json=event)
                assert response.status_code == 201, response.text

    await asyncio.gather(*(writer(lane) for lane in lanes))
    await kaohe.settled()
    assert await kaohe.head() == len(events)
    lines = await assert_projection_equals_fresh_fold(database_url)
    assert lines == 16 * 80 + 3  # one line per adoption, one per criticism (units 0, 7, 14)
