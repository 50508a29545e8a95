"""The standing rules on their own (rules.md E2–E5, answers 2, 11, 15, 16)."""

from shared.domain.standing import (
    effective_target,
    latest_targets,
    month_outcome,
    officer_exclusion_reasons,
    period_target,
    shortfall_reasons,
    target_met,
    thresholds_crossed,
    to_criticize,
    to_rectify,
    top_with_ties,
    unit_exclusion_reasons,
)


def test_a_month_target_overrides_the_yearly_default_and_a_later_record_replaces_an_earlier_one():
    slots = latest_targets([("U1", 2026, 0, 3, 1), ("U1", 2026, 3, 5, 2), ("U1", 2026, 0, 4, 1)])
    assert effective_target(slots, "U1", 2026, 3) == (5, 2)
    assert effective_target(slots, "U1", 2026, 4) == (4, 1)
    assert effective_target(slots, "U2", 2026, 4) is None
    assert period_target(slots, "U1", 2026, range(1, 4)) == {"submissions": 13, "adoptions": 4}
    assert period_target(slots, "U2", 2026, range(1, 13)) is None


def test_month_outcomes_and_target_met():
    assert month_outcome(5, 2, (5, 2)) == "met"
    assert month_outcome(4, 9, (5, 2)) == "submissions_missed"
    assert month_outcome(5, 1, (5, 2)) == "adoptions_missed"
    assert target_met(5, 2, {"submissions": 5, "adoptions": 2}) is True
    assert target_met(5, 1, {"submissions": 5, "adoptions": 2}) is False
    assert target_met(5, 1, None) is None


def test_exclusions_criticism_rectification_and_ties():
    unit = {"deduction_points": 100, "target": None, "target_met": None}
    assert unit_exclusion_reasons(unit, exclusion=100) == ["deductions_at_least_100", "no_annual_target"]
    missed = {"deduction_points": 99, "target": {"submissions": 1, "adoptions": 1}, "target_met": False}
    assert unit_exclusion_reasons(missed, exclusion=100) == ["annual_target_missed"]
    assert officer_exclusion_reasons({"deduction_points": 0}, exclusion=100, unit_target_met=None) == [
        "unit_annual_target_missed"
    ]
    assert to_criticize([{"deduction_points": 200}, {"deduction_points": 199}], criticism=200) == [
        {"deduction_points": 200}
    ]
    assert to_rectify([missed, unit]) == [missed]
    ranked = [{"net_points": p} for p in (90, 80, 80, 70)]
    assert top_with_ties(ranked, 2) == ranked[:3]
    assert top_with_ties(ranked, 0) == []


def test_thresholds_crossed_and_shortfalls():
    assert thresholds_crossed(80, 130, (100, 200)) == [100]
    assert thresholds_crossed(100, 200, (100, 200)) == [200]
    assert thresholds_crossed(0, 250, (100, 200)) == [100, 200]
    row = {"submitted": 0, "adopted": 0, "target": {"submissions": 3, "adoptions": 1}}
    assert shortfall_reasons(row) == ["nothing_submitted", "submissions_short", "adoptions_short"]
    assert shortfall_reasons({"submitted": 2, "adopted": 0, "target": None}) == []
