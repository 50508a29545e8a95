"""Group commit with the checks inside: requests that arrive while a commit is in flight are decided
together, in arrival order, and share the next INSERT (or COPY) and COMMIT.

Appends are serialised by the log's lock (see `shared.eventstore.append`), so a transaction holds
it through its own WAL flush, and one-event transactions would commit one flush at a time. The
committer runs one group at a time: it reads what the group's events touch (duplicates by event id,
named events, the tails of the touched streams — see `checks.StreamCache`), runs `decide` for each
request against one view that already holds the earlier requests' accepted events, and appends
every accepted event in one statement. Two requests on one stream are therefore sequenced here
rather than racing for the same stream version; a request's refusal takes back only its own events.
A race with another process (several workers share the log) surfaces as a unique violation at the
INSERT: the group is read and decided again.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from asyncpg.exceptions import UniqueViolationError

from services.ingest.checks import StreamCache, add_solicitation_answers, group_view, named_ids
from shared import eventstore
from shared.domain.decide import Decided, Decision, Refusal, Seen, answers_stream, decide, referenced_streams
from shared.domain.events import Envelope
from shared.domain.policy import PolicySet
from shared.eventstore import NewRecord
from shared.problems import Problem

MAX_GROUP_EVENTS = 5000
MAX_ATTEMPTS = 8


@dataclass(slots=True)
class Appended:
    """The answer for one event: where it is in the log, and whether it was already there."""

    row: tuple[UUID, int, str, int, datetime]  # event_id, global_position, stream_id, stream_version, recorded_at
    duplicate: bool
    stored: Any = None  # the stored event, for a duplicate


@dataclass(slots=True)
class Request:
    """One HTTP request's events, with what the appender already found wrong with them."""

    events: list[Envelope]
    hashes: list[bytes]
    places: list[int]  # each event's index in the request
    errors: list[tuple[int, Problem | Refusal]]  # (place, problem) found before the database
    schema_errors: list[dict[str, Any]]
    actor: dict[str, Any] | None
    batch: bool
    future: asyncio.Future


class Deferred(Exception):
    """The request names an event id an earlier request of the group is appending: next group."""


class GroupCommitter:
    def __init__(self, pool: Any, policies: PolicySet, cache: StreamCache | None = None):
        self.pool = pool
        self.policies = policies
        self.cache = cache or StreamCache()
        self._queue: list[Request] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def submit(
        self,
        events: list[Envelope],
        hashes: list[bytes],
        *,
        places: list[int],
        errors: list[tuple[int, Problem | Refusal]],
        schema_errors: list[dict[str, Any]],
        actor: dict[str, Any] | None,
        batch: bool,
    ) -> list[Appended]:
        """Decide and append the request's events all or none; raise the Problem that refuses them."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append(Request(events, hashes, places, errors, schema_errors, actor, batch, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        self._ready.set()
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                group: list[Request] = []
                size = 0
                while self._queue and (not group or size + len(self._queue[0].events) <= MAX_GROUP_EVENTS):
                    request = self._queue.pop(0)
                    group.append(request)
                    size += len(request.events)
                try:
                    await self._commit(group)
                except asyncio.CancelledError:
                    _fail_all(group, Problem(503, "shutting_down", "the service is stopping; retry"))
                    raise
                except Exception as exc:  # the database went away: each request answers it
                    _fail_all(group, exc)

    async def _commit(self, group: list[Request]) -> None:
        async with self.pool.acquire() as conn:
            try:
                await self._commit_on(conn, group)
            except BaseException:
                # An error may leave the connection mid-protocol (a restart seen halfway through a
                # statement): it must not go back to the pool, where the next group would get it.
                conn.terminate()
                raise

    async def _commit_on(self, conn: Any, group: list[Request]) -> None:
        for _attempt in range(MAX_ATTEMPTS):
            planned, deferred = await self._plan(conn, group)
            if deferred:
                self._queue[:0] = deferred
                self._ready.set()
            if not planned:
                return
            records = [record for _request, _answers, pending in planned for _index, record in pending]
            try:
                async with conn.transaction():
                    rows = await eventstore.append_raw(conn, records)
            except UniqueViolationError:
                # Another process took a version or an event id since we read: read and decide again.
                group = [request for request, _answers, _pending in planned]
                continue
            start = 0
            for request, answers, pending in planned:
                for (index, record), row in zip(pending, rows[start : start + len(pending)]):
                    position, recorded_at = row
                    answers[index] = Appended(
                        row=(record.event_id, position, record.stream_id, record.stream_version, recorded_at),
                        duplicate=False,
                    )
                    self.cache.committed(record.stream_id, record.stream_version, _seen(record, position))
                start += len(pending)
                if not request.future.done():
                    request.future.set_result(answers)
            return
        _fail_all(group, Problem(409, "concurrent_append", "the streams kept changing; retry the request"))

    async def _plan(
        self, conn: Any, group: list[Request]
    ) -> tuple[list[tuple[Request, list, list[tuple[int, NewRecord]]]], list[Request]]:
        """Decide every request of the group; answer the refused and all-duplicate ones at once."""
        live = [request for request in group if not request.future.done()]
        every = [event for request in live for event in request.events]
        ids = {event.event_id for event in every if event.event_id is not None}
        stored = await eventstore.find_stored_raw(conn, list(ids | named_ids(every)))
        wanted = {stream for event in every for stream in referenced_streams(event)}
        wanted |= {found.stream_id for found, _digest in stored.values()}
        view = group_view(await self.cache.refresh(conn, sorted(wanted)))
        await add_solicitation_answers(conn, view, [found for found, _digest in stored.values()])
        now = datetime.now(UTC)
        taken: set[UUID] = set()  # event ids the group appends
        planned, deferred = [], []
        for request in live:
            decision = Decision(view, policies=self.policies, now=now, actor=request.actor)
            added: list[Decided] = []
            try:
                answers, pending = _decide_request(request, decision, stored, taken, added)
            except Deferred:
                _take_back(view, added)
                deferred.append(request)
                continue
            except Problem as problem:
                _take_back(view, added)
                request.future.set_exception(problem)
                continue
            if pending:
                taken |= {record.event_id for _index, record in pending}
                planned.append((request, answers, pending))
            else:
                request.future.set_result(answers)
        return planned, deferred


def _decide_request(
    request: Request,
    decision: Decision,
    stored: dict[UUID, Any],
    taken: set[UUID],
    added: list[Decided],
) -> tuple[list[Appended | None], list[tuple[int, NewRecord]]]:
    """The request's answers so far (duplicates) and its records to append; raises the refusal."""
    events, places = request.events, request.places
    answers: list[Appended | None] = [None] * len(events)
    errors = list(request.errors)
    failed = {place for place, _ in errors}
    fresh: list[tuple[int, Envelope]] = []
    for index, event in enumerate(events):
        if event.event_id is not None and event.event_id in taken:
            raise Deferred
        previous = stored.get(event.event_id) if event.event_id else None
        if previous is None:
            fresh.append((index, event))
        elif previous[1] == request.hashes[index]:
            answers[index] = Appended(row=_stored_row(previous[0]), duplicate=True, stored=previous[0])
        else:
            detail = f"event {event.event_id} is stored with other content"
            errors.append((places[index], Problem(409, "event_id_conflict", detail)))
    pending: list[tuple[int, NewRecord]] = []
    for index, event in fresh:
        if places[index] in failed:
            continue
        try:
            decided = decide(decision, event, event_id=event.event_id or uuid4())
        except Refusal as refusal:
            errors.append((places[index], refusal))
            continue
        added.append(decided)
        pending.append((index, _record(decided, request.hashes[index])))
    if errors or request.schema_errors:
        errors.sort(key=lambda pair: pair[0])
        raise batch_problem(errors, batch=request.batch, schema_errors=request.schema_errors)
    return answers, pending


