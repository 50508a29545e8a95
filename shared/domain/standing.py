"""The standing rules: who is ranked, targets and whether they are met, selection and its exclusions
(E3–E5), and the units a quarter bulletin names as falling short (E2).

The fold uses the month rules; reporting and what-if use the rest on the rows they read. No other
module re-states any of them.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

Target = tuple[int, int]  # (submissions, adoptions)
TargetSlots = Mapping[tuple[str, int, int], Target]  # (unit_id, year, month or 0) -> target


def effective_target(targets: TargetSlots, unit_id: str, year: int, month: int) -> Target | None:
    """The month's own target, else the year's default for every month, else None."""
    found = targets.get((unit_id, year, month))
    return found if found is not None else targets.get((unit_id, year, 0))


def latest_targets(rows: Iterable[tuple[str, int, int, int, int]]) -> dict[tuple[str, int, int], Target]:
    """Target slots from `unit.target-set` records in log order: a later one replaces an earlier one."""
    slots: dict[tuple[str, int, int], Target] = {}
    for unit_id, year, month, submissions, adoptions in rows:
        slots[(unit_id, year, month)] = (submissions, adoptions)
    return slots


def period_target(targets: TargetSlots, unit_id: str, year: int, months: Iterable[int]) -> dict[str, int] | None:
    """A period's target: the months' effective targets summed; None when no month has one."""
    chosen = [t for m in months if (t := effective_target(targets, unit_id, year, m)) is not None]
    if not chosen:
        return None
    return {"submissions": sum(t[0] for t in chosen), "adoptions": sum(t[1] for t in chosen)}


def month_outcome(submitted: int, adopted: int, target: Target) -> str:
    """The month evaluation (S2/D2): `met`, `submissions_missed` or `adoptions_missed`."""
    if submitted < target[0]:
        return "submissions_missed"
    if adopted < target[1]:
        return "adoptions_missed"
    return "met"


def target_met(submitted: int, adopted: int, target: dict[str, int] | None) -> bool | None:
    """Both counts reach the period's target; None when there is no target (rules.md answer 11)."""
    if target is None:
        return None
    return submitted >= target["submissions"] and adopted >= target["adoptions"]


def is_ranked(registered_at: datetime, period_end: datetime, has_lines: bool) -> bool:
    """A unit or officer appears in a period's ranking when registered before its end or scored in it."""
    return registered_at < period_end or has_lines


def deduction_reasons(deduction_points: int, exclusion: int) -> list[str]:
    return ["deductions_at_least_100"] if deduction_points >= exclusion else []


def unit_exclusion_reasons(row: Mapping[str, Any], *, exclusion: int) -> list[str]:
    """Why a unit may not be selected (E3/E4): every reason that applies."""
    reasons = deduction_reasons(row["deduction_points"], exclusion)
    if row["target"] is None:
        reasons.append("no_annual_target")
    elif not row["target_met"]:
        reasons.append("annual_target_missed")
    return reasons


def officer_exclusion_reasons(row: Mapping[str, Any], *, exclusion: int, unit_target_met: bool | None) -> list[str]:
    """Why an officer may not be selected: their own deductions, their unit's annual target."""
    reasons = deduction_reasons(row["deduction_points"], exclusion)
    if unit_target_met is not True:
        reasons.append("unit_annual_target_missed")
    return reasons


def thresholds_crossed(before: int, after: int, thresholds: Iterable[int]) -> list[int]:
    """E4's thresholds (100, 200) a deduction crossed: before < T ≤ after (api.md answer 16)."""
    return sorted({t for t in thresholds if before < t <= after})


def top_with_ties(eligible: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first `count` rows (already ranked) plus every row tied with the last of them."""
    if count <= 0 or not eligible:
        return []
    if len(eligible) <= count:
        return list(eligible)
    cut = eligible[count - 1]["net_points"]
    return [row for row in eligible if row["net_points"] >= cut]


def to_criticize(unit_rows: Iterable[Mapping[str, Any]], *, criticism: int) -> list[Mapping[str, Any]]:
    """E4: units whose year's deduction points reach the criticism threshold."""
    return [row for row in unit_rows if row["deduction_points"] >= criticism]


def to_rectify(unit_rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """E5: units with an annual target that they missed (a unit with no target is not listed)."""
    return [row for row in unit_rows if row["target"] is not None and not row["target_met"]]


def shortfall_reasons(row: Mapping[str, Any]) -> list[str]:
    """E2: why a quarter bulletin names a unit — nothing submitted, or a target not reached."""
    reasons = []
    if row["submitted"] == 0:
        reasons.append("nothing_submitted")
    target = row["target"]
    if target is not None and row["submitted"] < target["submissions"]:
        reasons.append("submissions_short")
    if target is not None and row["adopted"] < target["adoptions"]:
        reasons.append("adoptions_short")
    return reasons
