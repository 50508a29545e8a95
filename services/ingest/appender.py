"""Append one event or a batch: idempotency, checks, then the append, all in one transaction."""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson
from asyncpg.exceptions import UniqueViolationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.checks import load_view
from services.ingest.committer import GroupCommitter
from shared import eventstore
from shared.domain.decide import Decided, Decision, Refusal, decide
from shared.domain.events import METADATA_MAX_BYTES, Envelope, stored_data
from shared.domain.policy import PolicySet
from shared.eventstore import NewRecord, content_hash
from shared.problems import Problem

MAX_ATTEMPTS = 8


@dataclass(slots=True)
class Appended:
    """The answer for one event: where it is in the log, and whether it was already there."""

    row: dict[str, Any]
    duplicate: bool
    stored: Any = None  # the stored event, for a duplicate


def _metadata_problem(event: Envelope) -> str | None:
    try:
        encoded = orjson.dumps(event.metadata)
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers over 64 bits, nesting over 255
        return f"metadata cannot be stored as JSON: {exc}"
    if len(encoded) > METADATA_MAX_BYTES:
        return f"metadata is {len(encoded)} bytes of JSON; at most {METADATA_MAX_BYTES} are allowed"
    if b"\\u0000" in encoded:
        return "metadata must not contain NUL characters"
    return None


def _refusal_problem(refusal: Refusal) -> Problem:
    errors = None if refusal.loc is None else [{"loc": ["body", *refusal.loc], "msg": refusal.detail}]
    return Problem(refusal.status, refusal.code, refusal.detail, errors=errors)


def _entry(index: int, problem: Problem | Refusal) -> dict[str, Any]:
    loc = ["events", index, *(problem.loc or ())] if isinstance(problem, Refusal) else ["events", index]
    return {"index": index, "loc": loc, "msg": problem.detail, "code": problem.code}


def _batch_problem(
    errors: list[tuple[int, Problem | Refusal]], *, batch: bool, schema_errors: Sequence[dict[str, Any]] = ()
) -> Problem:  # type: ignore[assignment]
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


async def append_events(
    engine: AsyncEngine,
    events: list[Envelope],
    *,
    policies: PolicySet,
    actor: dict[str, Any] | None,
    batch: bool,
    committer: GroupCommitter | None = None,
    indexes: list[int] | None = None,
    schema_errors: Sequence[dict[str, Any]] = (),
) -> list[Appended]:
    """Append all events or none. A repeat of a stored event id with the same content is a duplicate.

    In a batch, `indexes` are the events' places in the request and `schema_errors` the entries of
    those that failed the schema: every event that passed it is still checked, so the answer names
    every bad event at once.
    """
    places = indexes if indexes is not None else list(range(len(events)))
    errors: list[tuple[int, Problem | Refusal]] = []
    for place, event in zip(places, events):
        if (message := _metadata_problem(event)) is not None:
            code = "metadata_too_large" if "bytes" in message else "validation_error"
            errors.append((place, Problem(422, code, message)))
    seen_ids = set()
    for place, event in zip(places, events):
        if event.event_id is not None and event.event_id in seen_ids:
            detail = f"event_id {event.event_id} appears earlier in the batch"
            errors.append((place, Problem(422, "duplicate_event_id_in_batch", detail)))
        seen_ids.add(event.event_id)
    if errors and not batch:
        raise _batch_problem(errors, batch=False)
    failed = {place for place, _ in errors}
    hashes = [
        b"" if place in failed else content_hash(e.type, e.occurred_at, stored_data(e), e.metadata)  # type: ignore[attr-defined]
        for place, e in zip(places, events)
    ]
    for _attempt in range(MAX_ATTEMPTS):
        try:
            return await _append_once(
                engine,
                events,
                hashes,
                places,
                errors,
                list(schema_errors),
                policies=policies,
                actor=actor,
                batch=batch,
                committer=committer,
            )
        except IntegrityError as exc:
            # Another writer took the same stream version or event id between our read and our
            # insert; reading again turns that into a duplicate, a conflict or a clean append.
            if getattr(exc.orig, "sqlstate", None) != UniqueViolationError.sqlstate:
                raise
    raise Problem(409, "concurrent_append", "the streams kept changing; retry the request")


async def _append_once(
    engine, events, hashes, places, known_errors, schema_errors, *, policies, actor, batch, committer
) -> list[Appended]:
    """Decide against what is stored, then append: with the group committer when given (its own
    transaction; a race surfaces as IntegrityError), else in the transaction that decided."""
    async with contextlib.AsyncExitStack() as stack:
        if committer is None:
            conn = await stack.enter_async_context(engine.begin())
        else:
            # The checks need no transaction of their own: what they read is either immutable or
            # re-checked by the unique keys at the INSERT. Autocommit saves the BEGIN and COMMIT.
            conn = await stack.enter_async_context(engine.connect())
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        stored = await eventstore.find_events(conn, [e.event_id for e in events if e.event_id is not None])
        answers: list[Appended | None] = [None] * len(events)
        errors: list[tuple[int, Problem | Refusal]] = list(known_errors)
        failed = {place for place, _ in errors}
        fresh: list[tuple[int, Envelope]] = []
        for index, event in enumerate(events):
            previous = stored.get(event.event_id) if event.event_id else None
            if previous is None:
                fresh.append((index, event))
            elif previous[1] == hashes[index]:
                answers[index] = Appended(row=_row(previous[0]), duplicate=True, stored=previous[0])
            else:
                detail = f"event {event.event_id} is stored with other content"
                errors.append((places[index], Problem(409, "event_id_conflict", detail)))
        decision = Decision(
            await load_view(conn, [e for _, e in fresh]), policies=policies, now=datetime.now(UTC), actor=actor
        )
        records: list[tuple[int, NewRecord]] = []
        for index, event in fresh:
            if places[index] in failed:
                continue
            try:
                decided = decide(decision, event, event_id=event.event_id or uuid4())
            except Refusal as refusal:
                errors.append((places[index], refusal))
                continue
            records.append((index, _record(decided, hashes[index])))
        if errors or schema_errors:
            errors.sort(key=lambda pair: pair[0])
            raise _batch_problem(errors, batch=batch, schema_errors=schema_errors)
        if records and committer is None:
            rows = await eventstore.append(conn, [record for _, record in records])
    if records and committer is not None:
        rows = await committer.append([record for _, record in records])
    for (index, _decided), row in zip(records, rows if records else []):
        answers[index] = Appended(row=row, duplicate=False)
    return answers  # type: ignore[return-value]


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


def _row(event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "global_position": event.global_position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "recorded_at": event.recorded_at,
    }