def _take_back(view: Any, added: list[Decided]) -> None:
    """Remove a refused request's accepted events from the group's view (newest first)."""
    for decided in reversed(added):
        view.streams[decided.stream_id].pop()
        view.events.pop(decided.event_id, None)
        if decided.type == "item.submitted" and decided.data.get("solicitation_id"):
            answers = view.stream(answers_stream(decided.data["solicitation_id"]))
            answers[:] = [seen for seen in answers if seen.event_id != decided.event_id]


def _fail_all(group: Sequence[Request], exc: BaseException) -> None:
    for request in group:
        if not request.future.done():
            request.future.set_exception(exc)


def _record(decided: Decided, digest: bytes) -> NewRecord:
    return NewRecord(
        event_id=decided.event_id,
        stream_id=decided.stream_id,
        stream_version=decided.stream_version,
        type=decided.type,
        occurred_at=decided.occurred_at,
        data=decided.data,
        metadata=decided.metadata,
        actor=decided.actor,
        content_hash=digest,
    )


def _seen(record: NewRecord, position: int) -> Seen:
    return Seen(record.event_id, record.type, record.data, position)


def _stored_row(event: Any) -> tuple[UUID, int, str, int, datetime]:
    return (
        UUID(bytes=event.event_id.bytes),
        event.global_position,
        event.stream_id,
        event.stream_version,
        event.recorded_at,
    )


# --- answers naming every bad event of a request -------------------------------------------------------
def _refusal_problem(refusal: Refusal) -> Problem:
    errors = None if refusal.loc is None else [{"loc": ["body", *refusal.loc], "msg": refusal.detail}]
    return Problem(refusal.status, refusal.code, refusal.detail, errors=errors)


def _entry(index: int, problem: Problem | Refusal) -> dict[str, Any]:
    loc = ["events", index, *(problem.loc or ())] if isinstance(problem, Refusal) else ["events", index]
    return {"index": index, "loc": loc, "msg": problem.detail, "code": problem.code}


def batch_problem(
    errors: list[tuple[int, Problem | Refusal]], *, batch: bool, schema_errors: Sequence[dict[str, Any]] = ()
) -> Problem:
    """Every bad event of a request in one answer; its status and code are the first error's."""
    if not batch:
        first = errors[0][1]
        return _refusal_problem(first) if isinstance(first, Refusal) else first
    entries = list(schema_errors) + [_entry(index, problem) for index, problem in errors]
    entries.sort(key=lambda entry: entry["index"])
    first_index = entries[0]["index"]
    status, code = 422, entries[0].get("code", "validation_error")
    for index, problem in errors:
        if index == first_index:
            status, code = problem.status, problem.code
            break
    bad = len({entry["index"] for entry in entries})
    return Problem(status, code, f"{bad} event(s) of the batch are refused; see errors", errors=entries)
