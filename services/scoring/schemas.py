"""Response models of the scoring API."""

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from shared.ledger_line import LedgerEntry


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
    projector: str = Field(description="starting, standby, projecting or failed")
    error: str | None = None
    stopped_at: dict[str, Any] | None = Field(
        None, description="Where a failed projection stopped: position, event_type, event_id (and last_position)"
    )


class PolicySummary(BaseModel):
    version: str
    effective_from: date
    title: str
    current: bool


class AuditDispute(BaseModel):
    event_id: str
    reason: str
    evidence: str | None = None
    recorded_at: str
    resolution: dict | None = Field(
        description="{event_id, outcome (upheld|revoked), reason, recorded_at} or null while the dispute is open"
    )


class ReplayCheck(BaseModel):
    recomputed: int = Field(description="The unit's year deduction points from a fresh fold of the raw log")
    projected: int = Field(description="The same figure read from the stored projection, at its checkpoint")
    match: bool


class DeductionAudit(BaseModel):
    event: dict = Field(
        description="The event as recorded: event_id, global_position, stream_id, stream_version, "
        "type, schema_version, occurred_at, recorded_at, actor, data, metadata"
    )
    unit_id: str
    year: int
    clause: str
    clause_text: str | None
    points: int = Field(description="Negative, as in the ledger")
    policy_version: str
    revoked: bool
    revoked_by: str | None
    disputes: list[AuditDispute]
    year_deduction_points_before: int = Field(description="In log order, just before this event")
    year_deduction_points_after: int = Field(description="In log order, just after this event")
    thresholds_crossed: list[int] = Field(description="Policy thresholds T with before < T <= after")
    replay_check: ReplayCheck


class RebuildAccepted(BaseModel):
    job_id: str


class RebuildJob(BaseModel):
    job_id: str
    state: str = Field(description="running, succeeded or failed")
    processed: int = Field(description="Events folded into the new generation so far")
    total: int = Field(description="Events in the log up to the head the rebuild is chasing")
    events_per_second: float
    schema_: str | None = Field(None, alias="schema", description="The generation being built (proj_gN)")
    position: int | None = Field(None, description="The log position the new generation went live at")
    error: str | None = None
    requested_at: str
    started_at: str | None
    finished_at: str | None


class WhatIfRequest(BaseModel):
    policy: dict = Field(description="A policy document, as GET /v1/policies/{version} returns it")
    period: str = Field(examples=["2026", "2026-H1", "2026-Q1", "2026-03"])


class WhatIfRow(BaseModel):
    unit_id: str
    unit_name: str
    current_points: int
    proposed_points: int
    change: int
    current_rank: int
    proposed_rank: int


class WhatIf(BaseModel):
    period: str
    position: int = Field(
        description="The log position both sides are as of: the projection's, at least every event appended "
        "before the request"
    )
    current_policy_version: str
    proposed_policy_version: str
    rows: list[WhatIfRow] = Field(description="Every unit of the period's ranking, by proposed rank")
