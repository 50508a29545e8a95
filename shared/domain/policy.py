"""The rulebook as data: a versioned policy document, validated when it is loaded.

The fold reads every number from a `Policy`; no scoring number lives in Python code.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from shared.domain.events import CHANNELS, LEVELS

POINTS_BOUND = 1_000_000
BoundedPoints = Annotated[int, Field(ge=-POINTS_BOUND, le=POINTS_BOUND)]
ClauseId = Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{1,2}[a-z]?$")]


class Clause(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ClauseId
    source: str = ""
    text: str
    # Bounded so any policy (a what-if posts one) sums within int and the projection's numeric(14,2):
    # `yuan: 1e30` would pass `decimal_places` and fail only when money is quantized.
    points: BoundedPoints | None = None
    points_range: tuple[BoundedPoints, BoundedPoints] | None = None
    yuan: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False)


class ClausePair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    points: ClauseId | None = None  # None: the channel earns money only (GET leaves it out)
    reward: ClauseId | None = None

    @model_validator(mode="after")
    def _names_a_clause(self) -> "ClausePair":
        if self.points is None and self.reward is None:
            raise ValueError("names neither a points nor a reward clause")
        return self


class MonthEvaluation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    met: ClauseId
    submissions_missed: ClauseId
    adoptions_missed: ClauseId


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: ClauseId
    exclusion: int = Field(gt=0)
    criticism: int = Field(gt=0)


class PolicyDocument(BaseModel):
    """One version of the rulebook, as written in `policies/*.yaml` and served by the API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    effective_from: date
    title: str = ""
    clauses: list[Clause]
    adoptions: dict[str, dict[str, ClausePair]]
    contribution: ClauseId
    endorsements: dict[str, ClausePair]
    assessment: dict[str, ClauseId]
    month_evaluation: MonthEvaluation
    false_information: ClauseId
    late_reported: dict[str, dict[str, ClauseId]]
    solicitation_missed: ClauseId
    criticized: ClauseId
    thresholds: Thresholds

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

        if set(self.adoptions) != set(CHANNELS):
            raise ValueError(f"adoptions: must name exactly the channels {sorted(CHANNELS)}")
        for channel, kinds in self.adoptions.items():
            if not kinds or not set(kinds) <= {"single", "brief", "research"}:
                raise ValueError(f"adoptions.{channel}: kinds must be a non-empty subset of single/brief/research")
            for kind, pair in kinds.items():
                need(f"adoptions.{channel}.{kind}.points", pair.points, points=True)
                need(f"adoptions.{channel}.{kind}.reward", pair.reward, yuan=True)
        if set(self.endorsements) != set(LEVELS):
            raise ValueError(f"endorsements: must name exactly the levels {sorted(LEVELS)}")
        for level, pair in self.endorsements.items():
            need(f"endorsements.{level}.points", pair.points, points=True)
            need(f"endorsements.{level}.reward", pair.reward, yuan=True)
        need("contribution", self.contribution, points=True)
        if set(self.assessment) != {"adequate", "inadequate"}:
            raise ValueError("assessment: must name adequate and inadequate")
        for outcome, clause_id in self.assessment.items():
            need(f"assessment.{outcome}", clause_id, points=True)
        for name in ("met", "submissions_missed", "adoptions_missed"):
            need(f"month_evaluation.{name}", getattr(self.month_evaluation, name), points=True)
        d3 = by_id.get(self.false_information)
        if d3 is None or d3.points_range is None or d3.points_range[0] > d3.points_range[1]:
            raise ValueError("false_information: clause must exist and have points_range [low, high]")
        if set(self.late_reported) != set(LEVELS):
            raise ValueError(f"late_reported: must name exactly the levels {sorted(LEVELS)}")
        for level, kinds in self.late_reported.items():
            if set(kinds) != {"late", "missed", "concealed"}:
                raise ValueError(f"late_reported.{level}: must name late, missed and concealed")
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
    """A validated policy document with lookup tables the fold uses on every event."""

    def __init__(self, document: PolicyDocument):
        self.document = document
        self.version = document.version
        self.clauses = {c.id: c for c in document.clauses}
        self.adoption = {
            (channel, kind): self._effect(pair)
            for channel, kinds in document.adoptions.items()
            for kind, pair in kinds.items()
        }
        self.accepted_kinds = {channel: tuple(kinds) for channel, kinds in document.adoptions.items()}
        self.endorsement = {level: self._effect(pair) for level, pair in document.endorsements.items()}
        self.late_reported = {
            (level, kind): self._effect(ClausePair(points=clause_id))
            for level, kinds in document.late_reported.items()
            for kind, clause_id in kinds.items()
        }
        low, high = self.clauses[document.false_information].points_range  # type: ignore[misc]
        self.false_information_range = (-high, -low)  # as positive amounts, e.g. (50, 100)

    def _effect(self, pair: ClausePair) -> Effect:
        points_clause = self.clauses[pair.points] if pair.points else None
        reward_clause = self.clauses[pair.reward] if pair.reward else None
        return Effect(
            clause=(points_clause or reward_clause).id,  # type: ignore[union-attr]
            points=points_clause.points if points_clause else 0,  # type: ignore[assignment]
            reward_clause=reward_clause.id if reward_clause else None,
            yuan=reward_clause.yuan if reward_clause else Decimal("0.00"),  # type: ignore[arg-type]
        )

    def points_of(self, clause_id: str) -> int:
        return self.clauses[clause_id].points  # type: ignore[return-value]

    def text_of(self, clause_id: str | None) -> str | None:
        clause = self.clauses.get(clause_id) if clause_id else None
        return clause.text if clause else None


class PolicyError(ValueError):
    """A policy file that does not validate; the message names the file and the bad field."""


def parse_policy(raw: dict[str, Any], *, source: str = "policy") -> Policy:
    try:
        return Policy(PolicyDocument.model_validate(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from exc


class PolicySet:
    """Every known policy version; the fold uses the one in effect at an event's business time.

    Events dated before the earliest policy's `effective_from` use the earliest policy, so an
    imported history is still scored.
    """

    def __init__(self, policies: list[Policy]):
        if not policies:
            raise PolicyError("no policy files found")
        self.policies = sorted(policies, key=lambda p: p.document.effective_from)
        versions = [p.version for p in self.policies]
        if len(versions) != len(set(versions)):
            raise PolicyError("two policy files share a version")
        self._starts = [p.document.effective_from for p in self.policies]
        self.by_version = {p.version: p for p in self.policies}

    @property
    def current(self) -> Policy:
        return self.policies[-1]

    def at(self, moment: datetime) -> Policy:
        if len(self.policies) == 1:
            return self.policies[0]
        index = bisect_right(self._starts, moment.date()) - 1
        return self.policies[max(index, 0)]


def load_policies(directory: Path) -> PolicySet:
    """Load and validate every `*.yaml` in the policy directory; raise PolicyError naming the field."""
    policies = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path.name}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise PolicyError(f"{path.name}: the document must be a mapping")
        policies.append(parse_policy(raw, source=path.name))
    return PolicySet(policies)
