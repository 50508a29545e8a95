"""Folding the log chunk by chunk into a projection generation, with memory bounded by the chunk.

The fold state keeps in full only what is small and needed whole: units, targets, monthly counts
and month closes (all bounded by units × months, not by the log). Items and adoptions grow with
the log, so the state holds only those the next chunk needs: before each chunk, `hydrate` loads
the missing ones from the generation being written (which is exactly at the fold's position,
since lines, rows and checkpoint commit together), and `accept` forgets them once they pile up.
The fold itself (`fold.apply`) neither knows nor cares: it sees a state that has what it reads.
"""

from typing import Iterable

from immutables import Map

from shared.policy import PolicySet
from services.scoring.fold import FoldState, Item, LogEvent, Outcome, Unit, apply

CACHE_LIMIT = 50_000
_ITEM_READERS = frozenset({"item.adopted", "item.endorsed"})
_REVOKERS = {"event.revoked": "target_event_id", "unit.dispute-resolved": "deduction_event_id"}


class ChunkFolder:
    """The fold state of one projection generation, and the chunk-by-chunk fold into it."""

    def __init__(self, policies: PolicySet, schema: str, *, cache_limit: int = CACHE_LIMIT):
        self.policies = policies
        self.schema = schema
        self.cache_limit = cache_limit
        self.state = FoldState()

    async def restore(self, conn) -> None:
        """The small state as of the generation's checkpoint, read from its tables and the log."""
        s = self.schema
        units = {row["unit_id"]: Unit(row["name"], row["kind"])
                 for row in await conn.fetch(f"SELECT unit_id, name, kind FROM {s}.units")}
        targets = {(row["unit_id"], row["year"], row["month"]): (row["submissions"], row["adoptions"])
                   for row in await conn.fetch(
                       f"SELECT DISTINCT ON (unit_id, year, month) unit_id, year, month, submissions, adoptions "
                       f"FROM {s}.targets ORDER BY unit_id, year, month, global_position DESC")}
        counts = {(row["unit_id"], row["month"]): (row["submitted"], row["adopted"])
                  for row in await conn.fetch(
                      f"SELECT unit_id, month, count(*) FILTER (WHERE fact = 'submitted') AS submitted, "
                      f"count(*) FILTER (WHERE fact = 'adopted' AND revoked_by IS NULL) AS adopted "
                      f"FROM {s}.facts GROUP BY unit_id, month")}
        checkpoint = await conn.fetchval(f"SELECT position FROM {s}.checkpoint")
        # Which months are closed, and by which event: the period events folded on an empty state
        # (no units, so a close yields no lines; only `closes` moves).
        closes_only = FoldState()
        for event in await _period_events(conn, until=checkpoint):
            closes_only, _ = apply(closes_only, event, self.policies.at(event.occurred_at))
        self.state = FoldState(units=Map(units), targets=Map(targets), month_counts=Map(counts),
                               closes=closes_only.closes)

    async def hydrate(self, conn, events: Iterable[LogEvent]) -> None:
        """Load the items and adoptions this chunk reads and the state does not hold."""
        state = self.state
        item_ids, revoked_ids = set(), set()
        for event in events:
            if event.type in _ITEM_READERS and event.data["item_id"] not in state.items:
                item_ids.add(event.data["item_id"])
            elif event.type in _REVOKERS:
                target = event.data[_REVOKERS[event.type]]
                if target not in state.adoptions:
                    revoked_ids.add(target)
        items, adoptions = state.items, state.adoptions
        if item_ids:
            rows = await conn.fetch(f"SELECT item_id, unit_id, kind, authors FROM {self.schema}.items "
                                    "WHERE item_id = ANY($1::text[])", list(item_ids))
            items = items.update({r["item_id"]: Item(r["unit_id"], r["kind"], tuple(r["authors"])) for r in rows})
        if revoked_ids:
            rows = await conn.fetch(f"SELECT event_id::text, unit_id, month FROM {self.schema}.facts "
                                    "WHERE event_id = ANY($1::uuid[]) AND fact = 'adopted' AND revoked_by IS NULL",
                                    list(revoked_ids))
            adoptions = adoptions.update({r["event_id"]: (r["unit_id"], r["month"]) for r in rows})
        self.state = state._replace(items=items, adoptions=adoptions)

    def fold(self, events: Iterable[LogEvent]) -> tuple[FoldState, list[Outcome]]:
        """Fold a hydrated chunk; the caller writes the outcomes, commits, then calls `accept`."""
        state, outcomes = self.state, []
        for event in events:
            state, outcome = apply(state, event, self.policies.at(event.occurred_at))
            outcomes.append(outcome)
        return state, outcomes

    def accept(self, state: FoldState) -> None:
        """Adopt the state after a committed chunk, forgetting cached items/adoptions past the limit."""
        if len(state.items) > self.cache_limit:
            state = state._replace(items=Map())
        if len(state.adoptions) > self.cache_limit:
            state = state._replace(adoptions=Map())
        self.state = state


async def _period_events(conn, *, until: int) -> list[LogEvent]:
    rows = await conn.fetch(
        "SELECT event_id::text, global_position, type, occurred_at, data FROM eventlog.events "
        "WHERE type IN ('period.month-closed', 'period.month-reopened') AND global_position <= $1 "
        "ORDER BY global_position", until)
    return [LogEvent(r["event_id"], r["global_position"], r["type"], r["occurred_at"], 0, r["data"]) for r in rows]
