"""Request and response models of the ingest API."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from shared.domain.events import NewEvent

MAX_BATCH = 1000


class AppendResult(BaseModel):
    event_id: UUID
    global_position: int
    stream_id: str
    stream_version: int
    recorded_at: datetime


class StoredEvent(BaseModel):
    event_id: UUID
    global_position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, Any] | None
    data: dict[str, Any]
    metadata: dict[str, Any]


class DuplicateResult(StoredEvent):
    duplicate: bool = Field(True, description="The event id was already stored with the same content.")


class BatchIn(BaseModel):
    events: Annotated[list[Any], Field(description=f"Up to {MAX_BATCH} events, each as for POST /v1/events.")]


class BatchResult(AppendResult):
    duplicate: bool = False


class BatchOut(BaseModel):
    results: list[BatchResult]


class EventsPage(BaseModel):
    events: list[StoredEvent]
    next_after: int
    head_position: int


class StreamOut(BaseModel):
    stream_id: str
    version: int
    events: list[StoredEvent]


__all__ = ["NewEvent", "AppendResult", "DuplicateResult", "BatchIn", "BatchOut", "EventsPage", "StreamOut"]
