"""Webhook subscriptions and deliveries: the tables (migration 0007), target hosts, signing, one attempt.

The worker that drives deliveries from the log is `services/ingest/webhook_worker.py`; the routes
are `services/ingest/webhooks_api.py`. Helpers here never commit: the caller owns the transaction.
"""

import asyncio
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from services.ingest.schemas import StoredEvent

EVENT_ID_HEADER = "X-Kaohe-Event-Id"
SIGNATURE_HEADER = "X-Kaohe-Signature"
WEBHOOKS_CHANNEL = "kaohe_webhooks"  # NOTIFY on subscription changes, so the worker notices at once
WORKER_LOCK_KEY = 0x6B616F6877  # one delivering worker per database
SUBSCRIPTION_COLUMNS = (
    "subscription_id, url, types, after_position, delivered_position, attempts, next_attempt_at, created_at"
)


# --- target hosts ---------------------------------------------------------------------------------


def allowed_hosts(setting: str) -> tuple[str, ...]:
    """`KAOHE_WEBHOOK_ALLOWED_HOSTS` as lower-case entries; ("*",) allows any host."""
    return tuple(entry.strip().lower().rstrip(".") for entry in setting.split(",") if entry.strip())


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for entry in hosts:
        if entry == "*" or entry == host:
            return True
        if entry.startswith("*.") and (host == entry[2:] or host.endswith(entry[1:])):
            return True
    return False


def url_problem(url: str) -> str | None:
    """Why a subscription URL is unusable, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "the URL must be http:// or https://"
    if not parts.hostname:
        return "the URL has no host"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "the URL contains whitespace or control characters"
    return None


# --- subscriptions --------------------------------------------------------------------------------


def _subscription(row: Any) -> dict[str, Any]:
    found = dict(row)
    found["types"] = list(found["types"])
    return found


async def create_subscription(
    conn, *, url: str, types: list[str], secret: str, after_position: int | None, actor: dict[str, Any]
) -> dict[str, Any]:
    """Store a subscription; without `after_position` it starts at the head of the log (read here)."""
    if after_position is None:
        after_position = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhooks.subscriptions
            (subscription_id, url, types, secret, after_position, delivered_position, created_by)
        VALUES ($1, $2, $3, $4, $5, $5, $6)
        RETURNING {SUBSCRIPTION_COLUMNS}
        """,
        uuid.uuid4(),
        url,
        types,
        secret,
        after_position,
        actor,
    )
    await conn.execute("SELECT pg_notify($1, $2)", WEBHOOKS_CHANNEL, str(row["subscription_id"]))
    return _subscription(row)


async def list_subscriptions(conn) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhooks.subscriptions ORDER BY created_at")
    return [_subscription(row) for row in rows]


async def delete_subscription(conn, subscription_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM webhooks.subscriptions WHERE subscription_id = $1 RETURNING true", subscription_id
    )
    if deleted:
        await conn.execute("SELECT pg_notify($1, $2)", WEBHOOKS_CHANNEL, str(subscription_id))
    return bool(deleted)


async def latest_deliveries(conn, subscription_id: uuid.UUID, *, limit: int) -> list[dict[str, Any]] | None:
    """The latest attempts, newest first; None for an unknown subscription."""
    if not await conn.fetchval("SELECT true FROM webhooks.subscriptions WHERE subscription_id = $1", subscription_id):
        return None
    rows = await conn.fetch(
        """
        SELECT event_id, global_position, attempt, status_code, error, at FROM webhooks.deliveries
        WHERE subscription_id = $1 ORDER BY delivery_id DESC LIMIT $2
        """,
        subscription_id,
        limit,
    )
    return [dict(row) for row in rows]


# --- one delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What the worker needs of a subscription to deliver its next event."""

    subscription_id: uuid.UUID
    url: str
    types: tuple[str, ...]
    secret: str
    delivered_position: int
    attempts: int
    wait_seconds: float  # until the next attempt is due (0 when due)


async def load_target(conn, subscription_id: uuid.UUID) -> Target | None:
    row = await conn.fetchrow(
        """
        SELECT subscription_id, url, types, secret, delivered_position, attempts,
               greatest(0, extract(epoch FROM next_attempt_at - clock_timestamp()))::float8 AS wait_seconds
        FROM webhooks.subscriptions WHERE subscription_id = $1
        """,
        subscription_id,
    )
    if row is None:
        return None
    return Target(**{**dict(row), "types": tuple(row["types"])})


