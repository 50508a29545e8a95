"""`evolve(state, event, policies)` → the new state and the ledger effects of that event (the fold).

Pure: no I/O, no clock, no database. The projector, the rebuild, time travel, the audit replay and
what-if all call this one function; every number comes from the policy.
"""

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from immutables import Map

from shared.domain.policy import Effect, Policy, PolicySet
from shared.domain.standing import effective_target, month_outcome

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class LogEvent(NamedTuple):
    """An event as the fold sees it; `month` is the YYYYMM of `occurred_at` in the district's zone."""

    event_id: str
    position: int
    type: str
    occurred_at: datetime
    month: int
    data: dict[str, Any]


class Line(NamedTuple):
    """One effect of one event on one unit (officer_id None) or one officer.

    The field order is the column order of the projection's `lines` table, so a Line is a COPY row.
    """

    event_id: str
    seq: int
    position: int
    occurred_at: datetime
    month: int
    unit_id: str
    officer_id: str | None
    clause: str
    reward_clause: str | None
    points: int
    reward_yuan: Decimal
    officer_ids: tuple[str, ...]
    item_id: str | None
    note: str | None
    policy_version: str


class Fact(NamedTuple):
    """Counted activity: a submission, an adoption (by channel) or an endorsement (by level)."""

    event_id: str
    position: int
    month: int
    unit_id: str
    fact: str
    channel: str | None
    item_id: str
    officer_ids: tuple[str, ...]


class Revocation(NamedTuple):
    """Every line and fact of `target_event_id` stops counting from `position` on; with `unit_id`,
    only those of that unit (a dispute revokes one unit's D7 of a solicitation's close)."""

    target_event_id: str
    revoked_by: str
    position: int
    unit_id: str | None = None


class Outcome(NamedTuple):
    lines: tuple[Line, ...] = ()
    facts: tuple[Fact, ...] = ()
    revocations: tuple[Revocation, ...] = ()
    rows: tuple[tuple[str, tuple], ...] = ()  # (table, row) for units, officers, items, targets


NOTHING = Outcome()


class Unit(NamedTuple):
    name: str
    kind: str


class Item(NamedTuple):
    unit_id: str
    kind: str
    authors: tuple[str, ...]


_EMPTY: Map = Map()


class FoldState(NamedTuple):
    """Everything the fold remembers between events; immutable (persistent maps).

    Handlers build the next state positionally, `FoldState(units, items, …)`: the fold runs once per
    event over millions of events, and NamedTuple `_replace` costs several times a plain construction.
    """

    units: Map = _EMPTY  # unit_id -> Unit
    items: Map = _EMPTY  # item_id -> Item (the projector keeps only those the next chunk reads)
    targets: Map = _EMPTY  # (unit_id, year, month or 0) -> (submissions, adoptions)
    month_counts: Map = _EMPTY  # (unit_id, YYYYMM) -> (submitted, adopted)
    adoptions: Map = _EMPTY  # adoption event id -> (unit_id, YYYYMM) while it counts (likewise)
    closes: Map = _EMPTY  # YYYYMM -> event id of the close in force
    solicitations: Map = _EMPTY  # solicitation_id -> Solicitation (a few hundred a year)


class Solicitation(NamedTuple):
    """A 约稿: the units asked, its deadline and the deadline's month, who answered on time, whether closed."""

    asked: tuple[str, ...]
    deadline: datetime
    month: int
    on_time: frozenset[str]
    closed: bool


def split_reward(total: Decimal, authors: int) -> list[Decimal]:
    """Even shares rounded down to the cent; the leftover cents go to the first author."""
    return list(_shares(str(total), authors))


@lru_cache(maxsize=1024)
def _shares(total_text: str, authors: int) -> tuple[Decimal, ...]:
    # A handful of (amount, authors) pairs recur millions of times: the Decimal arithmetic once each.
    # Keyed by the amount's text, since Decimal("50") == Decimal("50.00") but they print differently.
    if authors == 0:
        return ()
    total = Decimal(total_text)
    share = (total / authors).quantize(CENT, rounding=ROUND_DOWN)
    return (total - share * (authors - 1),) + (share,) * (authors - 1)


