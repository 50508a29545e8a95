"""The rulebook without a database: API-shaped bodies through `decide`, then `evolve`, into ledgers.

What ingest and the projector do, in memory: each body is validated by the event models, checked by
`decide` against the streams so far, and folded by `evolve`; revocations mark lines as the
projection does. The clause tests use it with the seed's numbers.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from shared.domain.decide import Decided, Decision, Seen, StreamView, decide
from shared.domain.events import new_event_adapter
from shared.domain.evolve import FoldState, Line, LogEvent, evolve
from shared.domain.periods import parse_period
from shared.domain.policy import PolicySet
from shared.policy_files import load_policies
from shared.settings import REPO_ROOT
from tests.domain.versions import SHANGHAI

POLICIES = load_policies(REPO_ROOT / "policies", SHANGHAI)
LATER = datetime(2100, 1, 1, tzinfo=UTC)  # "now" for decide: every test date is in the past


@dataclass
class Domain:
    policies: PolicySet = POLICIES
    view: StreamView = field(default_factory=StreamView)
    state: FoldState = field(default_factory=FoldState)
    lines: list[Line] = field(default_factory=list)
    revoked: dict[tuple[str, str | None], str] = field(default_factory=dict)  # (event, unit or None) -> by
    position: int = 0

    def post(self, body: dict[str, Any], *, actor: dict[str, Any] | None = None) -> Decided:
        """Decide and fold one event; a Refusal propagates and changes nothing."""
        event = new_event_adapter.validate_python(body)
        view = StreamView({k: list(v) for k, v in self.view.streams.items()}, dict(self.view.events))
        decided = decide(
            Decision(view, policies=self.policies, now=LATER, actor=actor), event, event_id=event.event_id or uuid4()
        )
        self.position += 1
        view.streams[decided.stream_id][-1] = Seen(decided.event_id, decided.type, decided.data, self.position)
        view.events[decided.event_id] = (decided.stream_id, view.streams[decided.stream_id][-1])
        self.view = view
        local = decided.occurred_at.astimezone(SHANGHAI)
        log_event = LogEvent(
            str(decided.event_id),
            self.position,
            decided.type,
            decided.occurred_at,
            local.year * 100 + local.month,
            decided.data,
        )
        self.state, outcome = evolve(self.state, log_event, self.policies)
        self.lines.extend(outcome.lines)
        for revocation in outcome.revocations:
            self.revoked.setdefault((revocation.target_event_id, revocation.unit_id), revocation.revoked_by)
        return decided

    def given(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            self.post(body)

    def revoked_by(self, line: Line) -> str | None:
        return self.revoked.get((line.event_id, None)) or self.revoked.get((line.event_id, line.unit_id))

    def ledger(
        self, *, unit_id: str | None = None, officer_id: str | None = None, period: str = "2026"
    ) -> list[tuple[str, int, str, tuple[str, ...], bool]]:
        """(clause, points, yuan, officers, revoked) of one unit's (or officer's) lines in the period."""
        chosen = parse_period(period)
        return [
            (line.clause, line.points, f"{line.reward_yuan:.2f}", line.officer_ids, self.revoked_by(line) is not None)
            for line in self.lines
            if chosen.contains(line.month)
            and (line.officer_id == officer_id if officer_id else line.officer_id is None and line.unit_id == unit_id)
        ]

    def totals(self, unit_id: str, period: str = "2026") -> tuple[int, int, Decimal]:
        """(award points, deduction points, reward) of a unit's lines that count."""
        counted = [
            line
            for line in self.lines
            if line.unit_id == unit_id
            and line.officer_id is None
            and parse_period(period).contains(line.month)
            and self.revoked_by(line) is None
        ]
        return (
            sum(x.points for x in counted if x.points > 0),
            sum(-x.points for x in counted if x.points < 0),
            sum((x.reward_yuan for x in counted), Decimal("0.00")),
        )
