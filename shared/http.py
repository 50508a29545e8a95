"""HTTP pieces every service uses: body size limits, request ids, the service skeleton."""

import uuid

from shared.observability import request_id_var
from shared.problems import Problem, note_problem, problem_response

MIB = 1024 * 1024


class BodyLimit:
    """Refuse a request body over its path's limit with 413, before the body is parsed."""

    def __init__(self, app, *, default_limit: int = MIB, limits: dict[str, int] | None = None):
        self.app = app
        self.default_limit = default_limit
        self.limits = limits or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = dict(scope["headers"]).get(b"content-length")
        too_large = Problem(413, "payload_too_large", f"the request body is over {limit} bytes")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            note_problem(scope, too_large.code)
            return await problem_response(too_large)(scope, receive, send)
        # Read the body up front (it is at most `limit` bytes) so an oversized chunked body is refused
        # before any route sees a byte of it.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                note_problem(scope, too_large.code)
                return await problem_response(too_large)(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


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
