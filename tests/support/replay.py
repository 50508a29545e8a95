"""Fold a run of the log in memory: the ledger as the projector would have stored it.

The tests compare the projection with this fresh fold of the log.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.domain.evolve import Fact, FoldState, Line, LogEvent, evolve
from shared.domain.policy import PolicySet


@dataclass
class Replay:
    state: FoldState = field(default_factory=FoldState)
    lines: list[Line] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    revoked: dict[str, tuple[str, int]] = field(default_factory=dict)  # event id -> (revoked by, position)
    position: int = 0

    def feed(self, events: Iterable[LogEvent], policies: PolicySet, *, keep_lines: bool = True) -> None:
        state = self.state
        for event in events:
            state, outcome = evolve(state, event, policies)
            if keep_lines:
                self.lines.extend(outcome.lines)
                self.facts.extend(outcome.facts)
            for revocation in outcome.revocations:
                self.revoked.setdefault(revocation.target_event_id, (revocation.revoked_by, revocation.position))
            self.position = event.position
        self.state = state

    def counts(self, line: Line) -> bool:
        return line.event_id not in self.revoked
