"""Pushed rankings (`GET /v1/rankings/units/stream`): server-sent events fed by the position watch.

One feed per (period, kind) that someone is listening to: it renders the ranking once per change of
the projection (at most once per `MIN_INTERVAL`) and hands the same encoded event to every client,
so a thousand open dashboards cost one query per change, not a thousand, and no database connection
of their own. The feed waits on the position watch (one LISTEN connection for the whole process).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sse_starlette.event import ServerSentEvent

from services.reporting.position_watch import PositionWatch
from shared.domain.periods import Period

log = logging.getLogger("kaohe.reporting")
STREAM_PATH = "/v1/rankings/units/stream"
MIN_INTERVAL = 1.0  # seconds between two events of one feed
RECONNECT_MS = 5000  # what EventSource waits before reconnecting after a drop

FeedKey = tuple[str, str | None]  # (period label, kind)
Render = Callable[[AsyncConnection, Period, str | None], Awaitable[bytes]]


@dataclass
class Feed:
    """The latest ranking of one (period, kind), encoded once as a server-sent event."""

    message: bytes | None = None
    body: bytes | None = None
    listeners: int = 0
    task: asyncio.Task | None = None
    _published: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, body: bytes) -> None:
        self.body = body
        self.message = ServerSentEvent(data=body.decode(), event="ranking", retry=RECONNECT_MS).encode()
        published, self._published = self._published, asyncio.Event()
        published.set()

    async def next(self) -> None:
        """Until the next publish."""
        await self._published.wait()

    async def events(self) -> AsyncIterator[bytes]:
        """The current ranking at once (as soon as there is one), then each change; a slow client
        skips to the latest rather than queueing the ones in between."""
        sent = None
        while True:
            if self.message is not None and self.message is not sent:
                sent = self.message
                yield sent
            await self.next()


class RankingFeeds:
    def __init__(
        self, *, engine: AsyncEngine, watch: PositionWatch, render: Render, min_interval: float = MIN_INTERVAL
    ):
        self.engine = engine
        self.watch = watch
        self.render = render
        self.min_interval = min_interval
        self.feeds: dict[FeedKey, Feed] = {}

    @contextlib.asynccontextmanager
    async def listen(self, period: Period, kind: str | None) -> AsyncIterator[Feed]:
        key = (period.label, kind)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = Feed()
            feed.task = asyncio.create_task(self._follow(feed, period, kind), name=f"ranking-feed-{key}")
        feed.listeners += 1
        try:
            yield feed
        finally:
            feed.listeners -= 1
            if feed.listeners == 0 and self.feeds.get(key) is feed:
                del self.feeds[key]
                if feed.task is not None:
                    feed.task.cancel()

    async def close(self) -> None:
        feeds, self.feeds = list(self.feeds.values()), {}
        tasks = [feed.task for feed in feeds if feed.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _follow(self, feed: Feed, period: Period, kind: str | None) -> None:
        loop = asyncio.get_running_loop()
        rendered_at = float("-inf")
        seen: str | None = None
        while True:
            await self._changed_from(seen)
            pause = rendered_at + self.min_interval - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)  # changes meanwhile are folded into one event
            seen = self.watch.version
            try:
                body = await self._render(period, kind)
            except Exception as exc:  # the database away: keep the clients, try again shortly
                log.warning("ranking stream could not render %s (%s)", period.label, exc)
                seen = None
                await asyncio.sleep(1.0)
                continue
            rendered_at = loop.time()
            if body != feed.body:
                feed.publish(body)

    async def _changed_from(self, version: str | None) -> None:
        watch = self.watch
        if version is None and watch.version is not None:
            return
        async with watch.changed:
            await watch.changed.wait_for(lambda: watch.version is not None and watch.version != version)

    async def _render(self, period: Period, kind: str | None) -> bytes:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                return await self.render(conn, period, kind)


class StreamToken:
    """`?access_token=KEY` on the stream only, as the bearer key (EventSource cannot send headers).

    The parameter is moved into the Authorization header and taken out of the query string before
    anything else sees the request, so no log line (ours or the server's access log, which read the
    same scope) ever holds the key."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == STREAM_PATH and b"access_token" in scope["query_string"]:
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            tokens = [value for name, value in pairs if name == "access_token"]
            scope["query_string"] = urlencode([(n, v) for n, v in pairs if n != "access_token"]).encode("latin-1")
            has_header = any(name == b"authorization" for name, _ in scope["headers"])
            if tokens and tokens[-1] and not has_header:
                scope["headers"] = [*scope["headers"], (b"authorization", f"Bearer {tokens[-1]}".encode("latin-1"))]
        return await self.app(scope, receive, send)
