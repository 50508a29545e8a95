"""The version of the rulebook that scores an effect is the one in force on its local date (rules.md,
"Policy versions"): a second policy file never rescores the past, and ingest and the fold agree."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.decide import DECIDERS, Decision, Refusal, StreamView, decide
from shared.domain.events import EVENT_TYPES, new_event_adapter
from shared.domain.evolve import EVOLVERS, FoldState, Line, LogEvent, evolve
from tests.domain.versions import SHANGHAI, base_policy, later_policy, policy_set

V2026 = base_policy()
V2027 = later_policy(
    version="2027.1",
    effective_from=date(2027, 1, 1),
    points={"S1": 25, "S2": 30, "D2": -40, "S4": 60, "D1": -25, "D6": -35},
)
BOTH = policy_set(V2026, V2027)
ALONE = policy_set(V2026)
_positions = count(1)


def ev(type_name: str, data: dict, at: str) -> LogEvent:
    moment = datetime.fromisoformat(at)
    local = moment.astimezone(SHANGHAI)
    return LogEvent(str(uuid4()), next(_positions), type_name, moment, local.year * 100 + local.month, data)


def fold(events: list[LogEvent], policies=BOTH) -> list[Line]:
    state, lines = FoldState(), []
    for event in events:
        state, outcome = evolve(state, event, policies)
        lines.extend(outcome.lines)
    return lines


def unit(unit_id: str = "U1") -> LogEvent:
    return ev(
        "unit.registered", {"unit_id": unit_id, "name": "区发改委", "kind": "department"}, "2026-01-05T10:00:00+08:00"
    )


def item(item_id: str, at: str) -> LogEvent:
    return ev("item.submitted", {"item_id": item_id, "unit_id": "U1", "title": "信息", "kind": "single"}, at)


def test_decide_and_evolve_cover_exactly_the_event_types():
    assert set(DECIDERS) == set(EVENT_TYPES)
    assert set(EVOLVERS) == set(EVENT_TYPES)


def test_december_closed_in_january_is_scored_by_decembers_version():
    met = [
        unit(),
        ev(
            "unit.target-set",
            {"unit_id": "U1", "year": 2026, "month": None, "submissions": 1, "adoptions": 0},
            "2026-01-05T10:00:00+08:00",
        ),
        item("I1", "2026-12-10T10:00:00+08:00"),
        ev("period.month-closed", {"year": 2026, "month": 12}, "2027-01-05T09:00:00+08:00"),
    ]
    [s2] = [line for line in fold(met) if line.clause == "S2"]
    assert (s2.points, s2.policy_version, s2.month) == (20, "2026.1", 202612)

    missed = [
        unit(),
        ev(
            "unit.target-set",
            {"unit_id": "U1", "year": 2026, "month": 12, "submissions": 3, "adoptions": 0},
            "2026-01-05T10:00:00+08:00",
        ),
        ev("period.month-closed", {"year": 2026, "month": 12}, "2027-01-05T09:00:00+08:00"),
    ]
    [d2] = [line for line in fold(missed) if line.clause == "D2"]
    assert (d2.points, d2.policy_version) == (-30, "2026.1")


def test_an_adoption_is_scored_by_the_version_of_its_beijing_date():
    events = [
        unit(),
        item("I1", "2026-12-01T10:00:00+08:00"),
        item("I2", "2026-12-01T10:00:00+08:00"),
        # 23:30 on 31 December in Beijing is 15:30 UTC: still the old year
        ev("item.adopted", {"item_id": "I1", "channel": "city"}, "2026-12-31T15:30:00+00:00"),
        # 00:30 on 1 January in Beijing is 16:30 UTC the day before: the new version
        ev("item.adopted", {"item_id": "I2", "channel": "city"}, "2026-12-31T16:30:00+00:00"),
    ]
    old, new = [line for line in fold(events) if line.clause == "S4"]
    assert (old.points, old.policy_version, old.month) == (50, "2026.1", 202612)
    assert (new.points, new.policy_version, new.month) == (60, "2027.1", 202701)


def test_an_assessment_of_a_year_recorded_next_january_is_scored_by_that_years_version():
    events = [
        unit(),
        unit("U2"),
        ev("unit.assessed", {"unit_id": "U1", "year": 2026, "outcome": "adequate"}, "2027-01-10T10:00:00+08:00"),
        ev("unit.assessed", {"unit_id": "U2", "year": 2026, "outcome": "inadequate"}, "2027-01-10T10:00:00+08:00"),
        ev("unit.assessed", {"unit_id": "U1", "year": 2027, "outcome": "adequate"}, "2027-01-10T10:00:00+08:00"),
    ]
    s1_2026, d1_2026, s1_2027 = fold(events)
    assert (s1_2026.clause, s1_2026.points, s1_2026.policy_version, s1_2026.month) == ("S1", 20, "2026.1", 202612)
    assert (d1_2026.clause, d1_2026.points, d1_2026.policy_version) == ("D1", -20, "2026.1")
    assert (s1_2027.points, s1_2027.policy_version) == (25, "2027.1")


def test_a_switch_on_a_day_other_than_the_first_is_cut_at_local_midnight():
    mid_month = later_policy(version="2026.2", effective_from=date(2026, 7, 15), points={"S4": 70})
    events = [
        unit(),
        item("I1", "2026-07-01T10:00:00+08:00"),
        item("I2", "2026-07-01T10:00:00+08:00"),
        ev("item.adopted", {"item_id": "I1", "channel": "city"}, "2026-07-14T15:59:00+00:00"),
        ev("item.adopted", {"item_id": "I2", "channel": "city"}, "2026-07-14T16:01:00+00:00"),
    ]
    before, after = [line.points for line in fold(events, policy_set(V2026, mid_month)) if line.clause == "S4"]
    assert (before, after) == (50, 70)


# --- a new channel is a new file -----------------------------------------------------------------------
WITH_STATE_COUNCIL = policy_set(
    V2026, later_policy(version="2027.1", effective_from=date(2027, 1, 1), state_council=True)
)


def _decide(events: list[dict], policies) -> list:
    decision = Decision(StreamView(), policies=policies, now=datetime(2030, 1, 1, tzinfo=UTC), actor=None)
    return [decide(decision, new_event_adapter.validate_python(e), event_id=uuid4()) for e in events]


SETUP = [
    {
        "type": "unit.registered",
        "occurred_at": "2026-01-05T10:00:00+08:00",
        "data": {"unit_id": "U1", "name": "区发改委", "kind": "department"},
    },
    {
        "type": "item.submitted",
        "occurred_at": "2026-12-01T10:00:00+08:00",
        "data": {"item_id": "I1", "unit_id": "U1", "title": "信息", "kind": "single"},
    },
]


def test_a_channel_that_a_later_version_adds_is_refused_before_its_date_and_scored_after():
    adopt = {"type": "item.adopted", "data": {"item_id": "I1", "channel": "state_council"}}
    with pytest.raises(Refusal) as refused:
        _decide([*SETUP, {**adopt, "occurred_at": "2026-12-31T23:30:00+08:00"}], WITH_STATE_COUNCIL)
    assert (refused.value.status, refused.value.code, refused.value.loc) == (
        422,
        "unknown_channel",
        ("data", "channel"),
    )
    *_, accepted = _decide([*SETUP, {**adopt, "occurred_at": "2027-01-01T00:30:00+08:00"}], WITH_STATE_COUNCIL)
    events = [ev(d.type, d.data, d.occurred_at.isoformat()) for d in _decide(SETUP, WITH_STATE_COUNCIL)]
    lines = fold([*events, ev(accepted.type, accepted.data, "2027-01-01T00:30:00+08:00")], WITH_STATE_COUNCIL)
    [line] = [line for line in lines if line.clause == "S11"]
    assert (line.points, line.reward_yuan, line.policy_version) == (200, Decimal("800.00"), "2027.1")


def test_extra_points_above_the_policys_bound_are_refused_with_their_loc():
    bound = V2026.max_extra_points
    events = [
        *SETUP,
        {
            "type": "unit.registered",
            "occurred_at": "2026-01-05T10:00:00+08:00",
            "data": {"unit_id": "U2", "name": "区财政局", "kind": "department"},
        },
        {
            "type": "item.adopted",
            "occurred_at": "2026-12-05T10:00:00+08:00",
            "data": {
                "item_id": "I1",
                "channel": "city",
                "contributors": [{"unit_id": "U2", "extra_points": bound + 1}],
            },
        },
    ]
    with pytest.raises(Refusal) as refused:
        _decide(events, ALONE)
    assert refused.value.code == "extra_points_out_of_range"
    assert refused.value.loc == ("data", "contributors", 0, "extra_points")
    events[-1]["data"]["contributors"][0]["extra_points"] = bound
    assert _decide(events, ALONE)


def test_contributors_of_an_adoption_that_earns_no_points_get_nothing():
    events = [
        unit(),
        unit("U2"),
        ev(
            "item.submitted",
            {"item_id": "I1", "unit_id": "U1", "title": "调研", "kind": "research"},
            "2026-03-01T10:00:00+08:00",
        ),
        ev(
            "item.adopted",
            {"item_id": "I1", "channel": "district_bulletin", "contributors": [{"unit_id": "U2", "extra_points": 5}]},
            "2026-03-05T10:00:00+08:00",
        ),
    ]
    lines = fold(events, ALONE)
    assert [(line.unit_id, line.clause, line.points, line.reward_yuan) for line in lines] == [
        ("U1", "R3", 0, Decimal("100.00"))
    ]


# --- adding a file never changes anything before its effective_from ----------------------------------
MOMENTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 6, 30)).map(
    lambda d: d.replace(tzinfo=SHANGHAI)
)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "adopt", "endorse", "late", "close", "assess", "target"]), MOMENTS, st.integers(0, 3)
    ),
    min_size=1,
    max_size=60,
)


def _log(steps) -> list[LogEvent]:
    events = [unit("U0"), unit("U1"), unit("U2")]
    items, closed, assessed = [], set(), set()
    for index, (step, moment, n) in enumerate(sorted(steps, key=lambda s: s[1])):
        at, unit_id = moment.isoformat(), f"U{n % 3}"
        if step == "submit" or not items and step in ("adopt", "endorse"):
            items.append(f"I{index}")
            events.append(
                ev("item.submitted", {"item_id": items[-1], "unit_id": unit_id, "title": "t", "kind": "single"}, at)
            )
        elif step == "adopt":
            events.append(
                ev("item.adopted", {"item_id": items[n % len(items)], "channel": "city", "issue": str(index)}, at)
            )
        elif step == "endorse":
            events.append(ev("item.endorsed", {"item_id": items[n % len(items)], "level": "district"}, at))
        elif step == "late":
            events.append(ev("unit.late-reported", {"unit_id": unit_id, "level": "district", "kind": "late"}, at))
        elif step == "target":
            events.append(
                ev(
                    "unit.target-set",
                    {"unit_id": unit_id, "year": moment.year, "month": None, "submissions": n, "adoptions": n // 2},
                    at,
                )
            )
        elif step == "assess" and (unit_id, moment.year - 1) not in assessed and moment.month == 1:
            assessed.add((unit_id, moment.year - 1))
            events.append(ev("unit.assessed", {"unit_id": unit_id, "year": moment.year - 1, "outcome": "adequate"}, at))
        elif step == "close":
            previous = moment.replace(day=1) - timedelta(days=1)
            key = (previous.year, previous.month)
            if key not in closed and previous.year >= 2026:
                closed.add(key)
                events.append(ev("period.month-closed", {"year": key[0], "month": key[1]}, at))
    return events


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_adding_a_version_never_changes_a_line_of_a_period_before_it(steps):
    events = _log(steps)
    alone, both = fold(events, ALONE), fold(events, BOTH)
    assert len(alone) == len(both)
    before = [(a, b) for a, b in zip(alone, both) if a.month < 202701]
    assert all(a == b for a, b in before)
    assert all(b.policy_version == "2027.1" for a, b in zip(alone, both) if a.month >= 202701)
