"""ETags and an answer cache keyed by the projection version, for pollers.

The ETag is `"<generation>:<position>|<digest of the request>"`. With the version the position
watch already knows, a matching `If-None-Match` gets a 304 before any query runs; a repeated
question at an unchanged version is served from memory.
"""

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CACHE_ENTRIES = 256
CACHE_CONTROL = "no-cache"


def request_digest(request: Request, extra: str = "") -> str:
    items = sorted(request.query_params.multi_items())
    raw = f"{request.url.path}?{items}#{extra}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def etag_for(version: str, digest: str) -> str:
    return f'"{version}|{digest}"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return etag in candidates or "*" in candidates


class AnswerCache:
    def __init__(self) -> None:
        self._answers: OrderedDict[str, tuple[str, bytes, str]] = OrderedDict()

    def get(self, digest: str, version: str | None) -> tuple[bytes, str] | None:
        found = self._answers.get(digest)
        if found is None or version is None or found[0] != version:
            return None
        self._answers.move_to_end(digest)
        return found[1], found[2]

    def put(self, digest: str, version: str, body: bytes, media_type: str) -> None:
        self._answers[digest] = (version, body, media_type)
        self._answers.move_to_end(digest)
        while len(self._answers) > CACHE_ENTRIES:
            self._answers.popitem(last=False)


async def read_version(conn: AsyncConnection) -> str:
    """`<generation>:<position>` of the projection, through scoring's read contract (migration 0009)."""
    return (await conn.execute(text("SELECT scoring.projection_version()"))).scalar_one()


Renderer = Callable[[AsyncConnection], Awaitable[tuple[bytes, str]]]


async def conditional_answer(
    request: Request, render: Renderer, *, headers: dict[str, str] | None = None, digest_extra: str = ""
) -> Response:
    """304 when the client has the current answer; else the cached or freshly rendered answer.

    `digest_extra` is whatever else the answer depends on besides the path, the query and the
    projection (the dashboard's "current quarter" depends on the clock)."""
    app_state = request.app.state
    known = app_state.position_watch.version
    digest = request_digest(request, digest_extra)
    extra_headers = {"Cache-Control": CACHE_CONTROL, **(headers or {})}
    if known is not None:
        etag = etag_for(known, digest)
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag, **extra_headers})
        cached = app_state.answer_cache.get(digest, known)
        if cached is not None:
            return Response(cached[0], media_type=cached[1], headers={"ETag": etag, **extra_headers})
    engine = app_state.kaohe.engine
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            version = await read_version(conn)
            body, media_type = await render(conn)
    app_state.answer_cache.put(digest, version, body, media_type)
    etag = etag_for(version, digest)
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, **extra_headers})
    return Response(body, media_type=media_type, headers={"ETag": etag, **extra_headers})


def json_bytes(body: Any) -> tuple[bytes, str]:
    return orjson.dumps(body), "application/json"


def static_answer(request: Request, body: bytes, media_type: str) -> Response:
    """A file the service ships: its ETag is a digest of its bytes, so it needs no database."""
    etag = f'"{hashlib.blake2b(body, digest_size=8).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