def _effect_lines(
    event: LogEvent,
    policy: Policy,
    effect: Effect,
    *,
    unit_id: str,
    officers: tuple[str, ...],
    item_id: str | None,
    points: int | None = None,
    split_money: bool = True,
) -> list[Line]:
    """The unit's line and one line per named officer: full points each, money split among them."""
    points = effect.points if points is None else points
    note = event.data.get("note")
    shares = _shares(str(effect.yuan), len(officers)) if split_money else (ZERO,) * len(officers)
    lines = [
        Line(
            event.event_id,
            0,
            event.position,
            event.occurred_at,
            event.month,
            unit_id,
            None,
            effect.clause,
            effect.reward_clause,
            points,
            effect.yuan,
            officers,
            item_id,
            note,
            policy.version,
        )
    ]
    for seq, (officer_id, share) in enumerate(zip(officers, shares), start=1):
        lines.append(
            Line(
                event.event_id,
                seq,
                event.position,
                event.occurred_at,
                event.month,
                unit_id,
                officer_id,
                effect.clause,
                effect.reward_clause,
                points,
                share,
                officers,
                item_id,
                note,
                policy.version,
            )
        )
    return lines


def _unit_line(
    event: LogEvent,
    policy: Policy,
    *,
    seq: int,
    month: int,
    unit_id: str,
    clause: str,
    points: int,
    item_id: str | None = None,
    note: str | None = None,
) -> Line:
    """A line of a unit alone, with no officers and no money: S6, S2/D2, a close's D7."""
    return Line(
        event.event_id,
        seq,
        event.position,
        event.occurred_at,
        month,
        unit_id,
        None,
        clause,
        None,
        points,
        ZERO,
        (),
        item_id,
        note,
        policy.version,
    )


def _count(state: FoldState, unit_id: str, month: int, submitted: int, adopted: int) -> Map:
    old_submitted, old_adopted = state.month_counts.get((unit_id, month), (0, 0))
    return state.month_counts.set((unit_id, month), (old_submitted + submitted, old_adopted + adopted))


def _deduction_effect(policy: Policy, clause_id: str, points: int | None = None) -> Effect:
    return Effect(
        clause=clause_id,
        points=policy.points_of(clause_id) if points is None else points,
        reward_clause=None,
        yuan=ZERO,
    )


# --- one handler per event type -------------------------------------------------------------------


def _unit_registered(state: FoldState, event: LogEvent, _policies: PolicySet):
    d = event.data
    row = ("units", (d["unit_id"], d["name"], d["kind"], event.occurred_at, event.position))
    units = state.units.set(d["unit_id"], Unit(d["name"], d["kind"]))
    return FoldState(
        units, state.items, state.targets, state.month_counts, state.adoptions, state.closes, state.solicitations
    ), Outcome(rows=(row,))


def _officer_registered(state: FoldState, event: LogEvent, _policies: PolicySet):
    d = event.data
    row = ("officers", (d["officer_id"], d["unit_id"], d["name"], event.occurred_at, event.position))
    return state, Outcome(rows=(row,))


def _target_set(state: FoldState, event: LogEvent, _policies: PolicySet):
    d = event.data
    month = d.get("month") or 0
    row = ("targets", (event.position, d["unit_id"], d["year"], month, d["submissions"], d["adoptions"]))
    targets = state.targets.set((d["unit_id"], d["year"], month), (d["submissions"], d["adoptions"]))
    return FoldState(
        state.units, state.items, targets, state.month_counts, state.adoptions, state.closes, state.solicitations
    ), Outcome(rows=(row,))


def _item_submitted(state: FoldState, event: LogEvent, _policies: PolicySet):
    d = event.data
    authors = tuple(d.get("authors", ()))
    row = ("items", (d["item_id"], d["unit_id"], d["title"], d["kind"], list(authors), event.month, event.position))
    fact = Fact(event.event_id, event.position, event.month, d["unit_id"], "submitted", None, d["item_id"], authors)
    new_state = FoldState(
        state.units,
        state.items.set(d["item_id"], Item(d["unit_id"], d["kind"], authors)),
        state.targets,
        _count(state, d["unit_id"], event.month, 1, 0),
        state.adoptions,
        state.closes,
        state.solicitations,
    )
    if d.get("solicitation_id"):  # the answer to a 约稿 (on time or late)
        new_state, answer = _answered(new_state, event)
        return new_state, Outcome(facts=(fact,), rows=(row, answer))
    return new_state, Outcome(facts=(fact,), rows=(row,))


