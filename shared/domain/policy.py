"""The rulebook as data: versioned policy documents, validated when they are parsed.

Every number, name and text that scoring and the bulletins use comes from a `Policy`: clauses,
channels with the kinds each accepts, levels, the S6 contribution and its bound, the month
evaluation, thresholds, selection defaults and the bulletin's issuer, 文号 and fixed texts. A new
channel or level in a new version is a new file, no code.

`PolicySet` chooses the version of an effect by the local date the effect belongs to (rules.md,
"Policy versions"); ingest's checks and the fold call the same methods.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

POINTS_BOUND = 1_000_000
BoundedPoints = Annotated[int, Field(ge=-POINTS_BOUND, le=POINTS_BOUND)]
ClauseId = Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{1,2}[a-z]?$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ITEM_KINDS = ("single", "brief", "research")
NOTIFICATION_KINDS = ("late", "missed", "concealed")
UNIT_KINDS = ("department", "township", "other")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clause(_Frozen):
    id: ClauseId
    source: str = ""
    text: str
    # Bounded so any policy (a what-if posts one) sums within int and the projection's numeric(14,2):
    # `yuan: 1e30` would pass `decimal_places` and fail only when money is quantized.
    points: BoundedPoints | None = None
    points_range: tuple[BoundedPoints, BoundedPoints] | None = None
    yuan: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False)


class ClausePair(_Frozen):
    points: ClauseId | None = None  # None: the rule earns money only
    reward: ClauseId | None = None

    @model_validator(mode="after")
    def _names_a_clause(self) -> "ClausePair":
        if self.points is None and self.reward is None:
            raise ValueError("names neither a points nor a reward clause")
        return self


class Channel(_Frozen):
    """A publication channel: its printed names and, per item kind it accepts, what it earns."""

    name: Name
    short: Name
    kinds: dict[str, ClausePair]


class Level(_Frozen):
    """An administrative level (district, city, province): who endorses, who notifies."""

    name: Name  # as a bulletin column prints an endorsement count: 区领导
    office: Name  # who notifies a late report: 区政府办公室


class Contribution(_Frozen):
    clause: ClauseId
    max_extra_points: Annotated[int, Field(ge=0, le=10_000)]


class MonthOutcome(_Frozen):
    """One outcome of a month evaluation: its clause, the points when not the clause's, the note."""

    clause: ClauseId
    points: int | None = None
    note: Name


class MonthEvaluation(_Frozen):
    met: MonthOutcome
    submissions_missed: MonthOutcome
    adoptions_missed: MonthOutcome


class Thresholds(_Frozen):
    clause: ClauseId
    exclusion: int = Field(gt=0)
    criticism: int = Field(gt=0)


class Selection(_Frozen):
    units: Annotated[int, Field(ge=0, le=10_000)]
    officers: Annotated[int, Field(ge=0, le=10_000)]


class Bulletin(_Frozen):
    """What a bulletin prints that is not a figure: issuer, 文号 series, salutation, fixed texts."""

    issuer: Name
    document_number: Name  # a template: {year} and {number}
    salutation: Name
    texts: dict[str, str]


