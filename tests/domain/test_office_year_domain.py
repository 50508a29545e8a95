"""The office's year in the pure domain (no database): 约稿 decided and folded, D7 from a close,
per-unit disputes of a close, rectification and payment rules.

Each event goes through `decide` (with the view a request would load) and, once accepted, through
`evolve`, in log order, as ingest and the projector do.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from shared.domain.decide import DECIDERS, Decision, Refusal, StreamView, decide
from shared.domain.events import EVENT_TYPES, new_event_adapter
from shared.domain.evolve import EVOLVERS, FoldState, LogEvent, Outcome, evolve
from shared.policy_files import load_policies
from shared.settings import REPO_ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICIES = load_policies(REPO_ROOT / "policies", SHANGHAI)
DEADLINE = "2026-03-10T18:00:00+08:00"


class Log:
    """A log in memory: every accepted event is decided against one view and folded."""

    def __init__(self) -> None:
        self.view = StreamView()
        self.state = FoldState()
        self.position = 0
        self.outcomes: list[Outcome] = []

    def append(
        self, type_name: str, data: dict[str, Any], *, at: str = "2026-03-05T10:00:00+08:00", actor: dict | None = None
    ) -> str:
        envelope = new_event_adapter.validate_python({"type": type_name, "occurred_at": at, "data": data})
        decision = Decision(self.view, policies=POLICIES, now=datetime(2027, 1, 1, tzinfo=UTC), actor=actor)
        decided = decide(decision, envelope, event_id=uuid4())
        self.position += 1
        local = decided.occurred_at.astimezone(SHANGHAI)
        event = LogEvent(
            str(decided.event_id),
            self.position,
            decided.type,
            decided.occurred_at,
            local.year * 100 + local.month,
            decided.data,
        )
        # the view's position of a stored event (decide gives batch positions; here each event is its own request)
        self.view.events[decided.event_id][1].position = self.position
        self.state, outcome = evolve(self.state, event, POLICIES)
        self.outcomes.append(outcome)
        return str(decided.event_id)

    def refused(self, type_name: str, data: dict[str, Any], **kwargs: Any) -> Refusal:
        with pytest.raises(Refusal) as caught:
            self.append(type_name, data, **kwargs)
        return caught.value

    def d7(self) -> dict[str, list[tuple[int, int, str]]]:
        """Per unit: the D7 lines (points, month, event) that still count."""
        lines = [line for outcome in self.outcomes for line in outcome.lines if line.clause == "D7"]
        revoked = [r for outcome in self.outcomes for r in outcome.revocations]
        found: dict[str, list[tuple[int, int, str]]] = {}
        for line in lines:
            if any(r.target_event_id == line.event_id and r.unit_id in (None, line.unit_id) for r in revoked):
                continue
            found.setdefault(line.unit_id, []).append((line.points, line.month, line.event_id))
        return found


def district(units: tuple[str, ...] = ("U1", "U2", "U3", "U4")) -> Log:
    log = Log()
    for unit_id in units:
        log.append("unit.registered", {"unit_id": unit_id, "name": f"单位{unit_id}", "kind": "department"})
    return log


def submit(log: Log, item_id: str, unit_id: str, *, at: str, solicitation_id: str | None = "S1") -> str:
    data: dict[str, Any] = {"item_id": item_id, "unit_id": unit_id, "title": "约稿回复", "kind": "single"}
    if solicitation_id:
        data["solicitation_id"] = solicitation_id
    return log.append("item.submitted", data, at=at)


def test_decide_and_evolve_cover_exactly_the_event_types() -> None:
    assert set(DECIDERS) == set(EVENT_TYPES)
    assert set(EVOLVERS) == set(EVENT_TYPES)


def test_d7_on_time_late_missing_not_asked() -> None:
    log = district()
    log.append(
        "solicitation.issued",
        {"solicitation_id": "S1", "title": "春耕", "deadline": DEADLINE, "unit_ids": ["U1", "U2", "U3"]},
    )
    submit(log, "I1", "U1", at="2026-03-09T09:00:00+08:00")  # on time
    submit(log, "I2", "U2", at="2026-03-11T09:00:00+08:00")  # late
    # U3 asked, nothing; U4 not asked
    close = log.append("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-12T09:00:00+08:00")
    assert log.d7() == {"U2": [(-50, 202603, close)], "U3": [(-50, 202603, close)]}
    refusal = log.refused(
        "item.submitted", {"item_id": "I4", "unit_id": "U4", "title": "x", "kind": "single", "solicitation_id": "S1"}
    )
    assert (refusal.status, refusal.code, refusal.loc) == (422, "not_solicited", ("data", "solicitation_id"))


def test_none_named_asks_the_units_registered_before_the_issue() -> None:
    log = district(("U1", "U2"))
    log.append("solicitation.issued", {"solicitation_id": "S1", "title": "春耕", "deadline": DEADLINE})
    log.append("unit.registered", {"unit_id": "U9", "name": "新单位", "kind": "township"})
    submit(log, "I1", "U1", at="2026-03-09T09:00:00+08:00")
    assert (
        log.refused(
            "item.submitted",
            {"item_id": "I9", "unit_id": "U9", "title": "x", "kind": "single", "solicitation_id": "S1"},
        ).code
        == "not_solicited"
    )
    close = log.append("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-12T09:00:00+08:00")
    assert log.d7() == {"U2": [(-50, 202603, close)]}


def test_close_exactly_at_the_deadline_and_answer_at_the_deadline_is_on_time() -> None:
    log = district(("U1", "U2"))
    log.append("solicitation.issued", {"solicitation_id": "S1", "title": "春耕", "deadline": DEADLINE})
    submit(log, "I1", "U1", at=DEADLINE)
    refusal = log.refused("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-10T17:59:59+08:00")
    assert (refusal.status, refusal.code, refusal.loc) == (422, "deadline_not_reached", ("occurred_at",))
    close = log.append("solicitation.closed", {"solicitation_id": "S1"}, at=DEADLINE)
    assert log.d7() == {"U2": [(-50, 202603, close)]}


def test_the_line_belongs_to_the_deadlines_local_month() -> None:
    log = district(("U1",))
    # 31 March 23:00 in Shanghai is 15:00 UTC the same day; closed in April: the line is March's
    log.append("solicitation.issued", {"solicitation_id": "S1", "title": "一季度", "deadline": "2026-03-31T15:00:00Z"})
    close = log.append("solicitation.closed", {"solicitation_id": "S1"}, at="2026-04-02T09:00:00+08:00")
    assert log.d7() == {"U1": [(-50, 202603, close)]}


def test_refusals() -> None:
    log = district(("U1",))
    issue = {"solicitation_id": "S1", "title": "春耕", "deadline": DEADLINE}
    log.append("solicitation.issued", issue)
    assert (log.refused("solicitation.issued", issue).status, log.refused("solicitation.issued", issue).code) == (
        409,
        "solicitation_already_issued",
    )
    bad_unit = log.refused("solicitation.issued", {**issue, "solicitation_id": "S2", "unit_ids": ["U1", "NOPE"]})
    assert (bad_unit.code, bad_unit.loc) == ("unknown_unit", ("data", "unit_ids", 1))
    unknown = log.refused("solicitation.closed", {"solicitation_id": "S9"}, at="2026-03-12T09:00:00+08:00")
    assert (unknown.status, unknown.code) == (422, "unknown_solicitation")
    unknown_item = log.refused(
        "item.submitted", {"item_id": "I1", "unit_id": "U1", "title": "x", "kind": "single", "solicitation_id": "S9"}
    )
    assert (unknown_item.status, unknown_item.code, unknown_item.loc) == (
        422,
        "unknown_solicitation",
        ("data", "solicitation_id"),
    )
    log.append("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-12T09:00:00+08:00")
    again = log.refused("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-13T09:00:00+08:00")
    assert (again.status, again.code) == (409, "solicitation_already_closed")
    # an answer after the close is still recorded (late), and deducts nothing more
    submit(log, "I2", "U1", at="2026-03-14T09:00:00+08:00")
    assert len(log.d7()["U1"]) == 1


def test_one_units_d7_revoked_on_dispute_while_anothers_stands() -> None:
    log = district(("U1", "U2", "U3"))
    log.append("solicitation.issued", {"solicitation_id": "S1", "title": "春耕", "deadline": DEADLINE})
    submit(log, "I1", "U3", at="2026-03-09T09:00:00+08:00")
    close = log.append("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-12T09:00:00+08:00")
    # U3 answered on time: the close deducted nothing from it, so there is nothing to dispute
    not_its = log.refused(
        "unit.deduction-disputed",
        {"unit_id": "U3", "deduction_event_id": close, "reason": "按时报送"},
        actor={"role": "unit", "unit_id": "U3"},
    )
    assert (not_its.status, not_its.code) == (422, "not_a_deduction")
    log.append(
        "unit.deduction-disputed",
        {"unit_id": "U1", "deduction_event_id": close, "reason": "已电话报送"},
        actor={"role": "unit", "unit_id": "U1"},
    )
    log.append("unit.deduction-disputed", {"unit_id": "U2", "deduction_event_id": close, "reason": "未收到约稿"})
    open_again = log.refused(
        "unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": close, "reason": "再议"}
    )
    assert open_again.code == "dispute_already_open"
    log.append(
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": close, "outcome": "revoked", "reason": "核实已报送"},
    )
    log.append(
        "unit.dispute-resolved",
        {"unit_id": "U2", "deduction_event_id": close, "outcome": "upheld", "reason": "约稿已送达"},
    )
    assert log.d7() == {"U2": [(-50, 202603, close)]}
    assert (
        log.refused("unit.deduction-disputed", {"unit_id": "U1", "deduction_event_id": close, "reason": "x"}).code
        == "already_revoked"
    )


def test_rectification_transitions_and_refusals() -> None:
    log = district(("U1",))
    plan = {"unit_id": "U1", "year": 2026, "plan": "明确专人负责，每月报送不少于5条"}
    assert (
        log.refused(
            "unit.rectification-reviewed", {"unit_id": "U1", "year": 2026, "outcome": "accepted", "reason": "x"}
        ).code
        == "no_rectification_pending"
    )
    log.append("unit.rectification-submitted", plan)
    pending = log.refused("unit.rectification-submitted", plan)
    assert (pending.status, pending.code) == (409, "rectification_pending")
    log.append(
        "unit.rectification-reviewed", {"unit_id": "U1", "year": 2026, "outcome": "returned", "reason": "措施不具体"}
    )
    log.append("unit.rectification-submitted", plan)  # a returned plan is submitted again
    log.append("unit.rectification-reviewed", {"unit_id": "U1", "year": 2026, "outcome": "accepted", "reason": "同意"})
    rows = [row for outcome in log.outcomes for table, row in outcome.rows if table == "rectifications"]
    assert [row[3] for row in rows] == ["submitted", "returned", "submitted", "accepted"]


@pytest.mark.parametrize(
    "period,amount,code",
    [
        ("2026-H1", "0.00", "amount_not_positive"),
        ("2026-H1", "-5.00", "amount_not_positive"),
        ("2026-H1", "5.000", None),
        ("2026-H1", "5", None),
        ("2026-Q1", "5.00", None),
        ("2026-H3", "5.00", None),
    ],
)
def test_bad_payments_refused(period: str, amount: str, code: str | None) -> None:
    log = district(("U1",))
    data = {"unit_id": "U1", "period": period, "amount_yuan": amount, "reference": "凭证 2026-07-001"}
    if code is None:  # the schema refuses it (422 validation_failed at the API)
        with pytest.raises(ValueError):
            new_event_adapter.validate_python(
                {"type": "rewards.paid", "occurred_at": "2026-07-05T10:00:00+08:00", "data": data}
            )
    else:
        assert log.refused("rewards.paid", data).code == code


def test_payment_is_recorded() -> None:
    log = district(("U1",))
    log.append("rewards.paid", {"unit_id": "U1", "period": "2026-H1", "amount_yuan": "120.50", "reference": "凭证1"})
    [(table, row)] = log.outcomes[-1].rows
    assert table == "payments" and row[2:5] == ("U1", "2026-H1", Decimal("120.50"))
    assert isinstance(UUID(row[0]), UUID)


def test_an_adoptions_revocation_keeps_the_open_solicitations() -> None:
    """Regression (found by the demo): revoking a counted adoption rebuilt the fold state without its
    solicitations, so the next answer or close of any open 约稿 failed in the projector."""
    log = district(("U1", "U2"))
    log.append("solicitation.issued", {"solicitation_id": "S1", "title": "春耕", "deadline": DEADLINE})
    submit(log, "I0", "U1", at="2026-03-06T09:00:00+08:00", solicitation_id=None)
    adopted = log.append(
        "item.adopted", {"item_id": "I0", "channel": "district_zhengwu"}, at="2026-03-07T09:00:00+08:00"
    )
    log.append("event.revoked", {"target_event_id": adopted, "reason": "录入有误"}, at="2026-03-08T09:00:00+08:00")
    assert "S1" in log.state.solicitations
    submit(log, "I1", "U1", at="2026-03-09T09:00:00+08:00")
    close = log.append("solicitation.closed", {"solicitation_id": "S1"}, at="2026-03-12T09:00:00+08:00")
    assert log.d7() == {"U2": [(-50, 202603, close)]}
