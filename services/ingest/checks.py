"""Reading what `decide` needs: every stream a request's events touch, in two queries."""

from sqlalchemy.ext.asyncio import AsyncConnection

from shared import eventstore
from shared.domain.decide import Seen, StreamView, referenced_events, referenced_streams
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
            view.add(stream_id, Seen(event.event_id, event.type, event.data))
    return view
