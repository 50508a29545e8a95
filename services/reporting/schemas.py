"""Response models of the reporting API (documentation of the JSON the routes render)."""

from pydantic import BaseModel, Field

from shared.ledger_line import LedgerEntry


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


class SelectedUnit(BaseModel):
    unit_id: str
    unit_name: str
    rank: int = Field(description="Rank in the year's full unit ranking")
    net_points: int
    deduction_points: int


class ExcludedUnit(SelectedUnit):
    reasons: list[str] = Field(description="deductions_at_least_100, annual_target_missed, no_annual_target")


class SelectedOfficer(BaseModel):
    officer_id: str
    officer_name: str
    unit_id: str
    rank: int = Field(description="Rank in the year's full officer ranking")
    net_points: int
    deduction_points: int


class ExcludedOfficer(SelectedOfficer):
    reasons: list[str] = Field(description="deductions_at_least_100, unit_annual_target_missed")


class UnitSelection(BaseModel):
    selected: list[SelectedUnit] = Field(description="The top N eligible; all units tied with the N-th too")
    eligible: list[SelectedUnit]
    excluded: list[ExcludedUnit]


class OfficerSelection(BaseModel):
    selected: list[SelectedOfficer]
    eligible: list[SelectedOfficer]
    excluded: list[ExcludedOfficer]


class Thresholds(BaseModel):
    exclusion: int
    criticism: int


class Selection(BaseModel):
    year: int
    policy_version: str
    position: int
    thresholds: Thresholds = Field(description="From the policy in force at the year's end")
    units: UnitSelection
    officers: OfficerSelection
    criticize: list[str] = Field(description="Units with deduction points at or above the criticism threshold")
    rectification: list[str] = Field(description="Units with an annual target that they missed")


class UnitReward(BaseModel):
    unit_id: str
    unit_name: str | None
    reward_yuan: str
    lines: list[LedgerEntry]


class OfficerReward(BaseModel):
    officer_id: str
    officer_name: str | None
    unit_id: str
    reward_yuan: str
    lines: list[LedgerEntry]


class Rewards(BaseModel):
    period: str
    total_yuan: str = Field(description="Sum over units")
    units: list[UnitReward]
    officers: list[OfficerReward]


class BulletinRow(BaseModel):
    rank: int
    unit_id: str
    unit_name: str
    submitted: int
    adopted: int
    adopted_by_channel: dict[str, int]
    endorsements: int
    deduction_points: int
    net_points: int = Field(description="本期得分")
    year_net_points: int = Field(description="年度累计得分: January to the period's last month")
    target: Target | None
    target_met: bool | None


class BulletinCategory(BaseModel):
    kind: str
    name: str
    rows: list[BulletinRow]


class Shortfall(BaseModel):
    unit_id: str
    unit_name: str
    kind: str
    category: str
    submitted: int
    target_submissions: int | None
    adopted: int
    target_adoptions: int | None
    advice: str = Field(description="改正意见: one sentence from the policy's bulletin.texts.advice_*")
    target: Target | None
    reasons: list[str] = Field(description="nothing_submitted, submissions_short, adoptions_short")


class Criticized(BaseModel):
    unit_id: str
    unit_name: str
    deduction_points: int


class RectificationStatus(BaseModel):
    unit_id: str
    unit_name: str | None
    status: str = Field(description="required, submitted, accepted, returned")


class AppendixItem(BaseModel):
    item_id: str
    title: str
    unit_id: str
    unit_name: str | None


class AppendixChannel(BaseModel):
    channel: str
    channel_name: str
    items: list[AppendixItem]


class Bulletin(BaseModel):
    period: str
    period_name: str
    policy_version: str
    position: int
    title: str
    document_number: str
    issuer: str
    issued: str
    channels: list[dict[str, str]]
    totals: dict
    text: dict[str, str]
    categories: list[BulletinCategory]
    shortfalls: list[Shortfall]
    appendix: list[AppendixChannel]
    commended: dict[str, list[dict]] | None = Field(
        None, description="a year's: the selection's selected units, officers"
    )
    criticized: list[Criticized] | None = None
    rectification: list[RectificationStatus] | None = None
    year_text: dict[str, str] | None = None
