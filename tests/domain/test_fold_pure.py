"""The pure fold without a database: `apply` on hand-built events, and `split_reward`."""

from datetime import datetime
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.evolve import FoldError, FoldState, LogEvent, evolve, split_reward
from shared.policy_files import load_policies
from shared.settings import REPO_ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICIES = load_policies(REPO_ROOT / "policies", SHANGHAI)
POLICY = POLICIES.current
_positions = count(1)


def ev(type_name: str, data: dict, *, at: str = "2026-03-05T10:00:00+08:00", event_id: str | None = None) -> LogEvent:
    moment = datetime.fromisoformat(at)
    local = moment.astimezone(SHANGHAI)
    position = next(_positions)
    return LogEvent(event_id or f"e{position}", position, type_name, moment, local.year * 100 + local.month, data)


def fold(*events: LogEvent, state: FoldState | None = None):
    state, outcomes = state or FoldState(), []
    for event in events:
        state, outcome = evolve(state, event, POLICIES)
        outcomes.append(outcome)
    return state, outcomes


def world(*extra: LogEvent):
    return fold(
        ev("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"}),
        ev("unit.registered", {"unit_id": "U2", "name": "区财政局", "kind": "department"}),
        ev(
            "item.submitted",
            {"item_id": "I1", "unit_id": "U1", "title": "一季度经济运行", "kind": "single", "authors": ["A", "B", "C"]},
        ),
        *extra,
    )


# --- split_reward ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "total,authors,shares",
    [
        ("20.00", 3, ["6.68", "6.66", "6.66"]),
        ("100.00", 3, ["33.34", "33.33", "33.33"]),
        ("10.00", 1, ["10.00"]),
        ("10.00", 4, ["2.50", "2.50", "2.50", "2.50"]),
        ("0.01", 3, ["0.01", "0.00", "0.00"]),
        ("500.00", 7, ["71.48"] + ["71.42"] * 6),
        ("0.00", 2, ["0.00", "0.00"]),
    ],
)
def test_split_reward_rounds_down_and_gives_the_leftover_to_the_first_author(total, authors, shares):
    assert split_reward(Decimal(total), authors) == [Decimal(s) for s in shares]


def test_split_reward_over_no_authors_is_empty():
    assert split_reward(Decimal("20.00"), 0) == []


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=0, max_value=10_000_000), authors=st.integers(min_value=1, max_value=100))
def test_split_reward_shares_add_up_exactly(cents, authors):
    total = Decimal(cents) / 100
    shares = split_reward(total, authors)
    assert len(shares) == authors and sum(shares) == total
    assert all(s == s.quantize(Decimal("0.01")) and s >= 0 for s in shares)
    first, rest = shares[0], shares[1:]
    assert len(set(rest)) <= 1
    assert all(0 <= first - s < Decimal("0.01") * authors for s in rest)


# --- apply -----------------------------------------------------------------------------------------


def test_an_adoption_gives_the_unit_line_then_one_line_per_author_then_the_contributors():
    adoption = ev(
        "item.adopted",
        {"item_id": "I1", "channel": "district_daily", "contributors": [{"unit_id": "U2", "extra_points": 3}]},
    )
    state, outcomes = world(adoption)
    lines = outcomes[-1].lines
    assert [(l.seq, l.unit_id, l.officer_id, l.clause, l.points, l.reward_yuan) for l in lines] == [
        (0, "U1", None, "S3c", 10, Decimal("20.00")),
        (1, "U1", "A", "S3c", 10, Decimal("6.68")),
        (2, "U1", "B", "S3c", 10, Decimal("6.66")),
        (3, "U1", "C", "S3c", 10, Decimal("6.66")),
        (4, "U2", None, "S6", 13, Decimal("0.00")),
    ]
    assert all(l.event_id == adoption.event_id and l.month == 202603 for l in lines)
    assert lines[0].reward_clause == "R1c" and lines[4].reward_clause is None
    [fact] = outcomes[-1].facts
    assert (fact.fact, fact.channel, fact.unit_id) == ("adopted", "district_daily", "U1")
    assert state.month_counts[("U1", 202603)] == (1, 1)


def test_a_bulletin_adoption_is_an_r3_line_of_no_points_and_100_yuan():
    _, outcomes = world(ev("item.adopted", {"item_id": "I1", "channel": "district_bulletin", "kind": "research"}))
    unit_line = outcomes[-1].lines[0]
    assert (unit_line.clause, unit_line.reward_clause, unit_line.points, unit_line.reward_yuan) == (
        "R3",
        "R3",
        0,
        Decimal("100.00"),
    )


