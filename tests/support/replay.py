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
    # a dispute of a 约稿 close's D7 revokes one unit's lines of it: (event id, unit id) -> (by, position)
    revoked_for_unit: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    position: int = 0

    def feed(self, events: Iterable[LogEvent], policies: PolicySet, *, keep_lines: bool = True) -> None:
        state = self.state
        for event in events:
            state, outcome = evolve(state, event, policies)
            if keep_lines:
                self.lines.extend(outcome.lines)
                self.facts.extend(outcome.facts)
            for revocation in outcome.revocations:
                revoker = (revocation.revoked_by, revocation.position)
                if revocation.unit_id is None:
                    self.revoked.setdefault(revocation.target_event_id, revoker)
                else:
                    self.revoked_for_unit.setdefault((revocation.target_event_id, revocation.unit_id), revoker)
            self.position = event.position
        self.state = state

    def revoker(self, line: Line) -> tuple[str, int] | None:
        """What revoked the line (the earliest, when an event and its unit's line were both revoked)."""
        found = [
            r for r in (self.revoked.get(line.event_id), self.revoked_for_unit.get((line.event_id, line.unit_id))) if r
        ]
        return min(found, key=lambda r: r[1]) if found else None

    def counts(self, line: Line) -> bool:
        return self.revoker(line) is None
