"""The webhook worker: delivers the log to subscriptions, driven from the log itself (the outbox shape).

One worker per database delivers: it holds a session-level advisory lock on its own connection, so
when that connection dies the lock goes with it and another ingest instance takes over (the same
shape as the projector). The leader LISTENs for appends and for subscription changes, with a slow
poll as a fallback, and runs one lane per subscription: a lane sends its subscription's events in
log order, one at a time, and moves the cursor only in the transaction that records the attempt.

At least once, not exactly once: an event can be sent again when the worker stops (or loses its
lock) between the receiver's 2xx and the commit of the cursor; receivers deduplicate by
`X-Kaohe-Event-Id`. A failing event is retried with exponential backoff (base `KAOHE_WEBHOOK_
BACKOFF_SECONDS`, at most `KAOHE_WEBHOOK_MAX_BACKOFF_SECONDS` apart) for as long as the
subscription exists — never skipped, since the receiver was promised log order; the events behind
it wait. The attempt count and the time of the next attempt are stored, so a restart keeps them.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from services.ingest import webhooks
from shared.db import connect_raw
from shared.eventstore import EVENTS_CHANNEL
from shared.settings import Settings

log = logging.getLogger("kaohe.webhooks")
PRUNE_EVERY = 1000


@dataclass
class WorkerStatus:
    role: str = "starting"  # starting | standby | delivering
    error: str | None = None
    delivered: int = 0
    failed: int = 0


@dataclass
class Lane:
    subscription_id: uuid.UUID
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    recorded: int = 0  # attempts recorded by this lane (every PRUNE_EVERY, old ones are dropped)


class WebhookWorker:
    """Runs until cancelled: standby until it holds the lock, then deliver."""

    def __init__(self, *, url: str, role: str | None, pool, settings: Settings):
        self.url = url
        self.role = role
        self.pool = pool
        self.hosts = webhooks.allowed_hosts(settings.webhook_allowed_hosts)
        self.timeout = settings.webhook_timeout_seconds
        self.backoff_base = settings.webhook_backoff_seconds
        self.backoff_max = settings.webhook_max_backoff_seconds
        self.poll_seconds = settings.webhook_poll_seconds
        self.status = WorkerStatus()
        self.lanes: dict[uuid.UUID, Lane] = {}
        self._refresh = asyncio.Event()

    async def run(self) -> None:
        while True:
            conn = None
            try:
                conn = await connect_raw(self.url, role=self.role)
                await self._lead(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.role, self.status.error = "starting", f"{type(exc).__name__}: {exc}"
                log.warning("webhook worker lost its connection (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                await self._stop_lanes()
                if conn is not None:
                    conn.terminate()

    async def _lead(self, conn) -> None:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", webhooks.WORKER_LOCK_KEY):
            self.status.role = "standby"
            await asyncio.sleep(min(1.0, self.poll_seconds))
        await conn.add_listener(EVENTS_CHANNEL, lambda *_: self._wake_lanes())
        await conn.add_listener(webhooks.WEBHOOKS_CHANNEL, lambda *_: self._refresh.set())
        self.status.role, self.status.error = "delivering", None
        # No proxies from the environment and no redirects: a delivery goes to the subscribed host only.
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
            while True:
                self._refresh.clear()
                await self._sync_lanes(conn, client)
                try:
                    await asyncio.wait_for(self._refresh.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    await conn.execute("SELECT 1")  # the slow poll; also notices a dead lock connection
                    self._wake_lanes()

    def _wake_lanes(self) -> None:
        for lane in self.lanes.values():
            lane.wake.set()

    async def _sync_lanes(self, conn, client: httpx.AsyncClient) -> None:
        """A lane for every subscription (restarting one that failed), none for a deleted one."""
        # On the leader's own connection: an instance with no subscriptions holds no pool connection.
        ids = {row["subscription_id"] for row in await conn.fetch("SELECT subscription_id FROM webhooks.subscriptions")}
        for gone in set(self.lanes) - ids:
            stopped = self.lanes.pop(gone)
            if stopped.task is not None:
                stopped.task.cancel()
        for subscription_id in ids:
            lane = self.lanes.get(subscription_id)
            if lane is not None and lane.task is not None and not lane.task.done():
                continue
            if lane is not None and lane.task is not None and not lane.task.cancelled() and lane.task.exception():
                log.warning("webhook lane %s failed (%r); restarting", subscription_id, lane.task.exception())
            lane = Lane(subscription_id)
            lane.task = asyncio.create_task(self._deliver(lane, client), name=f"webhook-{subscription_id}")
            self.lanes[subscription_id] = lane

    async def _stop_lanes(self) -> None:
        lanes, self.lanes = list(self.lanes.values()), {}
        tasks = [lane.task for lane in lanes if lane.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _deliver(self, lane: Lane, client: httpx.AsyncClient) -> None:
        """One subscription's events, in log order, one at a time; returns when it is deleted."""
        while True:
            lane.wake.clear()  # before reading, so an append during the read is not missed
            async with self.pool.acquire() as conn:
                target = await webhooks.load_target(conn, lane.subscription_id)
                if target is None:
                    return
                if target.wait_seconds > 0:  # a retry not yet due; appends do not hurry it
                    event = None
                else:
                    head, event = await webhooks.next_event(conn, target)
                    if event is None and head > target.delivered_position and target.attempts == 0:
                        await webhooks.skip_to(conn, target, head)
            if target.wait_seconds > 0:
                await asyncio.sleep(target.wait_seconds)
                continue
            if event is None:
                try:
                    await asyncio.wait_for(lane.wake.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass
                continue
            outcome = await self._attempt(client, target, event)
            async with self.pool.acquire() as conn, conn.transaction():
                recorded = await webhooks.record_attempt(
                    conn,
                    target,
                    event=event,
                    outcome=outcome,
                    backoff_base=self.backoff_base,
                    backoff_max=self.backoff_max,
                )
            lane.recorded += recorded
            if lane.recorded % PRUNE_EVERY == 0 and recorded:
                async with self.pool.acquire() as conn:
                    await webhooks.prune_deliveries(conn, lane.subscription_id)
            if recorded and outcome.delivered:
                self.status.delivered += 1
            elif recorded:
                self.status.failed += 1
                log.warning(
                    "webhook delivery failed",
                    extra={
                        "subscription_id": str(target.subscription_id),
                        "host": urlsplit(target.url).hostname,
                        "global_position": event["global_position"],
                        "attempt": target.attempts + 1,
                        "status_code": outcome.status_code,
                        "error": outcome.error,
                    },
                )

    async def _attempt(self, client: httpx.AsyncClient, target: webhooks.Target, event: dict) -> webhooks.Outcome:
        # Checked again at each attempt: the operator may have narrowed the setting since the
        # subscription was made; the attempt then fails (and is retried) until it is widened again.
        if not webhooks.host_allowed(target.url, self.hosts):
            return webhooks.Outcome(None, "host not allowed by KAOHE_WEBHOOK_ALLOWED_HOSTS")
        return await webhooks.post_event(client, target, event, timeout=self.timeout)
