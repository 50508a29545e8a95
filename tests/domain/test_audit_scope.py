"""Property: the audit's replay over one unit's scope of the log (its unit stream, its items'
streams, the period streams; services/scoring/audit.unit_scope) answers exactly as a replay of the
whole log, for every deduction of every unit of random valid logs (the fold_properties model)."""

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.audit import Replayer
from shared.domain.events import stream_of
from shared.domain.evolve import LogEvent
from shared.problems import Problem
from tests.http.test_fold_properties import POLICIES, STEPS, Model, log_event

AT = "2026-01-01T00:00:00Z"


def as_log(bodies: list[dict]) -> list[LogEvent]:
    """The bodies as the log would hold them, with positions (no HTTP: the fold alone is compared)."""
    streams: dict[str, str] = {}  # event id -> stream, for revocations
    events = []
    for position, body in enumerate(bodies, start=1):
        stream = stream_of(body["type"], body["data"]) or streams[body["data"]["target_event_id"]]
        streams[body["event_id"]] = stream
        stored = {**body, "global_position": position, "stream_id": stream}
        events.append((stream, log_event(stored)))
    return events


def in_scope(stream: str, unit_id: str, items: set[str]) -> bool:
    return (
        stream == f"unit-{unit_id}"
        or stream.startswith(("period-", "solicitation-"))
        or stream.removeprefix("item-") in items
    )


def replay(events: list[LogEvent], *, deduction: LogEvent, unit_id: str, year: int, checkpoint: int):
    replayer = Replayer(
        policies=POLICIES,
        event_id=deduction.event_id,
        position=deduction.position,
        unit_id=unit_id,
        checkpoint=checkpoint,
    )
    replayer.feed(events)
    try:
        return replayer.result()
    except Problem as problem:
        return problem.code


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEPS, min_size=10, max_size=60), cut=st.floats(min_value=0, max_value=1))
def test_a_replay_of_the_units_scope_equals_a_replay_of_the_whole_log(steps, cut):
    model = Model()
    bodies = model.register() + model.register() + model.register()
    for step in steps:
        if step[0] not in ("batch", "restart"):
            bodies += model.event_for(step)
    for body in bodies:
        body.setdefault("event_id", str(uuid.uuid4()))
    log = as_log(bodies)
    whole = [event for _stream, event in log]
    checkpoint = int(len(whole) * cut)
    items_of = {unit: {item for item, owner, _kind in model.items if owner == unit} for unit in model.units}
    compared = 0
    for event_id, unit_id in model.deductions:
        deduction = next(event for event in whole if event.event_id == event_id)
        year = deduction.month // 100
        scoped = [event for stream, event in log if in_scope(stream, unit_id, items_of[unit_id])]
        expected = replay(whole, deduction=deduction, unit_id=unit_id, year=year, checkpoint=checkpoint)
        assert replay(scoped, deduction=deduction, unit_id=unit_id, year=year, checkpoint=checkpoint) == expected
        compared += 1
    for (unit_id, year), event_id in model.assessed.items():
        deduction = next(event for event in whole if event.event_id == event_id)
        scoped = [event for stream, event in log if in_scope(stream, unit_id, items_of[unit_id])]
        expected = replay(whole, deduction=deduction, unit_id=unit_id, year=year, checkpoint=checkpoint)
        assert replay(scoped, deduction=deduction, unit_id=unit_id, year=year, checkpoint=checkpoint) == expected


def test_month_closes_evaluate_the_units_items_in_its_scope():
    """A month close's D2 depends on the unit's submissions (its items' streams) and target (its stream)."""
    from tests.support import factories as f

    bodies = [
        f.unit_registered("U1"),
        f.unit_registered("U2"),
        f.target_set("U1", submissions=1, adoptions=0, month=2),
        f.target_set("U2", submissions=1, adoptions=0, month=2),
        f.item_submitted("I1", "U1", at="2026-02-10T10:00:00+08:00"),
        f.item_submitted("I2", "U2", at="2026-02-10T10:00:00+08:00"),
        f.month_closed(2026, 2),  # U1 met (S2), U2 too; without its item U1 would get D2
        f.criticized("U1", at="2026-03-05T10:00:00+08:00"),
    ]
    log = as_log(bodies)
    whole = [event for _stream, event in log]
    deduction = whole[-1]
    kwargs = {"deduction": deduction, "unit_id": "U1", "year": 2026, "checkpoint": len(whole)}
    expected = replay(whole, **kwargs)
    assert replay([e for s, e in log if in_scope(s, "U1", {"I1"})], **kwargs) == expected
    assert replay([e for s, e in log if in_scope(s, "U1", set())], **kwargs) != expected  # the items matter
