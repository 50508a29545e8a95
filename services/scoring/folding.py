"""Folding the log chunk by chunk into a projection generation, with memory bounded by the chunk.

The fold state keeps in full only what is small and needed whole: units, targets, monthly counts
and month closes (all bounded by units × months, not by the log). Items and adoptions grow with
the log, so the state holds only those the next chunk needs: before each chunk, `hydrate` loads
the missing ones from the generation being written (which is exactly at the fold's position,
since lines, rows and checkpoint commit together), and `accept` forgets them once they pile up.
The fold itself (`fold.apply`) neither knows nor cares: it sees a state that has what it reads.

`fold_log` is the same fold pipelined for long runs (a rebuild): the next chunk is read while this
one is folded, and this one is folded while the previous one is written.
"""

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from immutables import Map

from services.scoring.log_reader import read_chunk
from shared.domain.evolve import FoldState, Item, LogEvent, Outcome, Solicitation, Unit, evolve
from shared.domain.policy import PolicySet
from shared.domain.standing import latest_targets

CACHE_LIMIT = 50_000
YIELD_EVERY = 100  # events folded between two turns of the event loop (a write in flight moves on)
_ITEM_READERS = frozenset({"item.adopted", "item.endorsed"})
_REVOKERS = {"event.revoked": "target_event_id", "unit.dispute-resolved": "deduction_event_id"}
# Each unit's monthly counts as the fold leaves them at position $1 ({month} narrows the months): an
# adoption counts while no revocation folded so far took it back (revoked_position > $1: not yet).
_COUNTS = (
    "SELECT unit_id, month, count(*) FILTER (WHERE fact = 'submitted') AS submitted, "
    "count(*) FILTER (WHERE fact = 'adopted' AND (revoked_position IS NULL OR revoked_position > $1)) AS adopted "
    "FROM {schema}.facts WHERE global_position <= $1 AND {month} GROUP BY unit_id, month"
)


