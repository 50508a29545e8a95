"""A benchmark log: valid kaohe events, generated as a stream and COPYed straight into eventlog.events.

COPY is only for preparing a dataset fast (the append-only trigger refuses UPDATE/DELETE/TRUNCATE,
not INSERT); `content_hash` is computed exactly as ingest computes it, so the rows are
indistinguishable from appended ones. The generator keeps only small bounded state (units, a
window of recent items), so 5M events stream through without holding the log in memory.
When tools/demo.py's `generate` is present it is preferred for the shape of the data (see
`events`); this generator is the fallback and the one the sizes below are tuned for.
"""

import importlib.util
import random
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from shared.db import connect_raw
from shared.domain.events import SCHEMA_VERSION
from shared.eventstore import COPY_COLUMNS, content_hash

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, 8, 0, tzinfo=ZONE)
END = datetime(2026, 10, 31, 18, 0, tzinfo=ZONE)
ACTOR = {"name": "bench-loader", "role": "admin"}
ACCEPTS = {
    "single": ("district_zhengwu", "district_daily", "city", "province", "website_today"),
    "brief": ("district_zhengwu", "district_daily", "website_today"),
    "research": ("district_bulletin", "city", "province"),
}
KINDS = ("single", "single", "single", "brief", "research")
UNIT_KINDS = ("department", "township", "other")


@dataclass(slots=True)
class Event:
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    type: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(slots=True)
class _Item:
    item_id: str
    unit: int
    kind: str
    version: int
    adoption: uuid.UUID | None = None


def unit_id(i: int) -> str:
    return f"U{i:05d}"


def officer_id(unit: int, j: int) -> str:
    return f"O{unit:05d}-{j}"


def generate(
    n_events: int,
    *,
    units: int = 200,
    officers: int = 3,
    seed: int = 1,
    prefix: str = "I",
    start: datetime = START,
    end: datetime = END,
) -> Iterator[Event]:
    """`n_events` valid events: registrations and yearly targets, then submissions, adoptions,
    endorsements, deductions and revocations spread over [start, end), closing each month."""
    rng = random.Random(seed)
    versions = [0] * units
    made = 0
    span = (end - start) / max(n_events, 1)
    uid = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)

    def unit_event(u: int, type_name: str, data: dict, at: datetime) -> Event:
        versions[u] += 1
        return Event(uid(), f"unit-{unit_id(u)}", versions[u], type_name, at, data)

    setup: list[Event] = []
    for u in range(units):
        kind = UNIT_KINDS[u % 3]
        setup.append(
            unit_event(u, "unit.registered", {"unit_id": unit_id(u), "name": f"单位{u:05d}", "kind": kind}, start)
        )
        for j in range(officers):
            setup.append(
                Event(
                    uid(),
                    f"officer-{officer_id(u, j)}",
                    1,
                    "officer.registered",
                    start,
                    {"officer_id": officer_id(u, j), "unit_id": unit_id(u), "name": f"干部{u}-{j}"},
                )
            )
        setup.append(
            unit_event(
                u,
                "unit.target-set",
                {"unit_id": unit_id(u), "year": start.year, "month": None, "submissions": 3, "adoptions": 1},
                start,
            )
        )
    yield from setup[:n_events]
    made = min(len(setup), n_events)
    window: deque[_Item] = deque(maxlen=4096)
    adopted: deque[_Item] = deque(maxlen=4096)
    month = (start.year, start.month)
    serial = 0
    while made < n_events:
        at = start + span * made
        if (at.year, at.month) != month:
            yield Event(
                uid(),
                f"period-{month[0]:04d}-{month[1]:02d}",
                1,
                "period.month-closed",
                at,
                {"year": month[0], "month": month[1]},
            )
            made += 1
            month = (at.year, at.month)
            continue
        roll = rng.random()
        if roll < 0.55 or not window:
            u = rng.randrange(units)
            serial += 1
            item = _Item(f"{prefix}{serial:08d}", u, rng.choice(KINDS), 1)
            authors = [officer_id(u, j) for j in range(rng.randint(1, min(2, officers)))] if officers else []
            yield Event(
                uid(),
                f"item-{item.item_id}",
                1,
                "item.submitted",
                at,
                {
                    "item_id": item.item_id,
                    "unit_id": unit_id(u),
                    "title": f"关于第{serial}号工作情况的报告",
                    "kind": item.kind,
                    "authors": authors,
                },
            )
            window.append(item)
        elif roll < 0.88:
            item = window.popleft()
            item.version += 1
            item.adoption = uid()
            channel = rng.choice(ACCEPTS[item.kind])
            yield Event(
                item.adoption,
                f"item-{item.item_id}",
                item.version,
                "item.adopted",
                at,
                {"item_id": item.item_id, "channel": channel, "issue": f"{at.year}年第{at.month}期"},
            )
            adopted.append(item)
        elif roll < 0.94 and adopted:
            item = adopted[rng.randrange(len(adopted))]
            item.version += 1
            yield Event(
                uid(),
                f"item-{item.item_id}",
                item.version,
                "item.endorsed",
                at,
                {"item_id": item.item_id, "level": rng.choice(("district", "city", "province"))},
            )
        elif roll < 0.98:
            u = rng.randrange(units)
            yield unit_event(
                u,
                "unit.late-reported",
                {
                    "unit_id": unit_id(u),
                    "level": "district",
                    "kind": "late",
                    "responsible_officers": [officer_id(u, 0)] if officers else [],
                },
                at,
            )
        elif adopted:
            item = adopted.popleft()
            item.version += 1
            yield Event(
                uid(),
                f"item-{item.item_id}",
                item.version,
                "event.revoked",
                at,
                {"target_event_id": str(item.adoption), "reason": "重复报送，撤销采用"},
            )
        else:
            continue
        made += 1


