"""Append one event or a batch: what can be checked without the database, then the group committer
(services/ingest/committer.py) reads, decides and appends in one group with the requests around it."""

from typing import Any

import orjson

from services.ingest.committer import Appended, GroupCommitter, batch_problem
from shared.domain.decide import Refusal
from shared.domain.events import METADATA_MAX_BYTES, Envelope, stored_data
from shared.eventstore import content_hash
from shared.problems import Problem

__all__ = ["Appended", "append_events"]


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


async def append_events(
    committer: GroupCommitter,
    events: list[Envelope],
    *,
    actor: dict[str, Any] | None,
    batch: bool,
    indexes: list[int] | None = None,
    schema_errors: list[dict[str, Any]] = (),  # type: ignore[assignment]
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
        raise batch_problem(errors, batch=False)
    failed = {place for place, _ in errors}
    hashes = [
        b"" if place in failed else content_hash(e.type, e.occurred_at, stored_data(e), e.metadata)  # type: ignore[attr-defined]
        for place, e in zip(places, events)
    ]
    return await committer.submit(
        events, hashes, places=places, errors=errors, schema_errors=list(schema_errors), actor=actor, batch=batch
    )