def _item_adopted(state: FoldState, event: LogEvent, policies: PolicySet):
    d = event.data
    policy = policies.of_event(event.occurred_at, event.month)
    item: Item = state.items[d["item_id"]]
    kind = d.get("kind") or item.kind
    effect = policy.adoption[(d["channel"], kind)]
    lines = _effect_lines(event, policy, effect, unit_id=item.unit_id, officers=item.authors, item_id=d["item_id"])
    contribution = policy.contribution_clause
    # S6 only where the adoption itself earns points (rules.md: a 《政办通报》 adoption gives none).
    contributors = d.get("contributors", ()) if policy.earns_points(d["channel"], kind) else ()
    for seq, contributor in enumerate(contributors, start=len(lines)):
        points = policy.contribution_points + contributor.get("extra_points", 0)
        lines.append(
            _unit_line(
                event,
                policy,
                seq=seq,
                month=event.month,
                unit_id=contributor["unit_id"],
                clause=contribution,
                points=points,
                item_id=d["item_id"],
            )
        )
    fact = Fact(
        event.event_id, event.position, event.month, item.unit_id, "adopted", d["channel"], d["item_id"], item.authors
    )
    new_state = FoldState(
        state.units,
        state.items,
        state.targets,
        _count(state, item.unit_id, event.month, 0, 1),
        state.adoptions.set(event.event_id, (item.unit_id, event.month)),
        state.closes,
        state.solicitations,
    )
    return new_state, Outcome(lines=tuple(lines), facts=(fact,))


def _item_endorsed(state: FoldState, event: LogEvent, policies: PolicySet):
    d = event.data
    policy = policies.of_event(event.occurred_at, event.month)
    item: Item = state.items[d["item_id"]]
    effect = policy.endorsement[d["level"]]
    lines = _effect_lines(event, policy, effect, unit_id=item.unit_id, officers=item.authors, item_id=d["item_id"])
    fact = Fact(
        event.event_id, event.position, event.month, item.unit_id, "endorsed", d["level"], d["item_id"], item.authors
    )
    return state, Outcome(lines=tuple(lines), facts=(fact,))


def _assessed(state: FoldState, event: LogEvent, policies: PolicySet):
    d = event.data
    policy = policies.for_year(d["year"])
    effect = _deduction_effect(policy, policy.document.assessment[d["outcome"]])
    lines = _effect_lines(event, policy, effect, unit_id=d["unit_id"], officers=(), item_id=None)
    # S1/D1 score in the year they assess, as S2/D2 in the month they evaluate: an assessment made in
    # January for the year before belongs to that year's December (one made early, to its January).
    year, happened = d["year"], event.month // 100
    if happened != year:
        month = year * 100 + (12 if happened > year else 1)
        lines = [line._replace(month=month) for line in lines]
    return state, Outcome(lines=tuple(lines))


def _deduction(clause_of: Callable[[Policy, dict], tuple[str, int | None]]):
    def handler(state: FoldState, event: LogEvent, policies: PolicySet):
        d = event.data
        policy = policies.of_event(event.occurred_at, event.month)
        clause_id, points = clause_of(policy, d)
        effect = _deduction_effect(policy, clause_id, points)
        lines = _effect_lines(
            event,
            policy,
            effect,
            unit_id=d["unit_id"],
            officers=tuple(d.get("responsible_officers", ())),
            item_id=d.get("item_id"),
            split_money=False,
        )
        return state, Outcome(lines=tuple(lines))

    return handler


def _revoke(
    state: FoldState, event: LogEvent, target_event_id: str, unit_id: str | None = None
) -> tuple[FoldState, Outcome]:
    counted = state.adoptions.get(target_event_id)
    if counted is not None:
        counted_unit, month = counted
        state = FoldState(
            state.units,
            state.items,
            state.targets,
            _count(state, counted_unit, month, 0, -1),
            state.adoptions.delete(target_event_id),
            state.closes,
            state.solicitations,
        )
    return state, Outcome(revocations=(Revocation(target_event_id, event.event_id, event.position, unit_id),))