DEMO_YEAR = 2025
EVENTS_PER_ITEM = 1.8  # what tools/demo.py makes per submitted item (adoptions, endorsements, the rest)


def demo_available() -> bool:
    return importlib.util.find_spec("tools.demo") is not None


def demo(n_events: int, *, units: int = 200, seed: int = 2026) -> Iterator[Event]:
    """The first `n_events` of tools/demo.py's district, sized up to `units` units, as log rows.

    The demo yields API bodies; the stream and its version are derived here as ingest derives them
    (`event.revoked` joins its target's stream, so the streams of revocable events are remembered).
    """
    from shared.domain.events import REVOCABLE_TYPES, stream_of
    from tools.demo import generate as demo_generate

    rate = n_events / (units * 12 * EVENTS_PER_ITEM) * 1.1
    versions: dict[str, int] = {}
    owners: dict[str, str] = {}
    made = 0
    for body in demo_generate(
        seed=seed, units=units, officers=units * 3, year=DEMO_YEAR, months=12, items_per_unit_month=rate
    ):
        if made >= n_events:
            return
        data = body["data"]
        stream = stream_of(body["type"], data) or owners[data["target_event_id"]]
        versions[stream] = version = versions.get(stream, 0) + 1
        if body["type"] in REVOCABLE_TYPES:
            owners[body["event_id"]] = stream
        made += 1
        yield Event(
            uuid.UUID(body["event_id"]),
            stream,
            version,
            body["type"],
            datetime.fromisoformat(body["occurred_at"]),
            data,
        )


def events(n_events: int, *, units: int, source: str = "auto", prefix: str = "I") -> Iterator[Event]:
    """The benchmark log: tools/demo.py's generator when present (`auto`/`demo`), else this module's."""
    if source == "demo" or (source == "auto" and demo_available()):
        return demo(n_events, units=units)
    return generate(n_events, units=units, prefix=prefix)


def poll_period(source: str = "auto") -> str:
    """A quarter the dataset fills, for the ranking polls."""
    if source == "demo" or (source == "auto" and demo_available()):
        return f"{DEMO_YEAR}-Q3"
    return "2026-Q3"


def record(event: Event) -> tuple:
    metadata: dict[str, Any] = {}
    return (
        event.event_id,
        event.stream_id,
        event.stream_version,
        event.type,
        SCHEMA_VERSION,
        event.occurred_at,
        ACTOR,
        event.data,
        metadata,
        content_hash(event.type, event.occurred_at, event.data, metadata),
    )


async def load(url: str, events: Iterator[Event], *, chunk: int = 20_000) -> int:
    """COPY the events into eventlog.events in order; returns how many. One COPY per chunk."""
    conn = await connect_raw(url)
    # binary COPY needs a binary jsonb codec: a version byte, then the JSON text
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="binary",
        encoder=lambda value: b"\x01" + orjson.dumps(value),
        decoder=lambda raw: orjson.loads(raw[1:]),
    )
    total = 0

    async def copy(batch: list[tuple]) -> None:
        # partitions ahead of the positions this COPY draws, as ingest keeps them (every minute there)
        await conn.execute("SELECT eventlog.ensure_partitions()")
        await conn.copy_records_to_table("events", schema_name="eventlog", records=batch, columns=COPY_COLUMNS)

    try:
        batch: list[tuple] = []
        for event in events:
            batch.append(record(event))
            if len(batch) >= chunk:
                await copy(batch)
                total += len(batch)
                batch = []
        if batch:
            await copy(batch)
            total += len(batch)
        # every table the load filled (eventlog.event_keys too): autovacuum may be off or late
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return total
