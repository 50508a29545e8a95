"""Response models of the reporting API (documentation of the JSON the routes render)."""

from pydantic import BaseModel, Field


class Target(BaseModel):
    submissions: int
    adoptions: int


class UnitRankingRow(BaseModel):
    rank: int
    unit_id: str
    unit_name: str
    kind: str
    net_points: int
    award_points: int
    deduction_points: int
    reward_yuan: str = Field(description="Two-decimal string")
    submitted: int
    adopted: int
    adopted_by_channel: dict[str, int]
    endorsements: dict[str, int]
    target: Target | None
    target_met: bool | None


class UnitRanking(BaseModel):
    period: str
    policy_version: str
    position: int = Field(description="The last event folded into this answer")
    kind: str | None
    rows: list[UnitRankingRow]


class OfficerRankingRow(BaseModel):
    rank: int
    officer_id: str
    officer_name: str
    unit_id: str
    net_points: int
    award_points: int
    deduction_points: int
    reward_yuan: str
    adopted: int


class OfficerRanking(BaseModel):
    period: str
    policy_version: str
    position: int
    rows: list[OfficerRankingRow]
