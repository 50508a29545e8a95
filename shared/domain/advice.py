"""改正意见 (E2): the one sentence of advice a quarter bulletin gives a unit that fell short,
built from the policy's text templates (`bulletin.texts.advice_*`)."""

from collections.abc import Mapping
from typing import Any


def shortfall_figures(row: Mapping[str, Any]) -> dict[str, int | None]:
    """Submitted and adopted against the period's targets (targets null when the unit has none)."""
    target = row["target"]
    submissions = target["submissions"] if target else None
    adoptions = target["adoptions"] if target else None
    return {
        "submitted": row["submitted"],
        "target_submissions": submissions,
        "adopted": row["adopted"],
        "target_adoptions": adoptions,
        "missing_submissions": max((submissions or 0) - row["submitted"], 0),
        "missing_adoptions": max((adoptions or 0) - row["adopted"], 0),
    }


def advice(reasons: list[str], figures: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """The template of the first reason that applies, filled with the unit's figures."""
    if "nothing_submitted" in reasons:
        key = "advice_nothing_submitted"
    elif "submissions_short" in reasons and "adoptions_short" in reasons:
        key = "advice_both_short"
    elif "submissions_short" in reasons:
        key = "advice_submissions_short"
    else:
        key = "advice_adoptions_short"
    template = texts.get(key)  # a policy version without advice texts gives none
    return template.format(**figures) if template else ""