class ChunkFolder:
    """The fold state of one projection generation, and the chunk-by-chunk fold into it."""

    def __init__(self, policies: PolicySet, schema: str, *, cache_limit: int = CACHE_LIMIT):
        self.policies = policies
        self.schema = schema
        self.cache_limit = cache_limit
        self.state = FoldState()
        self._unsettled: frozenset[str] = frozenset()  # revoked by a chunk folded, not yet committed
        # Set by `restore(as_of=…)`: the state is the generation's as of that position, not as of its
        # checkpoint, so `hydrate` reads the generation as of it too (see `revoked_since`).
        self.as_of: int | None = None
        self.revoked_since: set[str] = set()  # in as-of mode: targets of revocations folded since

    async def restore(self, conn, *, as_of: int | None = None) -> None:
        """The small state as of the generation's checkpoint, read from its tables and the log.

        With `as_of` (at most the checkpoint, which the caller checks), the state as of that earlier
        position instead: every row made after it is left out and every revocation made after it is
        undone, so the state is exactly what folding the log up to `as_of` leaves (what-if restores
        the state the period's first line sees). Read in one snapshot with the log.
        """
        s = self.schema
        checkpoint = await conn.fetchval(f"SELECT position FROM {s}.checkpoint")
        cut = checkpoint if as_of is None else as_of
        units = {
            row["unit_id"]: Unit(row["name"], row["kind"])
            for row in await conn.fetch(f"SELECT unit_id, name, kind FROM {s}.units WHERE global_position <= $1", cut)
        }
        targets = latest_targets(
            tuple(row)
            for row in await conn.fetch(
                f"SELECT unit_id, year, month, submissions, adoptions FROM {s}.targets "
                "WHERE global_position <= $1 ORDER BY global_position",
                cut,
            )
        )
        counts = {
            (row["unit_id"], row["month"]): (row["submitted"], row["adopted"])
            for row in await conn.fetch(_COUNTS.format(schema=s, month="TRUE"), cut)
        }
        # Which months are closed, and by which event: the period events folded on an empty state
        # (no units, so a close yields no lines; only `closes` moves).
        closes_only = FoldState()
        for event in await _period_events(conn, until=cut):
            closes_only, _ = evolve(closes_only, event, self.policies)
        self.state = FoldState(
            units=Map(units),
            targets=Map(targets),
            month_counts=Map(counts),
            closes=closes_only.closes,
            solicitations=await _solicitations(conn, s, self.policies, until=cut),
        )
        self.as_of, self.revoked_since = as_of, set()

    async def month_counts_at(self, conn, state: FoldState, *, month: int, position: int) -> FoldState:
        """`state` with every unit's counts of `month` as folding the log up to `position` leaves them,
        from the generation's facts (at most its checkpoint). What-if sets them before a close it
        folds, so the period's plain submissions need not be folded for the close to count them."""
        found = {
            row["unit_id"]: (row["submitted"], row["adopted"])
            for row in await conn.fetch(_COUNTS.format(schema=self.schema, month="month = $2"), position, month)
        }
        counts = state.month_counts.mutate()
        for unit_id in state.units.keys():
            counts[(unit_id, month)] = found.get(unit_id, (0, 0))
        return state._replace(month_counts=counts.finish())

    async def hydrate(self, conn, events: Iterable[LogEvent]) -> None:
        """Load the items and adoptions this chunk reads and the state does not hold."""
        state = self.state
        item_ids, revoked_ids = set(), set()
        for event in events:
            if event.type in _ITEM_READERS and event.data["item_id"] not in state.items:
                item_ids.add(event.data["item_id"])
            elif event.type in _REVOKERS:
                target = event.data[_REVOKERS[event.type]]
                # a revocation still being written would not show in the generation yet; in as-of
                # mode, one folded since `as_of` shows only in the state
                if target not in state.adoptions and target not in self._unsettled and target not in self.revoked_since:
                    revoked_ids.add(target)
        items, adoptions = state.items, state.adoptions
        # In as-of mode the generation's adoptions are read as of `as_of` (what came later, the fold has
        # made itself); else as it stands, which is the fold's position.
        cut = "" if self.as_of is None else f" AND global_position <= {int(self.as_of)}"
        counting = (
            "revoked_by IS NULL"
            if self.as_of is None
            else f"(revoked_position IS NULL OR revoked_position > {int(self.as_of)})"
        )
        if item_ids:
            # No cut for items: an item never changes once submitted, and an event names only an item
            # submitted before it, so the generation's row is what folding its submission gives
            # (what-if leaves the period's plain submissions unfolded and finds their items here).
            rows = await conn.fetch(
                f"SELECT item_id, unit_id, kind, authors FROM {self.schema}.items WHERE item_id = ANY($1::text[])",
                list(item_ids),
            )
            items = items.update({r["item_id"]: Item(r["unit_id"], r["kind"], tuple(r["authors"])) for r in rows})
        if revoked_ids:
            rows = await conn.fetch(
                f"SELECT event_id::text, unit_id, month FROM {self.schema}.facts "
                f"WHERE event_id = ANY($1::uuid[]) AND fact = 'adopted' AND {counting}{cut}",
                list(revoked_ids),
            )
            adoptions = adoptions.update({r["event_id"]: (r["unit_id"], r["month"]) for r in rows})
        self.state = state._replace(items=items, adoptions=adoptions)

    def fold(self, events: Iterable[LogEvent], state: FoldState | None = None) -> tuple[FoldState, list[Outcome]]:
        """Fold a hydrated chunk (from `state`, else the folder's); the caller writes the outcomes,
        commits, then calls `accept`."""
        state, outcomes = self.state if state is None else state, []
        policies = self.policies
        for event in events:
            state, outcome = evolve(state, event, policies)
            outcomes.append(outcome)
        return state, outcomes

    def accept(self, state: FoldState, *, unsettled: Sequence[Outcome] = ()) -> None:
        """Adopt the state after a committed chunk, forgetting cached items/adoptions past the limit.

        `unsettled` are the outcomes of a chunk folded into `state` but not committed yet (see
        `fold_log`): the items and adoptions it made are not in the generation yet, so they stay.
        """
        if len(state.items) > self.cache_limit:
            made = (row[0] for outcome in unsettled for table, row in outcome.rows if table == "items")
            state = state._replace(items=Map({item_id: state.items[item_id] for item_id in made}))
        if len(state.adoptions) > self.cache_limit:
            made = (fact.event_id for outcome in unsettled for fact in outcome.facts if fact.fact == "adopted")
            state = state._replace(
                adoptions=Map({event_id: state.adoptions[event_id] for event_id in made if event_id in state.adoptions})
            )
        self._unsettled = frozenset(
            revocation.target_event_id for outcome in unsettled for revocation in outcome.revocations
        )
        self.state = state

    async def fold_log(
        self,
        read_conn,
        *,
        zone: ZoneInfo,
        after: int,
        until: int,
        chunk: int,
        write: Callable[[list[LogEvent], list[Outcome]], Awaitable[None]],
    ) -> None:
        """Fold the events after < position <= until into the generation, pipelined.

        Three chunks are in flight: the next one read on `read_conn`, this one folded, the previous
        one written by `write(events, outcomes)` — on a connection of its own, in a transaction of
        its own with the checkpoint. At most one write is outstanding, so when a chunk is hydrated
        (on `read_conn`, which sees committed rows only) everything before the chunk being written
        is committed, and what that chunk made is still in the state (`accept(unsettled=…)`). The
        fold turns the event loop every YIELD_EVERY events so the write's statements go on.

        If this raises, the folder's state may be ahead of its generation: discard the folder.
        """
        with collector_paused():
            await self._fold_log(read_conn, zone=zone, after=after, until=until, chunk=chunk, write=write)

    async def _fold_log(self, read_conn, *, zone, after, until, chunk, write) -> None:
        reading = asyncio.ensure_future(read_chunk(read_conn, after=after, until=until, limit=chunk, zone=zone))
        writing: asyncio.Future | None = None
        try:
            while events := await reading:
                await self.hydrate(read_conn, events)
                reading = asyncio.ensure_future(
                    read_chunk(read_conn, after=events[-1].position, until=until, limit=chunk, zone=zone)
                )
                state, outcomes = self.state, []
                for start in range(0, len(events), YIELD_EVERY):
                    state, part = self.fold(events[start : start + YIELD_EVERY], state)
                    outcomes += part
                    await asyncio.sleep(0)
                if writing is not None:
                    await writing
                self.accept(state, unsettled=outcomes)
                writing = asyncio.ensure_future(write(events, outcomes))
            if writing is not None:
                await writing
            self.accept(self.state)
        finally:
            for future in (reading, writing):
                if future is not None and not future.done():
                    future.cancel()
                    try:
                        await future
                    except BaseException:
                        pass


