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

from services.reporting.position_watch import version_position
from shared.read_position import POSITION_HEADER, read_projection

CACHE_ENTRIES = 256
CACHE_CONTROL = "no-cache"


# Not part of what the answer is: `min_position` only says how fresh it must be.
NOT_IN_DIGEST = frozenset({"min_position"})


def request_digest(request: Request, extra: str = "") -> str:
    items = sorted((key, value) for key, value in request.query_params.multi_items() if key not in NOT_IN_DIGEST)
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


async def read_schema(conn: AsyncConnection) -> str:
    """The active generation, through scoring's read contract (`scoring.projection_version()`, 0009)."""
    return (await conn.execute(text("SELECT split_part(scoring.projection_version(), ':', 1)"))).scalar_one()


Renderer = Callable[[AsyncConnection], Awaitable[tuple[bytes, str]]]


async def conditional_answer(
    request: Request,
    render: Renderer,
    *,
    headers: dict[str, str] | None = None,
    digest_extra: str = "",
    min_position: int | None = None,
) -> Response:
    """304 when the client has the current answer; else the cached or freshly rendered answer.

    `digest_extra` is whatever else the answer depends on besides the path, the query and the
    projection (the dashboard's "current quarter" depends on the clock). With `min_position`, only a
    version at or past it answers (the position watch's, else a snapshot waited for, else 503)."""
    app_state = request.app.state
    known = app_state.position_watch.version
    digest = request_digest(request, digest_extra)
    extra_headers = {"Cache-Control": CACHE_CONTROL, **(headers or {})}
    known_position = version_position(known)
    if known is not None and known_position is not None and (min_position is None or known_position >= min_position):
        etag = etag_for(known, digest)
        at = {"ETag": etag, POSITION_HEADER: str(known_position), **extra_headers}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=at)
        cached = app_state.answer_cache.get(digest, known)
        if cached is not None:
            return Response(cached[0], media_type=cached[1], headers=at)

    async def answer(conn: AsyncConnection) -> tuple[bytes, str, str]:
        body, media_type = await render(conn)
        return body, media_type, await read_schema(conn)  # the version last (read_projection says why)

    (body, media_type, schema), position = await read_projection(
        app_state.kaohe.reads, min_position, answer, primary=app_state.kaohe.engine
    )
    version = f"{schema}:{position}"
    app_state.answer_cache.put(digest, version, body, media_type)
    etag = etag_for(version, digest)
    at = {"ETag": etag, POSITION_HEADER: str(position), **extra_headers}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=at)
    return Response(body, media_type=media_type, headers=at)


def json_bytes(body: Any) -> tuple[bytes, str]:
    return orjson.dumps(body), "application/json"


def static_answer(request: Request, body: bytes, media_type: str) -> Response:
    """A file the service ships: its ETag is a digest of its bytes, so it needs no database."""
    etag = f'"{hashlib.blake2b(body, digest_size=8).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