def _event_revoked(state: FoldState, event: LogEvent, _policies: PolicySet):
    return _revoke(state, event, event.data["target_event_id"])


def _dispute_resolved(state: FoldState, event: LogEvent, _policies: PolicySet):
    if event.data["outcome"] != "revoked":
        return state, NOTHING
    # the unit's lines only: a solicitation's close is several units' D7, disputed one by one
    return _revoke(state, event, event.data["deduction_event_id"], event.data["unit_id"])


def _month_key(moment: datetime, policies: PolicySet) -> int:
    local = moment.astimezone(policies.zone)
    return local.year * 100 + local.month


def _solicitation_issued(state: FoldState, event: LogEvent, policies: PolicySet):
    d = event.data
    deadline = datetime.fromisoformat(d["deadline"])
    # none named: every unit registered before the issue in the log, i.e. those the state knows now
    asked = tuple(d.get("unit_ids") or sorted(state.units.keys()))
    solicitation = Solicitation(asked, deadline, _month_key(deadline, policies), frozenset(), False)
    row = ("solicitations", (d["solicitation_id"], d["title"], deadline, list(asked), event.event_id, event.position))
    solicitations = state.solicitations.set(d["solicitation_id"], solicitation)
    return _with_solicitations(state, solicitations), Outcome(rows=(row,))


def _with_solicitations(state: FoldState, solicitations: Map) -> FoldState:
    return FoldState(
        state.units, state.items, state.targets, state.month_counts, state.adoptions, state.closes, solicitations
    )


def _answered(state: FoldState, event: LogEvent) -> tuple[FoldState, tuple]:
    """An item naming a solicitation: remembered as answered on time or late."""
    d = event.data
    solicitation: Solicitation = state.solicitations[d["solicitation_id"]]
    on_time = event.occurred_at <= solicitation.deadline
    row = ("solicitation_answers", (d["solicitation_id"], d["unit_id"], d["item_id"], on_time, event.position))
    if on_time and d["unit_id"] not in solicitation.on_time:
        solicitation = solicitation._replace(on_time=solicitation.on_time | {d["unit_id"]})
        state = _with_solicitations(state, state.solicitations.set(d["solicitation_id"], solicitation))
    return state, row


def _solicitation_closed(state: FoldState, event: LogEvent, policies: PolicySet):
    """D7 for every asked unit with nothing by the deadline: in the deadline's month, citing the close."""
    sid = event.data["solicitation_id"]
    solicitation: Solicitation = state.solicitations[sid]
    policy = policies.for_month(solicitation.month)
    clause_id = policy.document.solicitation_missed
    points = policy.points_of(clause_id)
    lines = tuple(
        _unit_line(
            event,
            policy,
            seq=seq,
            month=solicitation.month,
            unit_id=unit_id,
            clause=clause_id,
            points=points,
            note=f"约稿 {sid}",
        )
        for seq, unit_id in enumerate(sorted(u for u in solicitation.asked if u not in solicitation.on_time))
    )
    row = ("solicitation_closes", (sid, event.event_id, event.occurred_at, event.position))
    solicitations = state.solicitations.set(sid, solicitation._replace(closed=True))
    return _with_solicitations(state, solicitations), Outcome(lines=lines, rows=(row,))


def _rectification(state: FoldState, event: LogEvent, _policies: PolicySet):
    d = event.data
    status = "submitted" if event.type == "unit.rectification-submitted" else d["outcome"]
    text = d.get("plan") if status == "submitted" else d.get("reason")
    row = ("rectifications", (event.position, d["unit_id"], d["year"], status, text, d.get("reference")))
    return state, Outcome(rows=(row,))


def _rewards_paid(state: FoldState, event: LogEvent, _policies: PolicySet):
    d = event.data
    row = (
        "payments",
        (event.event_id, event.position, d["unit_id"], d["period"], Decimal(d["amount_yuan"]), d["reference"]),
    )
    return state, Outcome(rows=(row,))