_paused, _was_enabled = 0, True  # folds in progress; whether the collector ran before the first


@contextmanager
def collector_paused():
    """No automatic cyclic garbage collection while a long fold runs (reference counting goes on).

    The chunks in flight are hundreds of thousands of objects that live just long enough to reach
    the oldest generation, so the collector runs full collections over them every chunk or two:
    measured, half of a rebuild's time, for nothing, since events, outcomes and fold states hold no
    cycles. What other tasks leave in cycles meanwhile is collected when the fold ends.
    """
    global _paused, _was_enabled
    if _paused == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0 and _was_enabled:
            gc.enable()


async def _period_events(conn, *, until: int) -> list[LogEvent]:
    rows = await conn.fetch(
        "SELECT event_id::text, global_position, type, occurred_at, data FROM eventlog.events "
        "WHERE type IN ('period.month-closed', 'period.month-reopened') AND global_position <= $1 "
        "ORDER BY global_position",
        until,
    )
    return [LogEvent(r["event_id"], r["global_position"], r["type"], r["occurred_at"], 0, r["data"]) for r in rows]


async def _solicitations(conn, schema: str, policies: PolicySet, *, until: int) -> Map:
    """The solicitations as the generation holds them as of `until`: asked units, deadline, on-time
    answers, closed."""
    rows = await conn.fetch(
        f"SELECT s.solicitation_id, s.deadline, s.unit_ids, "
        f"EXISTS (SELECT 1 FROM {schema}.solicitation_closes c "
        f"WHERE c.solicitation_id = s.solicitation_id AND c.global_position <= $1) AS closed, "
        f"coalesce((SELECT array_agg(DISTINCT a.unit_id) FROM {schema}.solicitation_answers a "
        f"WHERE a.solicitation_id = s.solicitation_id AND a.on_time AND a.global_position <= $1), '{{}}') AS on_time "
        f"FROM {schema}.solicitations s WHERE s.global_position <= $1",
        until,
    )
    found = {}
    for row in rows:
        local = row["deadline"].astimezone(policies.zone)
        found[row["solicitation_id"]] = Solicitation(
            tuple(row["unit_ids"]),
            row["deadline"],
            local.year * 100 + local.month,
            frozenset(row["on_time"]),
            row["closed"],
        )
    return Map(found)
