"""Response models of the scoring API."""

from datetime import date

from pydantic import BaseModel, Field


class LedgerEntry(BaseModel):
    event_id: str
    global_position: int
    occurred_at: str
    clause: str
    clause_text: str | None
    reward_clause: str | None
    points: int
    reward_yuan: str = Field(description="Two-decimal string, e.g. \"20.00\"")
    officer_ids: list[str]
    item_id: str | None
    revoked_by: str | None
    note: str | None
    policy_version: str


class Ledger(BaseModel):
    unit_id: str | None
    officer_id: str | None = None
    period: str
    policy_version: str
    position: int
    net_points: int
    award_points: int
    deduction_points: int
    reward_yuan: str
    entries: list[LedgerEntry]


class ProjectionStatus(BaseModel):
    head_position: int
    checkpoint_position: int
    lag_events: int
    projector: str
    error: str | None = None


class PolicySummary(BaseModel):
    version: str
    effective_from: date
    title: str
    current: bool