async def next_event(conn, target: Target) -> tuple[int, dict[str, Any] | None]:
    """(head, the first subscribed event after the cursor up to head, or None).

    The head is read first: positions become visible in commit order (the append lock), so every
    event up to it is already visible and none can appear below it later. With no subscribed event
    up to the head, the worker may move the cursor to the head."""
    head = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
    row = await conn.fetchrow(
        """
        SELECT event_id, global_position, stream_id, stream_version, type, schema_version,
               occurred_at, recorded_at, actor, data, metadata
        FROM eventlog.events
        WHERE global_position > $1 AND global_position <= $2 AND (cardinality($3::text[]) = 0 OR type = ANY($3))
        ORDER BY global_position LIMIT 1
        """,
        target.delivered_position,
        head,
        list(target.types),
    )
    return head, (dict(row) if row else None)


def event_body(event: dict[str, Any]) -> bytes:
    """The event exactly as GET /v1/events shows it."""
    return orjson.dumps(StoredEvent.model_validate(event).model_dump(mode="json"))


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post_event(client: httpx.AsyncClient, target: Target, event: dict[str, Any], *, timeout: float) -> Outcome:
    """One attempt. The client never follows redirects: a 3xx is a failure like any other non-2xx."""
    body = event_body(event)
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(event["event_id"]),
        SIGNATURE_HEADER: signature(target.secret, body),
    }
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):  # the whole answer, not only each read, within `timeout`
            response = await client.post(target.url, content=body, headers=headers, timeout=timeout)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, None)
    if response.is_redirect:
        return Outcome(response.status_code, "redirect not followed")
    seconds = time.monotonic() - started
    return Outcome(response.status_code, f"HTTP {response.status_code} after {seconds:.1f} s")


async def record_attempt(
    conn,
    target: Target,
    *,
    event: dict[str, Any],
    outcome: Outcome,
    backoff_base: float,
    backoff_max: float,
) -> bool:
    """Write the attempt and move the cursor (on success) or schedule the retry, in the caller's
    transaction. False when the subscription is gone or its cursor moved meanwhile (another worker
    took over): then nothing is written and the caller re-reads."""
    attempt = target.attempts + 1
    if outcome.delivered:
        updated = await conn.fetchval(
            """
            UPDATE webhooks.subscriptions SET delivered_position = $3, attempts = 0,
                   next_attempt_at = clock_timestamp()
            WHERE subscription_id = $1 AND delivered_position = $2 RETURNING true
            """,
            target.subscription_id,
            target.delivered_position,
            event["global_position"],
        )
    else:
        # Exponential: base, 2·base, 4·base … capped (1 s base: 1, 2, 4 … 512, then every 600 s).
        delay = min(backoff_max, backoff_base * 2 ** min(target.attempts, 30))
        updated = await conn.fetchval(
            """
            UPDATE webhooks.subscriptions SET attempts = $3,
                   next_attempt_at = clock_timestamp() + make_interval(secs => $4)
            WHERE subscription_id = $1 AND delivered_position = $2 RETURNING true
            """,
            target.subscription_id,
            target.delivered_position,
            attempt,
            delay,
        )
    if not updated:
        return False
    await conn.execute(
        """
        INSERT INTO webhooks.deliveries (subscription_id, event_id, global_position, attempt, status_code, error)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        target.subscription_id,
        event["event_id"],
        event["global_position"],
        attempt,
        outcome.status_code,
        outcome.error,
    )
    return True


async def skip_to(conn, target: Target, position: int) -> bool:
    """Move the cursor over events the subscription does not want (nothing to record)."""
    return bool(
        await conn.fetchval(
            """
            UPDATE webhooks.subscriptions SET delivered_position = $3
            WHERE subscription_id = $1 AND delivered_position = $2 AND attempts = 0 RETURNING true
            """,
            target.subscription_id,
            target.delivered_position,
            position,
        )
    )


KEEP_DELIVERIES = 10_000  # attempts kept per subscription (the delivery log is for looking into problems)


async def prune_deliveries(conn, subscription_id: uuid.UUID, *, keep: int = KEEP_DELIVERIES) -> None:
    """Drop a subscription's attempts beyond the latest `keep`."""
    await conn.execute(
        """
        DELETE FROM webhooks.deliveries WHERE subscription_id = $1 AND delivery_id < (
            SELECT delivery_id FROM webhooks.deliveries WHERE subscription_id = $1
            ORDER BY delivery_id DESC OFFSET $2 LIMIT 1)
        """,
        subscription_id,
        keep - 1,
    )