def test_a_deduction_gives_every_responsible_officer_the_full_points_and_no_money():
    _, outcomes = world(
        ev(
            "unit.late-reported",
            {
                "unit_id": "U1",
                "level": "province",
                "kind": "concealed",
                "responsible_officers": ["A", "B"],
                "note": "瞒报",
            },
        )
    )
    assert [(l.officer_id, l.clause, l.points, l.reward_yuan, l.note) for l in outcomes[-1].lines] == [
        (None, "D4b", -200, Decimal("0.00"), "瞒报"),
        ("A", "D4b", -200, Decimal("0.00"), "瞒报"),
        ("B", "D4b", -200, Decimal("0.00"), "瞒报"),
    ]


def test_false_information_deducts_the_points_on_the_event():
    _, outcomes = world(ev("unit.false-information", {"unit_id": "U1", "points": 70}))
    assert [(l.clause, l.points) for l in outcomes[-1].lines] == [("D3", -70)]


def test_a_revoked_adoption_no_longer_counts_for_the_month():
    adoption = ev("item.adopted", {"item_id": "I1", "channel": "city"})
    revocation = ev("event.revoked", {"target_event_id": adoption.event_id, "reason": "误录"})
    state, outcomes = world(adoption, revocation)
    assert state.month_counts[("U1", 202603)] == (1, 0)
    [revoked] = outcomes[-1].revocations
    assert (revoked.target_event_id, revoked.revoked_by, revoked.position) == (
        adoption.event_id,
        revocation.event_id,
        revocation.position,
    )
    assert adoption.event_id not in state.adoptions


def test_an_upheld_dispute_changes_nothing_and_a_revoked_one_revokes_the_deduction():
    deduction = ev("unit.criticized", {"unit_id": "U1"})
    upheld = ev(
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": deduction.event_id, "outcome": "upheld", "reason": "属实"},
    )
    reversed_ = ev(
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": deduction.event_id, "outcome": "revoked", "reason": "不属实"},
    )
    _, outcomes = world(deduction, upheld, reversed_)
    assert outcomes[-2].lines == () and outcomes[-2].revocations == ()
    assert [r.target_event_id for r in outcomes[-1].revocations] == [deduction.event_id]


def test_a_close_evaluates_the_month_and_a_reopen_revokes_that_close():
    close = ev("period.month-closed", {"year": 2026, "month": 3}, at="2026-04-01T09:00:00+08:00")
    reopen = ev("period.month-reopened", {"year": 2026, "month": 3, "reason": "补录"}, at="2026-04-02T09:00:00+08:00")
    state, outcomes = world(
        ev("unit.target-set", {"unit_id": "U1", "year": 2026, "month": None, "submissions": 1, "adoptions": 0}),
        ev("unit.target-set", {"unit_id": "U2", "year": 2026, "month": 3, "submissions": 1, "adoptions": 0}),
        close,
        reopen,
    )
    lines = outcomes[-2].lines
    assert [(l.unit_id, l.clause, l.points, l.month, l.officer_ids) for l in lines] == [
        ("U1", "S2", 20, 202603, ()),
        ("U2", "D2", -30, 202603, ()),
    ]
    assert all(l.occurred_at == close.occurred_at and l.event_id == close.event_id for l in lines)
    assert [(r.target_event_id, r.revoked_by) for r in outcomes[-1].revocations] == [(close.event_id, reopen.event_id)]
    assert 202603 not in state.closes


def test_an_assessment_for_last_year_belongs_to_its_december():
    _, outcomes = world(
        ev("unit.assessed", {"unit_id": "U1", "year": 2025, "outcome": "adequate"}, at="2026-01-10T10:00:00+08:00"),
        ev("unit.assessed", {"unit_id": "U1", "year": 2026, "outcome": "inadequate"}, at="2026-05-10T10:00:00+08:00"),
    )
    assert [(l.clause, l.points, l.month) for o in outcomes[-2:] for l in o.lines] == [
        ("S1", 20, 202512),
        ("D1", -20, 202605),
    ]


def test_apply_does_not_change_the_state_it_is_given():
    state, _ = world()
    snapshot = state
    adoption = ev("item.adopted", {"item_id": "I1", "channel": "province"})
    first = evolve(state, adoption, POLICIES)
    second = evolve(state, adoption, POLICIES)
    assert first == second
    assert state == snapshot and state.month_counts[("U1", 202603)] == (1, 0)


def test_an_event_the_fold_cannot_apply_is_a_fold_error_naming_its_position():
    state, _ = world()
    unknown_item = ev("item.adopted", {"item_id": "NOPE", "channel": "city"})
    with pytest.raises(FoldError, match=f"position {unknown_item.position}"):
        evolve(state, unknown_item, POLICIES)
    with pytest.raises(FoldError, match="unit.renamed"):
        evolve(state, ev("unit.renamed", {"unit_id": "U1"}), POLICIES)
