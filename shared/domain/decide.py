"""`decide`: the checks an event must pass before it is appended (api.md's table), as a pure function
of the streams it touches.

Ingest reads every stream a request touches (`referenced_streams`, `referenced_events`) into a
`StreamView`, then decides the events in order; each accepted event is added to the view, so later
events of a batch may depend on earlier ones. A refusal names its status, code and the `loc` of
the bad value. The policy in force is chosen by `PolicySet.of_event`, the fold's own choice, so an
event accepted here can always be folded.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.domain.events import DEDUCTION_TYPES, REVOCABLE_TYPES, Envelope, stored_data, stream_of
from shared.domain.periods import next_month_start
from shared.domain.policy import Policy, PolicySet

FUTURE_TOLERANCE = timedelta(minutes=5)


class Refusal(Exception):
    """An event that may not be appended: HTTP status, stable code, detail, the bad value's `loc`."""

    def __init__(self, status: int, code: str, detail: str, *, loc: tuple[str | int, ...] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.loc = status, code, detail, loc


@dataclass(slots=True)
class Seen:
    """What the checks need to know of an event already in a stream."""

    event_id: UUID
    type: str
    data: dict[str, Any]
    position: int | None = None  # global position; a request's own events come after every stored one


# A request's own events: positions after any stored one, in the order decided.
BATCH_POSITIONS = 1 << 62


def answers_stream(solicitation_id: str) -> str:
    """Not a stream of the log: the view's list of items answering a solicitation ({unit_id, occurred_at})."""
    return f"answers-{solicitation_id}"


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


@dataclass(frozen=True, slots=True)
class Decided:
    """An accepted event with its stream and the version it takes there."""

    event_id: UUID
    stream_id: str
    stream_version: int
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    metadata: dict[str, Any]
    actor: dict[str, Any] | None


def referenced_streams(event: Envelope) -> Iterable[str]:
    """Every stream whose events the checks of `event` read."""
    data: Any = event.data  # type: ignore[attr-defined]
    fields = data.__dict__  # a model's fields; getattr of an absent one is slow on pydantic models
    for name, prefix in (("unit_id", "unit"), ("item_id", "item"), ("officer_id", "officer")):
        value = fields.get(name)
        if value:
            yield f"{prefix}-{value}"
    for officer in fields.get("authors") or []:
        yield f"officer-{officer}"
    for officer in fields.get("responsible_officers") or []:
        yield f"officer-{officer}"
    for contributor in fields.get("contributors") or []:
        yield f"unit-{contributor.unit_id}"
    for unit_id in getattr(data, "unit_ids", None) or []:
        yield f"unit-{unit_id}"
    if getattr(data, "solicitation_id", None):
        yield f"solicitation-{data.solicitation_id}"
    type_name: str = event.type  # type: ignore[attr-defined]
    if type_name.startswith("period."):
        yield f"period-{data.year:04d}-{data.month:02d}"


def referenced_events(event: Envelope) -> Iterable[UUID]:
    """Events that `event` names (a revocation's target, a disputed deduction)."""
    fields = event.data.__dict__  # type: ignore[attr-defined]
    for name in ("target_event_id", "deduction_event_id"):
        value = fields.get(name)
        if value:
            yield value


class Decision:
    """The inputs of one request's decisions and the lookups the rules share."""

    def __init__(self, view: StreamView, *, policies: PolicySet, now: datetime, actor: dict[str, Any] | None):
        self.view, self.policies, self.now, self.actor = view, policies, now, actor

    def policy_of(self, event: Envelope) -> Policy:
        return self.policies.of_event(event.occurred_at, _local_month(event.occurred_at, self.policies))

    def unit(self, unit_id: str, loc: tuple[str | int, ...] = ("data", "unit_id")) -> dict[str, Any]:
        registered = self.view.first(f"unit-{unit_id}")
        if registered is None or registered.type != "unit.registered":
            raise Refusal(422, "unknown_unit", f"unit {unit_id} is not registered", loc=loc)
        return registered.data

    def item(self, item_id: str) -> dict[str, Any]:
        submitted = self.view.first(f"item-{item_id}")
        if submitted is None or submitted.type != "item.submitted":
            raise Refusal(422, "unknown_item", f"item {item_id} has not been submitted", loc=("data", "item_id"))
        return submitted.data

    def officers_of(self, unit_id: str, officer_ids: list[str], field_name: str) -> None:
        if len(set(officer_ids)) != len(officer_ids):
            raise Refusal(422, "duplicate_officer", "an officer is named twice", loc=("data", field_name))
        for index, officer_id in enumerate(officer_ids):
            loc = ("data", field_name, index)
            registered = self.view.first(f"officer-{officer_id}")
            if registered is None:
                raise Refusal(422, "unknown_officer", f"officer {officer_id} is not registered", loc=loc)
            if registered.data["unit_id"] != unit_id:
                raise Refusal(
                    422, "officer_not_in_unit", f"officer {officer_id} is not an officer of unit {unit_id}", loc=loc
                )

    def named_event(self, event_id: UUID, field_name: str) -> tuple[str, Seen]:
        found = self.view.events.get(event_id)
        if found is None:
            raise Refusal(422, "unknown_event", f"event {event_id} is not in the log", loc=("data", field_name))
        return found

    def revoker(self, stream_id: str, event_id: UUID) -> Seen | None:
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

    def open_dispute(self, stream_id: str, event_id: UUID) -> bool:
        open_ = False
        for seen in self.view.stream(stream_id):
            if seen.data.get("deduction_event_id") == str(event_id):
                open_ = seen.type == "unit.deduction-disputed"
        return open_

    def solicitation(self, solicitation_id: str) -> tuple[Seen, Seen | None]:
        """The issue of a solicitation and its close (None while open)."""
        events = self.view.stream(f"solicitation-{solicitation_id}")
        if not events or events[0].type != "solicitation.issued":
            raise Refusal(
                422,
                "unknown_solicitation",
                f"solicitation {solicitation_id} has not been issued",
                loc=("data", "solicitation_id"),
            )
        closed = next((seen for seen in events if seen.type == "solicitation.closed"), None)
        return events[0], closed

    def asked(self, issued: Seen, unit_id: str) -> bool:
        """Whether a solicitation asks `unit_id`: named, or (none named) registered before the issue."""
        named = issued.data.get("unit_ids") or []
        if named:
            return unit_id in named
        registered = self.view.first(f"unit-{unit_id}")
        return (
            registered is not None
            and registered.type == "unit.registered"
            and (registered.position or 0) < (issued.position or 0)
        )

    def missed(self, issued: Seen, unit_id: str) -> bool:
        """Whether the close of `issued` deducted D7 from `unit_id`: asked, nothing by the deadline."""
        if not self.asked(issued, unit_id):
            return False
        deadline = datetime.fromisoformat(issued.data["deadline"])
        return not any(
            answer.data["unit_id"] == unit_id and datetime.fromisoformat(answer.data["occurred_at"]) <= deadline
            for answer in self.view.stream(answers_stream(issued.data["solicitation_id"]))
        )

    def month_closed(self, year: int, month: int) -> bool:
        closed = False
        for seen in self.view.stream(f"period-{year:04d}-{month:02d}"):
            closed = seen.type == "period.month-closed"
        return closed


def _local_month(moment: datetime, policies: PolicySet) -> int:
    local = moment.astimezone(policies.zone)
    return local.year * 100 + local.month


# --- one rule per event type ------------------------------------------------------------------------
Rule = Callable[[Decision, Any, Envelope], None]


def _unit_registered(d: Decision, data: Any, _event: Envelope) -> None:
    if d.view.first(f"unit-{data.unit_id}") is not None:
        raise Refusal(409, "unit_already_registered", f"unit {data.unit_id} is already registered")


def _officer_registered(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)
    if d.view.first(f"officer-{data.officer_id}") is not None:
        raise Refusal(409, "officer_already_registered", f"officer {data.officer_id} is already registered")


def _target_set(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)


def _assessed(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)
    stream_id = f"unit-{data.unit_id}"
    for seen in d.view.stream(stream_id):
        if (
            seen.type == "unit.assessed"
            and seen.data["year"] == data.year
            and d.revoker(stream_id, seen.event_id) is None
        ):
            raise Refusal(409, "already_assessed", f"unit {data.unit_id} is already assessed for {data.year}")


def _item_submitted(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)
    if d.view.first(f"item-{data.item_id}") is not None:
        raise Refusal(409, "item_already_submitted", f"item {data.item_id} was already submitted")
    d.officers_of(data.unit_id, data.authors, "authors")
    if data.solicitation_id is not None:
        issued, _closed = d.solicitation(data.solicitation_id)
        if not d.asked(issued, data.unit_id):
            raise Refusal(
                422,
                "not_solicited",
                f"solicitation {data.solicitation_id} did not ask unit {data.unit_id}",
                loc=("data", "solicitation_id"),
            )


def _item_adopted(d: Decision, data: Any, event: Envelope) -> None:
    item = d.item(data.item_id)
    policy = d.policy_of(event)
    accepted = policy.accepted_kinds.get(data.channel)
    if accepted is None:
        raise Refusal(
            422,
            "unknown_channel",
            f"channel {data.channel} is not a channel of policy {policy.version}; known: {', '.join(policy.channels)}",
            loc=("data", "channel"),
        )
    kind = data.kind or item["kind"]
    if kind not in accepted:
        raise Refusal(
            422,
            "kind_not_accepted_by_channel",
            f"channel {data.channel} accepts kinds {', '.join(accepted)}, not {kind}",
            loc=("data", "kind"),
        )
    stream_id = f"item-{data.item_id}"
    for seen in d.view.stream(stream_id):
        if (
            seen.type == "item.adopted"
            and seen.data["channel"] == data.channel
            and seen.data.get("issue") == data.issue
            and d.revoker(stream_id, seen.event_id) is None
        ):
            raise Refusal(
                409, "duplicate_adoption", f"item {data.item_id} is already adopted by {data.channel} in this issue"
            )
    contributor_ids = [c.unit_id for c in data.contributors]
    if len(set(contributor_ids)) != len(contributor_ids):
        raise Refusal(422, "duplicate_contributor", "a contributing unit is named twice", loc=("data", "contributors"))
    for index, contributor in enumerate(data.contributors):
        loc: tuple[str | int, ...] = ("data", "contributors", index)
        if contributor.unit_id == item["unit_id"]:
            raise Refusal(
                422,
                "contributor_is_owner",
                f"unit {contributor.unit_id} owns the item; it cannot also contribute",
                loc=(*loc, "unit_id"),
            )
        d.unit(contributor.unit_id, loc=(*loc, "unit_id"))
        if contributor.extra_points > policy.max_extra_points:
            raise Refusal(
                422,
                "extra_points_out_of_range",
                f"extra points are at most {policy.max_extra_points} under policy {policy.version}",
                loc=(*loc, "extra_points"),
            )


def _known_level(policy: Policy, level: str, levels: Iterable[str]) -> None:
    if level not in levels:
        raise Refusal(
            422,
            "unknown_level",
            f"level {level} is not a level of policy {policy.version} here; known: {', '.join(levels)}",
            loc=("data", "level"),
        )


def _item_endorsed(d: Decision, data: Any, event: Envelope) -> None:
    d.item(data.item_id)
    _known_level(d.policy_of(event), data.level, d.policy_of(event).endorsement_levels)


def _deduction(d: Decision, data: Any) -> None:
    d.unit(data.unit_id)
    if getattr(data, "item_id", None):
        item = d.view.first(f"item-{data.item_id}")
        if item is None or item.type != "item.submitted" or item.data["unit_id"] != data.unit_id:
            raise Refusal(
                422,
                "unknown_item",
                f"item {data.item_id} is not an item of unit {data.unit_id}",
                loc=("data", "item_id"),
            )
    d.officers_of(data.unit_id, data.responsible_officers, "responsible_officers")


def _false_information(d: Decision, data: Any, event: Envelope) -> None:
    low, high = d.policy_of(event).false_information_range
    if not low <= data.points <= high:
        raise Refusal(422, "points_out_of_range", f"points must be between {low} and {high}", loc=("data", "points"))
    _deduction(d, data)


def _late_reported(d: Decision, data: Any, event: Envelope) -> None:
    policy = d.policy_of(event)
    _known_level(policy, data.level, tuple(policy.document.late_reported))
    _deduction(d, data)


def _other_deduction(d: Decision, data: Any, _event: Envelope) -> None:
    _deduction(d, data)


def _disputed_deduction(d: Decision, data: Any) -> str:
    """The stream holding the deduction's disputes and revocation (a close's: the unit's own)."""
    d.unit(data.unit_id)
    stream_id, target = d.named_event(data.deduction_event_id, "deduction_event_id")
    if target.type == "solicitation.closed":
        # a close is each missing unit's D7 (rules.md "The office's year"): disputed unit by unit
        issued, _closed = d.solicitation(target.data["solicitation_id"])
        if not d.missed(issued, data.unit_id):
            raise Refusal(
                422,
                "not_a_deduction",
                f"event {data.deduction_event_id} deducted nothing from unit {data.unit_id}",
                loc=("data", "deduction_event_id"),
            )
        return f"unit-{data.unit_id}"
    if target.type not in DEDUCTION_TYPES or target.data["unit_id"] != data.unit_id:
        raise Refusal(
            422,
            "not_a_deduction",
            f"event {data.deduction_event_id} is not a deduction of unit {data.unit_id}",
            loc=("data", "deduction_event_id"),
        )
    return stream_id


def _deduction_disputed(d: Decision, data: Any, _event: Envelope) -> None:
    if d.actor is not None and d.actor.get("role") == "unit":
        # api.md 14: a unit key disputing another unit's deduction gets 403 before any 422.
        target = d.view.events.get(data.deduction_event_id)
        # Only a deduction has a unit to compare: anything else (an adoption, a solicitation's close,
        # whose units are checked below) is answered 422 not_a_deduction.
        if (
            target is not None
            and target[1].type in DEDUCTION_TYPES
            and target[1].data.get("unit_id") != d.actor.get("unit_id")
        ):
            raise Refusal(403, "forbidden", "a unit key may dispute only its own unit's deductions")
    stream_id = _disputed_deduction(d, data)
    if d.revoker(stream_id, data.deduction_event_id) is not None:
        raise Refusal(409, "already_revoked", f"deduction {data.deduction_event_id} is already revoked")
    if d.open_dispute(stream_id, data.deduction_event_id):
        raise Refusal(409, "dispute_already_open", f"deduction {data.deduction_event_id} already has an open dispute")


def _dispute_resolved(d: Decision, data: Any, _event: Envelope) -> None:
    stream_id = _disputed_deduction(d, data)
    if not d.open_dispute(stream_id, data.deduction_event_id):
        raise Refusal(409, "no_open_dispute", f"deduction {data.deduction_event_id} has no open dispute")


def _event_revoked(d: Decision, data: Any, _event: Envelope) -> None:
    stream_id, target = d.named_event(data.target_event_id, "target_event_id")
    if target.type not in REVOCABLE_TYPES:
        raise Refusal(
            422,
            "not_revocable",
            f"a {target.type} earns or deducts nothing and cannot be revoked",
            loc=("data", "target_event_id"),
        )
    if d.revoker(stream_id, data.target_event_id) is not None:
        raise Refusal(409, "already_revoked", f"event {data.target_event_id} is already revoked")


def _month_closed(d: Decision, data: Any, event: Envelope) -> None:
    if event.occurred_at < next_month_start(data.year, data.month, d.policies.zone):
        raise Refusal(422, "month_not_over", f"{data.year}-{data.month:02d} has not ended yet", loc=("occurred_at",))
    if d.month_closed(data.year, data.month):
        raise Refusal(409, "month_already_closed", f"{data.year}-{data.month:02d} is already closed")


def _month_reopened(d: Decision, data: Any, _event: Envelope) -> None:
    if not d.month_closed(data.year, data.month):
        raise Refusal(409, "month_not_closed", f"{data.year}-{data.month:02d} is not closed")


def _solicitation_issued(d: Decision, data: Any, _event: Envelope) -> None:
    if d.view.first(f"solicitation-{data.solicitation_id}") is not None:
        raise Refusal(409, "solicitation_already_issued", f"solicitation {data.solicitation_id} was already issued")
    if len(set(data.unit_ids)) != len(data.unit_ids):
        raise Refusal(422, "duplicate_unit", "a unit is named twice", loc=("data", "unit_ids"))
    for index, unit_id in enumerate(data.unit_ids):
        d.unit(unit_id, loc=("data", "unit_ids", index))


def _solicitation_closed(d: Decision, data: Any, event: Envelope) -> None:
    issued, closed = d.solicitation(data.solicitation_id)
    if closed is not None:
        raise Refusal(409, "solicitation_already_closed", f"solicitation {data.solicitation_id} is already closed")
    if event.occurred_at < datetime.fromisoformat(issued.data["deadline"]):
        raise Refusal(
            422,
            "deadline_not_reached",
            f"solicitation {data.solicitation_id} is due {issued.data['deadline']}; it closes at or after that",
            loc=("occurred_at",),
        )


def _rectification_pending(d: Decision, unit_id: str, year: int) -> bool:
    pending = False
    for seen in d.view.stream(f"unit-{unit_id}"):
        if seen.data.get("year") == year:
            if seen.type == "unit.rectification-submitted":
                pending = True
            elif seen.type == "unit.rectification-reviewed":
                pending = False
    return pending


def _rectification_submitted(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)
    if _rectification_pending(d, data.unit_id, data.year):
        raise Refusal(409, "rectification_pending", f"unit {data.unit_id}'s plan for {data.year} is awaiting review")


def _rectification_reviewed(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)
    if not _rectification_pending(d, data.unit_id, data.year):
        raise Refusal(
            409, "no_rectification_pending", f"unit {data.unit_id} has no plan for {data.year} awaiting review"
        )


def _rewards_paid(d: Decision, data: Any, _event: Envelope) -> None:
    d.unit(data.unit_id)
    if Decimal(data.amount_yuan) <= 0:
        raise Refusal(422, "amount_not_positive", "amount_yuan must be more than 0.00", loc=("data", "amount_yuan"))


# One rule per event type (tests/domain checks that decide and evolve cover exactly EVENT_TYPES).
DECIDERS: dict[str, Rule] = {
    "unit.registered": _unit_registered,
    "officer.registered": _officer_registered,
    "unit.target-set": _target_set,
    "unit.assessed": _assessed,
    "item.submitted": _item_submitted,
    "item.adopted": _item_adopted,
    "item.endorsed": _item_endorsed,
    "unit.false-information": _false_information,
    "unit.late-reported": _late_reported,
    "unit.solicitation-missed": _other_deduction,
    "unit.criticized": _other_deduction,
    "unit.deduction-disputed": _deduction_disputed,
    "unit.dispute-resolved": _dispute_resolved,
    "event.revoked": _event_revoked,
    "period.month-closed": _month_closed,
    "period.month-reopened": _month_reopened,
    "solicitation.issued": _solicitation_issued,
    "solicitation.closed": _solicitation_closed,
    "unit.rectification-submitted": _rectification_submitted,
    "unit.rectification-reviewed": _rectification_reviewed,
    "rewards.paid": _rewards_paid,
}


def decide(decision: Decision, event: Envelope, *, event_id: UUID) -> Decided:
    """Check one event against the view; on success add it to the view and return it, else raise Refusal."""
    type_name: str = event.type  # type: ignore[attr-defined]
    if event.occurred_at > decision.now + FUTURE_TOLERANCE:
        raise Refusal(
            422, "occurred_at_in_future", "occurred_at is more than 5 minutes in the future", loc=("occurred_at",)
        )
    rule = DECIDERS.get(type_name)
    if rule is None:
        raise Refusal(422, "unknown_event_type", f"no rule for event type {type_name}", loc=("type",))
    rule(decision, event.data, event)  # type: ignore[attr-defined]
    data = stored_data(event)
    stream_id = stream_of(type_name, data)
    if stream_id is None:  # event.revoked: its target's stream
        stream_id = decision.named_event(event.data.target_event_id, "target_event_id")[0]  # type: ignore[attr-defined]
    current = len(decision.view.stream(stream_id))
    if event.expected_version is not None and event.expected_version != current:
        raise Refusal(
            409, "wrong_expected_version", f"stream {stream_id} is at version {current}, not {event.expected_version}"
        )
    decision.view.add(stream_id, Seen(event_id, type_name, data, BATCH_POSITIONS + len(decision.view.events)))
    if data.get("solicitation_id") and type_name == "item.submitted":
        answer = {"unit_id": data["unit_id"], "occurred_at": event.occurred_at.isoformat()}
        decision.view.stream(answers_stream(data["solicitation_id"])).append(Seen(event_id, type_name, answer))
    return Decided(
        event_id=event_id,
        stream_id=stream_id,
        stream_version=current + 1,
        type=type_name,
        occurred_at=event.occurred_at,
        data=data,
        metadata=event.metadata,
        actor=decision.actor,
    )
