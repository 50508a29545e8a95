"""Request and response models of the ingest API."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from shared.domain.events import EVENT_TYPES, NewEvent
from shared.params import MAX_POSITION

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


class SubscriptionIn(BaseModel):
    url: Annotated[
        str, Field(min_length=1, max_length=2048, description="http:// or https:// URL events are POSTed to")
    ]
    types: Annotated[
        list[str], Field(max_length=len(EVENT_TYPES), description="Event types to deliver; empty = every type")
    ] = []
    secret: Annotated[
        str,
        Field(
            min_length=16,
            max_length=512,
            description="Signs each body (X-Kaohe-Signature: sha256=<hex HMAC-SHA256>); never returned",
        ),
    ]
    after_position: Annotated[
        int | None, Field(ge=0, le=MAX_POSITION, description="Deliver events after this position; default: the head")
    ] = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from services.ingest.webhooks import url_problem

        if problem := url_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
        return list(dict.fromkeys(value))


class SubscriptionOut(BaseModel):
    subscription_id: UUID
    url: str
    types: list[str]
    after_position: int


class SubscriptionState(SubscriptionOut):
    delivered_position: int = Field(description="The last position delivered (or passed over: not a subscribed type)")
    attempts: int = Field(description="Failed attempts so far on the event after `delivered_position`")
    next_attempt_at: datetime
    created_at: datetime


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionState]


class DeliveryOut(BaseModel):
    event_id: UUID
    global_position: int
    attempt: int
    status_code: int | None = Field(description="The receiver's HTTP status; null when it did not answer")
    error: str | None
    at: datetime


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


__all__ = ["NewEvent", "AppendResult", "DuplicateResult", "BatchIn", "BatchOut", "EventsPage", "StreamOut"]
