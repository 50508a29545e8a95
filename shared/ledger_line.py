"""The response model of one ledger line: ledgers (scoring) and reward lines (reporting) show the same."""

from pydantic import BaseModel, Field


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
