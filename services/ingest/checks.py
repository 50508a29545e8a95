"""Checks an event must pass before it is appended (api.md's table), against the streams it touches.

The checker loads every stream a request touches in one query, then checks the events in order,
adding each accepted event to its view so later events of a batch may depend on earlier ones.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from shared import eventstore
from shared.domain.events import DEDUCTION_TYPES, REVOCABLE_TYPES, Envelope, stored_data, stream_of
from shared.domain.periods import next_month_start
from shared.domain.policy import PolicySet
from shared.eventstore import NewRecord
from shared.problems import Problem

FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(slots=True)
class Seen:
    """What the checks need to know of an event already in a stream."""

    event_id: UUID
    type: str
    data: dict[str, Any]


class Refused(Problem):
    """A refusal of one event; the batch endpoint adds its index."""


def refuse(status: int, code: str, detail: str) -> Refused:
    return Refused(status, code, detail)


@dataclass
class StreamView:
    """The streams a request touches, as stored plus the request's own earlier events."""

    streams: dict[str, list[Seen]] = field(default_factory=dict)
    events: dict[UUID, tuple[str, Seen]] = field(default_factory=dict)  # event id -> (stream, event)

    def stream(self, stream_id: str) -> list[Seen]:
        return self.streams.setdefault(stream_id, [])

    def add(self, stream_id: str, seen: Seen) -> None:
        self.stream(stream_id).append(seen)
        self.events[seen.event_id] = (stream_id, seen)

    def first(self, stream_id: str) -> Seen | None:
        events = self.stream(stream_id)
        return events[0] if events else None


def _referenced_streams(event: Envelope) -> Iterable[str]:
    data = event.data
    for name, prefix in (("unit_id", "unit"), ("item_id", "item"), ("officer_id", "officer")):
        value = getattr(data, name, None)
        if value:
            yield f"{prefix}-{value}"
    for officer in getattr(data, "authors", None) or []:
        yield f"officer-{officer}"
    for officer in getattr(data, "responsible_officers", None) or []:
        yield f"officer-{officer}"
    for contributor in getattr(data, "contributors", None) or []:
        yield f"unit-{contributor.unit_id}"
    if event.type.startswith("period."):  # type: ignore[attr-defined]
        yield stream_of(event.type, {"year": data.year, "month": data.month})  # type: ignore[attr-defined]


def _referenced_events(event: Envelope) -> Iterable[UUID]:
    for name in ("target_event_id", "deduction_event_id"):
        value = getattr(event.data, name, None)  # type: ignore[attr-defined]
        if value:
            yield value


async def load_view(conn: AsyncConnection, events: list[Envelope]) -> StreamView:
    """Read every stream the events touch, and the streams of events they name, in two queries."""
    view = StreamView()
    referenced = {ref for event in events for ref in _referenced_events(event)}
    named = await eventstore.find_events(conn, list(referenced))
    wanted = {stream for event in events for stream in _referenced_streams(event)}
    wanted |= {stored.stream_id for stored, _hash in named.values()}
    for stream_id, stored in (await eventstore.read_streams(conn, sorted(wanted))).items():
        for event in stored:
            view.add(stream_id, Seen(event.event_id, event.type, event.data))
    return view


