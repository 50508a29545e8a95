"""HTTP pieces every service uses: body size limits, request ids, the service skeleton."""

import asyncio
import json
import math
import uuid
from typing import Any

from starlette.datastructures import Headers

from shared.auth import principal_from_headers
from shared.observability import request_id_var
from shared.problems import Problem, note_problem, problem_response

MIB = 1024 * 1024


BODY_METHODS_EXEMPT = ("GET", "HEAD", "OPTIONS")
# A request refused before its body was read: the server closes the connection after the answer
# instead of reading (and discarding) the rest of the body.
CLOSE = {"Connection": "close"}
JSON_TYPES = ("application/json",)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Duplicate(f"duplicate key {key[:60]!r} in a JSON object")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def strict_json_problem(body: bytes) -> Problem | None:
    """None when `body` is strict JSON (RFC 8259): UTF-8, well formed, no NaN/Infinity, no number that
    overflows to infinity, no duplicate keys (which one would count — `event_id` included?); else 400."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Problem(400, "invalid_json", "the body is not UTF-8 (RFC 8259 JSON is UTF-8)")
    try:
        json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        return Problem(400, "invalid_json", "the body nests too deep")
    except json.JSONDecodeError as exc:
        # (also UTF-16 without a BOM: valid UTF-8 with NULs, which the route's parser would have
        # decoded as UTF-16 and accepted)
        return Problem(400, "invalid_json", f"the body is not JSON: {exc.msg} at character {exc.pos}")
    except ValueError as exc:
        return Problem(400, "invalid_json", f"the body is not strict JSON: {exc}")
    return None


def _settings(scope) -> Any:
    state = getattr(getattr(scope.get("app"), "state", None), "kaohe", None)
    return getattr(state, "settings", None)


class BodyLimit:
    """Guards every request that carries a body, before any route sees it:

    1. the key is checked before a byte of the body is read (a keyless client gets 401 and the
       connection closes with the body unread: no key, no memory held);
    2. a declared length over the path's limit is 413, and so is a chunked body once it passes it;
    3. the body must keep coming: `KAOHE_BODY_READ_TIMEOUT` between two reads and
       `KAOHE_BODY_TIMEOUT` for all of it, else 408 (a trickling client holds nothing for long);
    4. a JSON body must be strict JSON (`strict_json_problem`) and a body that is not JSON is 415.
    """

    def __init__(self, app, *, default_limit: int = MIB, limits: dict[str, int] | None = None):
        self.app = app
        self.default_limit = default_limit
        self.limits = limits or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in BODY_METHODS_EXEMPT:
            return await self.app(scope, receive, send)
        settings = _settings(scope)
        headers = Headers(scope=scope)
        if settings is not None:
            try:
                await principal_from_headers(scope["app"], headers, public=False)
            except Problem as refused:
                return await _answer(refused, scope, receive, send, headers=CLOSE)
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = headers.get("content-length")
        too_large = Problem(413, "payload_too_large", f"the request body is over {limit} bytes")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _answer(too_large, scope, receive, send, headers=CLOSE)
        content_type = headers.get("content-type")
        has_body = (declared is not None and declared != "0") or "chunked" in headers.get("transfer-encoding", "")
        if has_body and not _is_json(content_type or ""):
            unsupported = Problem(415, "unsupported_media_type", "send the body as application/json")
            return await _answer(unsupported, scope, receive, send, headers=CLOSE)
        # Read the body up front (it is at most `limit` bytes) so an oversized chunked body is refused
        # before any route sees a byte of it.
        per_read = settings.body_read_timeout if settings else 10.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (settings.body_timeout if settings else 60.0)
        chunks, size = [], 0
        while True:
            try:
                async with asyncio.timeout(max(min(per_read, deadline - loop.time()), 0.001)):
                    message = await receive()
            except TimeoutError:
                slow = Problem(408, "request_timeout", "the request body did not arrive in time")
                return await _answer(slow, scope, receive, send, headers=CLOSE)
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _answer(too_large, scope, receive, send, headers=CLOSE)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body and content_type is not None and _is_json(content_type):
            problem = await _strict(body)
            if problem is not None:
                return await _answer(problem, scope, receive, send)
        return await self.app(scope, replaying(body, receive), send)


async def _strict(body: bytes) -> Problem | None:
    # A 16 MiB batch takes a while to parse: off the event loop, so other requests keep moving.
    if len(body) > 256 * 1024:
        return await asyncio.to_thread(strict_json_problem, body)
    return strict_json_problem(body)


async def _answer(problem: Problem, scope, receive, send, *, headers: dict[str, str] | None = None) -> None:
    if headers:
        problem.headers = {**(problem.headers or {}), **headers}
    note_problem(scope, problem.code)
    await problem_response(problem)(scope, receive, send)


class RequestId:
    """Echo (or mint) `X-Request-ID` on every response and expose it on the scope for logs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_var.set(request_id)  # for the JSON log lines of this request

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        return await self.app(scope, receive, send_with_id)


def replaying(body: bytes, receive):
    """An ASGI `receive` that hands the app the body already read, then the connection's own messages."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
