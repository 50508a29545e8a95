"""Stream the log in global order, in chunks, decoded for the fold. Memory stays at one chunk."""

from typing import AsyncIterator
from zoneinfo import ZoneInfo

from services.scoring.fold import LogEvent

_SELECT = ("SELECT event_id::text, global_position, type, occurred_at, data FROM eventlog.events "
           "WHERE global_position > $1 AND global_position <= $2 ORDER BY global_position LIMIT $3")


async def read_chunk(conn, *, after: int, until: int, limit: int, zone: ZoneInfo) -> list[LogEvent]:
    """Up to `limit` events with after < position <= until."""
    rows = await conn.fetch(_SELECT, after, until, limit)
    events = []
    for event_id, position, type_name, occurred_at, data in rows:
        local = occurred_at.astimezone(zone)
        events.append(LogEvent(event_id, position, type_name, occurred_at, local.year * 100 + local.month, data))
    return events


async def stream_log(conn, *, zone: ZoneInfo, after: int = 0, until: int | None = None,
                     chunk: int = 5000) -> AsyncIterator[list[LogEvent]]:
    """Every event with after < position <= until (the head when None), chunk by chunk."""
    if until is None:
        until = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
    while after < until:
        events = await read_chunk(conn, after=after, until=until, limit=chunk, zone=zone)
        if not events:
            return
        yield events
        after = events[-1].position
