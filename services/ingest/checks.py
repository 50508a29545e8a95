"""Reading what `decide` needs: every stream a request's events touch, in two queries."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import eventstore
from shared.domain.decide import Seen, StreamView, answers_stream, referenced_events, referenced_streams
from shared.domain.events import Envelope


async def load_view(conn: AsyncConnection, events: list[Envelope]) -> StreamView:
    """Read every stream the events touch, and the streams of events they name."""
    view = StreamView()
    referenced = {ref for event in events for ref in referenced_events(event)}
    named = await eventstore.find_events(conn, list(referenced))
    wanted = {stream for event in events for stream in referenced_streams(event)}
    wanted |= {stored.stream_id for stored, _hash in named.values()}
    for stream_id, stored in (await eventstore.read_streams(conn, sorted(wanted))).items():
        for event in stored:
            view.add(stream_id, Seen(event.event_id, event.type, event.data, event.global_position))
    # A dispute naming a solicitation's close needs the items that answered it (who missed the deadline).
    closes = [stored.data["solicitation_id"] for stored, _ in named.values() if stored.type == "solicitation.closed"]
    if closes:
        result = await conn.execute(
            text(
                "SELECT event_id, data->>'solicitation_id' AS solicitation_id, data->>'unit_id' AS unit_id, "
                "occurred_at FROM eventlog.events WHERE type = 'item.submitted' "
                "AND data ? 'solicitation_id' AND data->>'solicitation_id' = ANY(CAST(:ids AS text[]))"
            ),
            {"ids": closes},
        )
        for row in result:
            answer = {"unit_id": row.unit_id, "occurred_at": row.occurred_at.isoformat()}
            view.stream(answers_stream(row.solicitation_id)).append(Seen(row.event_id, "item.submitted", answer))
    return view
