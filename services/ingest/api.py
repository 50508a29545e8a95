"""Routes of the ingest service: append events, read the log."""

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from services.ingest.appender import append_events
from services.ingest.schemas import (
    MAX_BATCH,
    AppendResult,
    BatchIn,
    BatchOut,
    DuplicateResult,
    EventsPage,
    NewEvent,
    StreamOut,
)
from shared import eventstore
from shared.auth import Principal, require
from shared.domain.events import EVENT_TYPES, PLATFORM_TYPES, new_event_adapter
from shared.params import MAX_POSITION
from shared.problems import Problem, validation_errors
from shared.service import StateDep

router = APIRouter(prefix="/v1", tags=["events"])
STREAM_ID = r"^[A-Za-z0-9_.\-]{1,80}$"  # `unit-{id}`, `item-{id}`, `period-2026-03`: ids are 1-64 such characters

Appender = Annotated[Principal, require("append")]
LogReader = Annotated[Principal, require("read_log")]


def _authorize_types(principal: Principal, events: list[Any]) -> None:
    for event in events:
        principal.check_append(event.type, getattr(event.data, "unit_id", None))


def _parse_events(raw: list[Any]) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """The batch's events that pass the schema, their places in the batch, and the errors of the rest."""
    if len(raw) > MAX_BATCH:
        raise Problem(422, "batch_too_large", f"a batch holds at most {MAX_BATCH} events, not {len(raw)}")
    if not raw:
        raise Problem(
            422,
            "validation_error",
            "a batch needs at least one event",
            errors=[{"loc": ["events"], "msg": "empty batch"}],
        )
    events, places, errors = [], [], []
    for index, item in enumerate(raw):
        try:
            events.append(new_event_adapter.validate_python(item))
            places.append(index)
        except ValidationError as exc:
            tagless = any(e["type"] in ("union_tag_invalid", "union_tag_not_found") for e in exc.errors())
            for entry in validation_errors(exc.errors(), index=index):
                entry["code"] = "unknown_event_type" if tagless else "validation_error"
                errors.append(entry)
    return events, places, errors


@router.post(
    "/events",
    status_code=201,
    response_model=AppendResult,
    responses={
        200: {"model": DuplicateResult, "description": "Already stored with the same content"},
        409: {"description": "event_id_conflict, wrong_expected_version or a state conflict"},
        413: {"description": "Body over 1 MiB"},
        422: {"description": "Invalid event"},
    },
    summary="Append one event",
)
async def post_event(event: Annotated[NewEvent, Body()], request: Request, state: StateDep, principal: Appender):
    """Append one event; a retry with the same `event_id` and content answers 200 `duplicate`."""
    _authorize_types(principal, [event])
    return await append_one(request.app, event, principal)


async def append_one(app: Any, event: Any, principal: Principal) -> Response:
    """The answer to one valid event the caller may append (this route's, and `FastAppend`'s)."""
    [appended] = await append_events(app.state.committer, [event], actor=principal.actor, batch=False)
    app.state.metrics.appended([event.type] if not appended.duplicate else [])
    if appended.duplicate:
        body = DuplicateResult(**appended.stored.model_dump(), duplicate=True)
        return JSONResponse(body.model_dump(mode="json"), status_code=200)
    return _json(_result(appended.row), 201)


@router.post(
    "/events/batch",
    status_code=201,
    response_model=BatchOut,
    responses={
        200: {"model": BatchOut, "description": "Every event was already stored"},
        409: {"description": "A conflict in one of the events (`errors` carry its `index`); nothing stored"},
    },
    summary="Append up to 1000 events, all or nothing",
)
async def post_batch(batch: BatchIn, request: Request, state: StateDep, principal: Appender):
    """Append a batch atomically; a bad event refuses the whole batch with its `index`."""
    events, places, schema_errors = _parse_events(batch.events)
    _authorize_types(principal, events)
    appended = await append_events(
        request.app.state.committer,
        events,
        actor=principal.actor,
        batch=True,
        indexes=places,
        schema_errors=schema_errors,
    )
    request.app.state.metrics.appended(e.type for e, a in zip(events, appended) if not a.duplicate)
    status = 200 if all(a.duplicate for a in appended) else 201
    return _json({"results": [_result(a.row, a.duplicate) for a in appended]}, status)


def _result(row: tuple, duplicate: bool | None = None) -> dict[str, Any]:
    """An AppendResult (BatchResult with `duplicate`) as JSON-ready values, from the committer's row."""
    event_id, position, stream_id, version, recorded_at = row
    result = {
        "event_id": event_id,
        "global_position": position,
        "stream_id": stream_id,
        "stream_version": version,
        "recorded_at": recorded_at,
    }
    if duplicate is not None:
        result["duplicate"] = duplicate
    return result


def _json(content: Any, status: int) -> Response:
    # orjson writes UUIDs and datetimes itself; OPT_UTC_Z gives pydantic's `Z` for UTC.
    return Response(orjson.dumps(content, option=orjson.OPT_UTC_Z), status_code=status, media_type="application/json")


@router.get("/events", response_model=EventsPage, summary="Read the log in global order")
async def get_events(
    state: StateDep,
    _principal: LogReader,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z.\-]{0,63}$", description=f"one of {', '.join(EVENT_TYPES)}")
    ] = None,
    stream: Annotated[str | None, Query(pattern=STREAM_ID)] = None,
) -> EventsPage:
    async with state.engine.connect() as conn:
        events = await eventstore.read_all(conn, after=after, limit=limit, type_name=type, stream_id=stream)
        head = await eventstore.head_position(conn)
    next_after = events[-1].global_position if events else max(after, 0)
    return EventsPage(events=[e.model_dump() for e in events], next_after=next_after, head_position=head)


@router.get(
    "/streams/{stream_id}",
    response_model=StreamOut,
    summary="One stream in version order",
    responses={404: {"description": "Unknown stream"}},
)
async def get_stream(stream_id: str, state: StateDep, _principal: LogReader) -> StreamOut:
    if not re.fullmatch(STREAM_ID, stream_id):  # no stream has such an id (nor a NUL to send PostgreSQL)
        raise Problem(404, "unknown_stream", "no stream has that id")
    async with state.engine.connect() as conn:
        events = await eventstore.read_stream(conn, stream_id)
    if not events:
        raise Problem(404, "unknown_stream", f"stream {stream_id} has no events")
    return StreamOut(stream_id=stream_id, version=events[-1].stream_version, events=[e.model_dump() for e in events])


__all__ = ["router", "PLATFORM_TYPES"]