class PolicyDocument(_Frozen):
    """One version of the rulebook, as written in `policies/*.yaml` and served by the API."""

    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    effective_from: date
    title: str = ""
    clauses: list[Clause]
    channels: dict[Code, Channel]
    levels: dict[Code, Level]
    unit_kinds: dict[str, Name]
    endorsements: dict[Code, ClausePair]
    contribution: Contribution
    assessment: dict[str, ClauseId]
    month_evaluation: MonthEvaluation
    false_information: ClauseId
    late_reported: dict[Code, dict[str, ClauseId]]
    solicitation_missed: ClauseId
    criticized: ClauseId
    thresholds: Thresholds
    selection: Selection
    bulletin: Bulletin

    @model_validator(mode="after")
    def _references_resolve(self) -> "PolicyDocument":
        ids = [c.id for c in self.clauses]
        if len(ids) != len(set(ids)):
            raise ValueError("clauses: duplicate clause id")
        by_id = {c.id: c for c in self.clauses}

        def need(field: str, clause_id: str | None, *, points: bool = False, yuan: bool = False) -> None:
            if clause_id is None:
                return
            clause = by_id.get(clause_id)
            if clause is None:
                raise ValueError(f"{field}: clause {clause_id} is not defined in clauses")
            if points and clause.points is None:
                raise ValueError(f"{field}: clause {clause_id} has no points")
            if yuan and clause.yuan is None:
                raise ValueError(f"{field}: clause {clause_id} has no yuan")

        if not self.channels:
            raise ValueError("channels: at least one channel")
        for code, channel in self.channels.items():
            if not channel.kinds or not set(channel.kinds) <= set(ITEM_KINDS):
                raise ValueError(f"channels.{code}.kinds: a non-empty subset of {', '.join(ITEM_KINDS)}")
            for kind, pair in channel.kinds.items():
                need(f"channels.{code}.kinds.{kind}.points", pair.points, points=True)
                need(f"channels.{code}.kinds.{kind}.reward", pair.reward, yuan=True)
        if set(self.unit_kinds) != set(UNIT_KINDS):
            raise ValueError(f"unit_kinds: must name exactly {', '.join(UNIT_KINDS)}")
        for level in set(self.endorsements) | set(self.late_reported):
            if level not in self.levels:
                raise ValueError(f"level {level} is used but not defined in levels")
        for level, pair in self.endorsements.items():
            need(f"endorsements.{level}.points", pair.points, points=True)
            need(f"endorsements.{level}.reward", pair.reward, yuan=True)
        need("contribution.clause", self.contribution.clause, points=True)
        if set(self.assessment) != {"adequate", "inadequate"}:
            raise ValueError("assessment: must name adequate and inadequate")
        for outcome, clause_id in self.assessment.items():
            need(f"assessment.{outcome}", clause_id, points=True)
        for name in ("met", "submissions_missed", "adoptions_missed"):
            rule: MonthOutcome = getattr(self.month_evaluation, name)
            need(f"month_evaluation.{name}.clause", rule.clause, points=rule.points is None)
        d3 = by_id.get(self.false_information)
        if d3 is None or d3.points_range is None or d3.points_range[0] > d3.points_range[1]:
            raise ValueError("false_information: clause must exist and have points_range [low, high]")
        for level, kinds in self.late_reported.items():
            if set(kinds) != set(NOTIFICATION_KINDS):
                raise ValueError(f"late_reported.{level}: must name {', '.join(NOTIFICATION_KINDS)}")
            for kind, clause_id in kinds.items():
                need(f"late_reported.{level}.{kind}", clause_id, points=True)
        need("solicitation_missed", self.solicitation_missed, points=True)
        need("criticized", self.criticized, points=True)
        need("thresholds.clause", self.thresholds.clause)
        return self


@dataclass(frozen=True, slots=True)
class Effect:
    """What one rule awards: a points clause and/or a reward clause, resolved to numbers."""

    clause: str
    points: int
    reward_clause: str | None
    yuan: Decimal


class Policy:
    """A validated policy document with the lookup tables the fold and the checks use."""

    def __init__(self, document: PolicyDocument):
        self.document = document
        self.version = document.version
        self.clauses = {c.id: c for c in document.clauses}
        self.channels: tuple[str, ...] = tuple(document.channels)
        self.channel_names = {code: c.name for code, c in document.channels.items()}
        self.channel_short = {code: c.short for code, c in document.channels.items()}
        self.accepted_kinds = {code: tuple(c.kinds) for code, c in document.channels.items()}
        self.adoption = {
            (code, kind): self._effect(pair) for code, c in document.channels.items() for kind, pair in c.kinds.items()
        }
        self.levels: tuple[str, ...] = tuple(document.levels)
        self.endorsement_levels: tuple[str, ...] = tuple(document.endorsements)
        self.level_names = {code: level.name for code, level in document.levels.items()}
        self.endorsement = {level: self._effect(pair) for level, pair in document.endorsements.items()}
        low, high = self.clauses[document.false_information].points_range  # type: ignore[misc]
        self.false_information_range = (-high, -low)  # as positive amounts, e.g. (50, 100)
        self.contribution_clause = document.contribution.clause
        self.contribution_points = self.points_of(document.contribution.clause)
        self.max_extra_points = document.contribution.max_extra_points
        self.unit_kind_names = dict(document.unit_kinds)
        self.thresholds = document.thresholds

    def _effect(self, pair: ClausePair) -> Effect:
        points_clause = self.clauses[pair.points] if pair.points else None
        reward_clause = self.clauses[pair.reward] if pair.reward else None
        named = points_clause or reward_clause
        assert named is not None  # ClausePair names at least one
        return Effect(
            clause=named.id,
            points=(points_clause.points or 0) if points_clause else 0,
            reward_clause=reward_clause.id if reward_clause else None,
            yuan=(reward_clause.yuan or Decimal("0.00")) if reward_clause else Decimal("0.00"),
        )

    def points_of(self, clause_id: str) -> int:
        points = self.clauses[clause_id].points
        assert points is not None, f"clause {clause_id} has no points"  # the validator made sure
        return points

    def text_of(self, clause_id: str | None) -> str | None:
        clause = self.clauses.get(clause_id) if clause_id else None
        return clause.text if clause else None

    def earns_points(self, channel: str, kind: str) -> bool:
        """Whether an adoption in this channel and kind earns points (S6 needs it: rules.md)."""
        effect = self.adoption.get((channel, kind))
        return effect is not None and self.clauses[effect.clause].points is not None


