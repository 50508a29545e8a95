"""Append one event or a batch: idempotency, checks, then the append, all in one transaction."""

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from asyncpg.exceptions import UniqueViolationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.checks import Checker, Refused, load_view
from services.ingest.committer import GroupCommitter
from shared import eventstore
from shared.domain.events import METADATA_MAX_BYTES, Envelope, stored_data
from shared.domain.policy import PolicySet
from shared.eventstore import content_hash
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


def _batch_problem(errors: list[tuple[int, Problem]], *, batch: bool) -> Problem:
    first = errors[0][1]
    if not batch:
        return first
    return Problem(
        first.status,
        first.code,
        f"event {errors[0][0]}: {first.detail}",
        errors=[{"index": i, "loc": ["events", i], "msg": p.detail, "code": p.code} for i, p in errors],
    )


async def append_events(
    engine: AsyncEngine,
    events: list[Envelope],
    *,
    policies: PolicySet,
    zone: ZoneInfo,
    actor: dict[str, Any] | None,
    batch: bool,
    committer: GroupCommitter | None = None,
) -> list[Appended]:
    """Append all events or none. A repeat of a stored event id with the same content is a duplicate."""
    errors: list[tuple[int, Problem]] = []
    for index, event in enumerate(events):
        if (message := _metadata_problem(event)) is not None:
            code = "metadata_too_large" if "bytes" in message else "validation_error"
            errors.append((index, Problem(422, code, message)))
    seen_ids = set()
    for index, event in enumerate(events):
        if event.event_id is not None and event.event_id in seen_ids:
            errors.append(
                (
                    index,
                    Problem(
                        422, "duplicate_event_id_in_batch", f"event_id {event.event_id} appears earlier in the batch"
                    ),
                )
            )
        seen_ids.add(event.event_id)
    if errors:
        errors.sort(key=lambda pair: pair[0])
        raise _batch_problem(errors, batch=batch)
    hashes = [content_hash(e.type, e.occurred_at, stored_data(e), e.metadata) for e in events]  # type: ignore[attr-defined]

    for _attempt in range(MAX_ATTEMPTS):
        try:
            return await _append_once(
                engine, events, hashes, policies=policies, zone=zone, actor=actor, batch=batch, committer=committer
            )
        except IntegrityError as exc:
            # Another writer took the same stream version or event id between our read and our
            # insert; reading again turns that into a duplicate, a conflict or a clean append.
            if getattr(exc.orig, "sqlstate", None) != UniqueViolationError.sqlstate:
                raise
    raise Problem(409, "concurrent_append", "the streams kept changing; retry the request")


async def _append_once(engine, events, hashes, *, policies, zone, actor, batch, committer) -> list[Appended]:
    """Check against what is stored, then append: with the group committer when given (its own
    transaction; a race surfaces as IntegrityError), else in the transaction that checked."""
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
        errors: list[tuple[int, Problem]] = []
        fresh: list[tuple[int, Envelope]] = []
        for index, event in enumerate(events):
            previous = stored.get(event.event_id) if event.event_id else None
            if previous is None:
                fresh.append((index, event))
            elif previous[1] == hashes[index]:
                answers[index] = Appended(row=_row(previous[0]), duplicate=True, stored=previous[0])
            else:
                errors.append(
                    (index, Problem(409, "event_id_conflict", f"event {event.event_id} is stored with other content"))
                )
        checker = Checker(
            await load_view(conn, [e for _, e in fresh]),
            policies=policies,
            zone=zone,
            now=datetime.now(UTC),
            actor=actor,
        )
        records = []
        for index, event in fresh:
            try:
                records.append((index, checker.accept(event, hashes[index])))
            except Refused as refusal:
                errors.append((index, refusal))
        if errors:
            errors.sort(key=lambda pair: pair[0])
            raise _batch_problem(errors, batch=batch)
        if records and committer is None:
            rows = await eventstore.append(conn, [record for _, record in records])
    if records and committer is not None:
        rows = await committer.append([record for _, record in records])
    for (index, _record), row in zip(records, rows if records else []):
        answers[index] = Appended(row=row, duplicate=False)
    return answers  # type: ignore[return-value]


def _row(event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "global_position": event.global_position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "recorded_at": event.recorded_at,
    }
