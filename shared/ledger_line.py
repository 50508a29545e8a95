"""The response model of one ledger line: ledgers (scoring) and reward lines (reporting) show the same."""

from typing import Any

from pydantic import BaseModel, Field

from shared.domain.money import yuan
from shared.domain.policy import PolicySet


class LedgerEntry(BaseModel):
    event_id: str
    global_position: int
    occurred_at: str
    clause: str
    clause_text: str | None
    reward_clause: str | None
    points: int
    reward_yuan: str = Field(description='Two-decimal string, e.g. "20.00"')
    officer_ids: list[str]
    item_id: str | None
    revoked_by: str | None
    note: str | None
    policy_version: str


def ledger_entry(row: Any, policies: PolicySet, *, revoked_by: str | None) -> dict[str, Any]:
    """One line of `proj.lines` as ledgers and reward lines show it, its text from its own policy version."""
    policy = policies.by_version.get(row.policy_version) or policies.current
    return {
        "event_id": str(row.event_id),
        "global_position": row.global_position,
        "occurred_at": row.occurred_at.isoformat(),
        "clause": row.clause,
        "clause_text": policy.text_of(row.clause),
        "reward_clause": row.reward_clause,
        "points": row.points,
        "reward_yuan": yuan(row.reward_yuan),
        "officer_ids": list(row.officer_ids),
        "item_id": row.item_id,
        "revoked_by": revoked_by,
        "note": row.note,
        "policy_version": row.policy_version,
    }