class PolicyError(ValueError):
    """A policy document that does not validate; the message names the source and the bad field."""


def parse_policy(raw: dict[str, Any], *, source: str = "policy") -> Policy:
    try:
        return Policy(PolicyDocument.model_validate(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from exc


def _last_day(year: int, month: int) -> date:
    return (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)) - timedelta(days=1)


class PolicySet:
    """Every policy version, and the one choice of version that ingest and the fold share.

    The policy of an effect is the version in force on the local date the effect belongs to; before
    the earliest `effective_from`, the earliest version applies (an imported history is still scored).
    """

    def __init__(self, policies: list[Policy], zone: ZoneInfo):
        if not policies:
            raise PolicyError("no policy files found")
        self.zone = zone
        self.policies = sorted(policies, key=lambda p: p.document.effective_from)
        versions = [p.version for p in self.policies]
        if len(versions) != len(set(versions)):
            raise PolicyError("two policy files share a version")
        starts = [p.document.effective_from for p in self.policies]
        if len(starts) != len(set(starts)):
            raise PolicyError("two policy files share an effective_from")
        self._starts = starts
        # When every version starts on the first of a month, the month of an effect decides it:
        # the fold then looks its policy up by month key instead of converting each time to local.
        self._by_month_only = all(start.day == 1 for start in starts)
        self._month_cache: dict[int, Policy] = {}
        self.by_version = {p.version: p for p in self.policies}

    @property
    def current(self) -> Policy:
        return self.policies[-1]

    def on(self, day: date) -> Policy:
        """The version in force on a local date."""
        index = bisect_right(self._starts, day) - 1
        return self.policies[max(index, 0)]

    def at(self, moment: datetime) -> Policy:
        """The version in force at an instant: by its local date in the district's zone."""
        if len(self.policies) == 1:
            return self.policies[0]
        return self.on(moment.astimezone(self.zone).date())

    def for_month(self, month_key: int) -> Policy:
        """The version of a month's evaluation (S2/D2): in force on the month's last day."""
        found = self._month_cache.get(month_key)
        if found is None:
            found = self._month_cache[month_key] = self.on(_last_day(month_key // 100, month_key % 100))
        return found

    def for_year(self, year: int) -> Policy:
        """The version of a year's S1/D1, annual targets, thresholds and selection: on 31 December."""
        return self.for_month(year * 100 + 12)

    def for_last_month(self, last_month_key: int) -> Policy:
        """The version a ledger, ranking or bulletin of a period names: on the period's last day."""
        return self.for_month(last_month_key)

    def of_event(self, occurred_at: datetime, month_key: int) -> Policy:
        """The version of an event's own effect (adoption, endorsement, deduction): its local date."""
        if self._by_month_only:
            found = self._month_cache.get(month_key)
            if found is None:
                found = self._month_cache[month_key] = self.on(date(month_key // 100, month_key % 100, 1))
            return found
        return self.at(occurred_at)