def period_month(event: LogEvent) -> int:
    """The YYYYMM a `period.month-closed` or `period.month-reopened` is about."""
    return event.data["year"] * 100 + event.data["month"]


def _month_closed(state: FoldState, event: LogEvent, policies: PolicySet):
    year, month = event.data["year"], event.data["month"]
    key = period_month(event)
    policy = policies.for_month(key)
    rules = policy.document.month_evaluation
    lines: list[Line] = []
    for unit_id in sorted(state.units.keys()):
        target = effective_target(state.targets, unit_id, year, month)
        if target is None:
            continue
        submitted, adopted = state.month_counts.get((unit_id, key), (0, 0))
        rule = getattr(rules, month_outcome(submitted, adopted, target))
        points = policy.points_of(rule.clause) if rule.points is None else rule.points
        tally = f"报送 {submitted}/{target[0]}，采用 {adopted}/{target[1]}"
        note = rule.note.format(year=year, month=month, tally=tally)
        lines.append(
            _unit_line(
                event, policy, seq=len(lines), month=key, unit_id=unit_id, clause=rule.clause, points=points, note=note
            )
        )
    closes = state.closes.set(key, event.event_id)
    return FoldState(
        state.units, state.items, state.targets, state.month_counts, state.adoptions, closes, state.solicitations
    ), Outcome(lines=tuple(lines))


def _month_reopened(state: FoldState, event: LogEvent, _policies: PolicySet):
    key = period_month(event)
    close_id = state.closes[key]
    revocation = Revocation(close_id, event.event_id, event.position)
    closes = state.closes.delete(key)
    return FoldState(
        state.units, state.items, state.targets, state.month_counts, state.adoptions, closes, state.solicitations
    ), Outcome(revocations=(revocation,))


def _no_effect(state: FoldState, _event: LogEvent, _policies: PolicySet):
    return state, NOTHING


Evolver = Callable[[FoldState, LogEvent, PolicySet], tuple[FoldState, Outcome]]

# One evolver per event type (tests/domain checks that decide and evolve cover exactly EVENT_TYPES).
EVOLVERS: dict[str, Evolver] = {
    "unit.registered": _unit_registered,
    "officer.registered": _officer_registered,
    "unit.target-set": _target_set,
    "unit.assessed": _assessed,
    "item.submitted": _item_submitted,
    "item.adopted": _item_adopted,
    "item.endorsed": _item_endorsed,
    "unit.false-information": _deduction(lambda p, d: (p.document.false_information, -d["points"])),
    "unit.late-reported": _deduction(lambda p, d: (p.document.late_reported[d["level"]][d["kind"]], None)),
    "unit.solicitation-missed": _deduction(lambda p, d: (p.document.solicitation_missed, None)),
    "unit.criticized": _deduction(lambda p, d: (p.document.criticized, None)),
    "unit.deduction-disputed": _no_effect,
    "unit.dispute-resolved": _dispute_resolved,
    "event.revoked": _event_revoked,
    "period.month-closed": _month_closed,
    "period.month-reopened": _month_reopened,
    "solicitation.issued": _solicitation_issued,
    "solicitation.closed": _solicitation_closed,
    "unit.rectification-submitted": _rectification,
    "unit.rectification-reviewed": _rectification,
    "rewards.paid": _rewards_paid,
}


class FoldError(RuntimeError):
    """The fold could not apply an event: the projection stops here and says where."""

    def __init__(self, *, position: int, event_type: str, event_id: str, reason: str):
        super().__init__(f"position {position} ({event_type}, {event_id}): {reason}")
        self.position, self.event_type, self.event_id, self.reason = position, event_type, event_id, reason


def evolve(state: FoldState, event: LogEvent, policies: PolicySet) -> tuple[FoldState, Outcome]:
    """Fold one event: the new state and the ledger lines, facts and revocations it produces."""
    evolver = EVOLVERS.get(event.type)
    if evolver is None:
        raise FoldError(
            position=event.position,
            event_type=event.type,
            event_id=event.event_id,
            reason="no fold rule for this event type",
        )
    try:
        return evolver(state, event, policies)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FoldError(
            position=event.position, event_type=event.type, event_id=event.event_id, reason=repr(exc)
        ) from exc
