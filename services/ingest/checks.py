"""What `decide` needs, read once per commit group: the streams a group's events touch.

Streams are immutable history, so each ingest process keeps the streams it has seen (bounded, least
recently used first out) and asks the database only for what came after the version it knows —
one query per group, usually returning nothing or the few events other processes appended. A race
with another process is still caught by the unique (stream_id, stream_version) at the INSERT; the
committer then reads the tails again and decides again.
"""

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared import eventstore
from shared.domain.decide import Seen, StreamView, answers_stream

CACHE_EVENTS = 100_000  # events kept across all cached streams per process (a Seen is ~0.3 KB with its data)


@dataclass(slots=True)
class CachedStream:
    stream_id: str
    events: list[Seen] = field(default_factory=list)
    by_id: dict[UUID, tuple[str, Seen]] = field(default_factory=dict)  # as StreamView.events holds them

    def add(self, seen: Seen) -> None:
        self.events.append(seen)
        self.by_id[seen.event_id] = (self.stream_id, seen)

    @property
    def version(self) -> int:
        return len(self.events)


class StreamCache:
    """The streams this process has seen, each a prefix of the stored stream."""

    def __init__(self, limit: int = CACHE_EVENTS):
        self.limit = limit
        self._streams: OrderedDict[str, CachedStream] = OrderedDict()
        self._size = 0

    async def refresh(self, conn: Any, stream_ids: Iterable[str]) -> dict[str, CachedStream]:
        """The wanted streams, brought up to what is stored now (one query)."""
        wanted: dict[str, CachedStream] = {}
        for stream_id in stream_ids:
            cached = self._streams.get(stream_id)
            if cached is None:
                cached = self._streams[stream_id] = CachedStream(stream_id)
            else:
                self._streams.move_to_end(stream_id)
            wanted[stream_id] = cached
        rows = await eventstore.stream_tails_raw(conn, {sid: cached.version for sid, cached in wanted.items()})
        for stream_id, version, event_id, type_name, data, position in rows:
            cached = wanted[stream_id]
            if version == cached.version + 1:  # in version order; a gap cannot happen (versions are dense)
                cached.add(Seen(event_id, type_name, data, position))
                self._size += 1
        self._evict(keep=wanted)
        return wanted

    def committed(self, stream_id: str, version: int, seen: Seen) -> None:
        """An event this process just committed: extend the cached stream if it is the next one."""
        cached = self._streams.get(stream_id)
        if cached is not None and cached.version == version - 1:
            cached.add(seen)
            self._size += 1

    def _evict(self, keep: dict[str, CachedStream]) -> None:
        while self._size > self.limit and self._streams:
            stream_id, cached = next(iter(self._streams.items()))
            if stream_id in keep:
                break
            del self._streams[stream_id]
            self._size -= cached.version


def group_view(streams: dict[str, CachedStream]) -> StreamView:
    """A view of the cached streams the group may extend without touching the cache."""
    view = StreamView()
    for stream_id, cached in streams.items():
        view.streams[stream_id] = list(cached.events)
        view.events.update(cached.by_id)
    return view


async def add_solicitation_answers(conn: Any, view: StreamView, named: Iterable[Any]) -> None:
    """A dispute naming a solicitation's close needs the items that answered it (who missed the
    deadline): they go into the view's `answers_stream` of each named close's solicitation."""
    closes = sorted({event.data["solicitation_id"] for event in named if event.type == "solicitation.closed"})
    if not closes:
        return
    rows = await conn.fetch(
        "SELECT event_id, data->>'solicitation_id', data->>'unit_id', occurred_at FROM eventlog.events "
        "WHERE type = 'item.submitted' AND data ? 'solicitation_id' AND data->>'solicitation_id' = ANY($1::text[])",
        closes,
    )
    for event_id, solicitation_id, unit_id, occurred_at in rows:
        answer = {"unit_id": unit_id, "occurred_at": occurred_at.isoformat()}
        view.stream(answers_stream(solicitation_id)).append(Seen(event_id, "item.submitted", answer))


def named_ids(events: Iterable[Any]) -> set[UUID]:
    from shared.domain.decide import referenced_events

    return {ref for event in events for ref in referenced_events(event)}