class Checker:
    """Applies api.md's checks to new events, in order, against a StreamView."""

    def __init__(
        self, view: StreamView, *, policies: PolicySet, zone: ZoneInfo, now: datetime, actor: dict[str, Any] | None
    ):
        self.view = view
        self.policies = policies
        self.zone = zone
        self.now = now
        self.actor = actor

    def accept(self, event: Envelope, content_hash: bytes) -> NewRecord:
        """Check one event; on success add it to the view and return it ready to append."""
        type_name: str = event.type  # type: ignore[attr-defined]
        if event.occurred_at > self.now + FUTURE_TOLERANCE:
            raise refuse(422, "occurred_at_in_future", "occurred_at is more than 5 minutes in the future")
        data = stored_data(event)
        getattr(self, "_" + type_name.replace(".", "_").replace("-", "_"))(event.data, event)
        stream_id = stream_of(type_name, data) or self._target_stream(event.data.target_event_id)  # type: ignore[attr-defined]
        current = len(self.view.stream(stream_id))
        if event.expected_version is not None and event.expected_version != current:
            raise refuse(
                409,
                "wrong_expected_version",
                f"stream {stream_id} is at version {current}, not {event.expected_version}",
            )
        event_id = event.event_id or uuid4()
        self.view.add(stream_id, Seen(event_id, type_name, data))
        return NewRecord(
            event_id=event_id,
            stream_id=stream_id,
            stream_version=current + 1,
            type=type_name,
            occurred_at=event.occurred_at,
            data=data,
            metadata=event.metadata,
            actor=self.actor,
            content_hash=content_hash,
        )

    # --- lookups -----------------------------------------------------------------------------
    def _unit(self, unit_id: str) -> dict[str, Any]:
        registered = self.view.first(f"unit-{unit_id}")
        if registered is None or registered.type != "unit.registered":
            raise refuse(422, "unknown_unit", f"unit {unit_id} is not registered")
        return registered.data

    def _item(self, item_id: str) -> dict[str, Any]:
        submitted = self.view.first(f"item-{item_id}")
        if submitted is None or submitted.type != "item.submitted":
            raise refuse(422, "unknown_item", f"item {item_id} has not been submitted")
        return submitted.data

    def _officers_of(self, unit_id: str, officer_ids: list[str]) -> None:
        if len(set(officer_ids)) != len(officer_ids):
            raise refuse(422, "duplicate_officer", "an officer is named twice")
        for officer_id in officer_ids:
            registered = self.view.first(f"officer-{officer_id}")
            if registered is None:
                raise refuse(422, "unknown_officer", f"officer {officer_id} is not registered")
            if registered.data["unit_id"] != unit_id:
                raise refuse(422, "officer_not_in_unit", f"officer {officer_id} is not an officer of unit {unit_id}")

    def _named_event(self, event_id: UUID) -> tuple[str, Seen]:
        found = self.view.events.get(event_id)
        if found is None:
            raise refuse(422, "unknown_event", f"event {event_id} is not in the log")
        return found

    def _target_stream(self, event_id: UUID) -> str:
        return self._named_event(event_id)[0]

    def _revoker(self, stream_id: str, event_id: UUID) -> Seen | None:
        """The event in `stream_id` that revoked `event_id`, if any."""
        for seen in self.view.stream(stream_id):
            if seen.type == "event.revoked" and seen.data["target_event_id"] == str(event_id):
                return seen
            if (
                seen.type == "unit.dispute-resolved"
                and seen.data["outcome"] == "revoked"
                and seen.data["deduction_event_id"] == str(event_id)
            ):
                return seen
        return None

    def _open_dispute(self, stream_id: str, event_id: UUID) -> bool:
        open_ = False
        for seen in self.view.stream(stream_id):
            if seen.data.get("deduction_event_id") == str(event_id):
                open_ = seen.type == "unit.deduction-disputed"
        return open_

    def _month_closed(self, year: int, month: int) -> bool:
        closed = False
        for seen in self.view.stream(f"period-{year:04d}-{month:02d}"):
            closed = seen.type == "period.month-closed"
        return closed

    # --- one method per event type --------------------------------------------------------------
    def _unit_registered(self, data, _event) -> None:
        if self.view.first(f"unit-{data.unit_id}") is not None:
            raise refuse(409, "unit_already_registered", f"unit {data.unit_id} is already registered")

    def _officer_registered(self, data, _event) -> None:
        self._unit(data.unit_id)
        if self.view.first(f"officer-{data.officer_id}") is not None:
            raise refuse(409, "officer_already_registered", f"officer {data.officer_id} is already registered")

    def _unit_target_set(self, data, _event) -> None:
        self._unit(data.unit_id)

    def _unit_assessed(self, data, _event) -> None:
        self._unit(data.unit_id)
        stream_id = f"unit-{data.unit_id}"
        for seen in self.view.stream(stream_id):
            if (
                seen.type == "unit.assessed"
                and seen.data["year"] == data.year
                and self._revoker(stream_id, seen.event_id) is None
            ):
                raise refuse(409, "already_assessed", f"unit {data.unit_id} is already assessed for {data.year}")

    def _item_submitted(self, data, _event) -> None:
        self._unit(data.unit_id)
        if self.view.first(f"item-{data.item_id}") is not None:
            raise refuse(409, "item_already_submitted", f"item {data.item_id} was already submitted")
        self._officers_of(data.unit_id, data.authors)

    def _item_adopted(self, data, event) -> None:
        item = self._item(data.item_id)
        kind = data.kind or item["kind"]
        accepted = self.policies.at(event.occurred_at).accepted_kinds[data.channel]
        if kind not in accepted:
            raise refuse(
                422,
                "kind_not_accepted_by_channel",
                f"channel {data.channel} accepts kinds {', '.join(accepted)}, not {kind}",
            )
        stream_id = f"item-{data.item_id}"
        for seen in self.view.stream(stream_id):
            if (
                seen.type == "item.adopted"
                and seen.data["channel"] == data.channel
                and seen.data.get("issue") == data.issue
                and self._revoker(stream_id, seen.event_id) is None
            ):
                raise refuse(
                    409, "duplicate_adoption", f"item {data.item_id} is already adopted by {data.channel} in this issue"
                )
        contributor_ids = [c.unit_id for c in data.contributors]
        if len(set(contributor_ids)) != len(contributor_ids):
            raise refuse(422, "duplicate_contributor", "a contributing unit is named twice")
        for unit_id in contributor_ids:
            if unit_id == item["unit_id"]:
                raise refuse(422, "contributor_is_owner", f"unit {unit_id} owns the item; it cannot also contribute")
            self._unit(unit_id)

    def _item_endorsed(self, data, _event) -> None:
        self._item(data.item_id)

    def _deduction(self, data) -> None:
        self._unit(data.unit_id)
        if getattr(data, "item_id", None):
            item = self.view.first(f"item-{data.item_id}")
            if item is None or item.type != "item.submitted" or item.data["unit_id"] != data.unit_id:
                raise refuse(422, "unknown_item", f"item {data.item_id} is not an item of unit {data.unit_id}")
        self._officers_of(data.unit_id, data.responsible_officers)

    def _unit_false_information(self, data, event) -> None:
        low, high = self.policies.at(event.occurred_at).false_information_range
        if not low <= data.points <= high:
            raise refuse(422, "points_out_of_range", f"points must be between {low} and {high}")
        self._deduction(data)

    _unit_late_reported = _unit_solicitation_missed = _unit_criticized = lambda self, data, _event: self._deduction(
        data
    )

    def _disputed_deduction(self, data) -> str:
        self._unit(data.unit_id)
        stream_id, target = self._named_event(data.deduction_event_id)
        if target.type not in DEDUCTION_TYPES or target.data["unit_id"] != data.unit_id:
            raise refuse(
                422, "not_a_deduction", f"event {data.deduction_event_id} is not a deduction of unit {data.unit_id}"
            )
        return stream_id

    def _unit_deduction_disputed(self, data, _event) -> None:
        if self.actor is not None and self.actor.get("role") == "unit":
            # api.md 14: a unit key disputing another unit's deduction gets 403 before any 422.
            target = self.view.events.get(data.deduction_event_id)
            # (only a deduction has a unit to compare: anything else is 422 not_a_deduction below)
            if (
                target is not None
                and target[1].type in DEDUCTION_TYPES
                and target[1].data.get("unit_id") != self.actor.get("unit_id")
            ):
                raise refuse(403, "forbidden", "a unit key may dispute only its own unit's deductions")
        stream_id = self._disputed_deduction(data)
        if self._revoker(stream_id, data.deduction_event_id) is not None:
            raise refuse(409, "already_revoked", f"deduction {data.deduction_event_id} is already revoked")
        if self._open_dispute(stream_id, data.deduction_event_id):
            raise refuse(
                409, "dispute_already_open", f"deduction {data.deduction_event_id} already has an open dispute"
            )

    def _unit_dispute_resolved(self, data, _event) -> None:
        stream_id = self._disputed_deduction(data)
        if not self._open_dispute(stream_id, data.deduction_event_id):
            raise refuse(409, "no_open_dispute", f"deduction {data.deduction_event_id} has no open dispute")

    def _event_revoked(self, data, _event) -> None:
        stream_id, target = self._named_event(data.target_event_id)
        if target.type not in REVOCABLE_TYPES:
            raise refuse(422, "not_revocable", f"a {target.type} earns or deducts nothing and cannot be revoked")
        if self._revoker(stream_id, data.target_event_id) is not None:
            raise refuse(409, "already_revoked", f"event {data.target_event_id} is already revoked")

    def _period_month_closed(self, data, event) -> None:
        if event.occurred_at < next_month_start(data.year, data.month, self.zone):
            raise refuse(422, "month_not_over", f"{data.year}-{data.month:02d} has not ended yet")
        if self._month_closed(data.year, data.month):
            raise refuse(409, "month_already_closed", f"{data.year}-{data.month:02d} is already closed")

    def _period_month_reopened(self, data, _event) -> None:
        if not self._month_closed(data.year, data.month):
            raise refuse(409, "month_not_closed", f"{data.year}-{data.month:02d} is not closed")
