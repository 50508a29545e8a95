"""Answer `POST /v1/events` before routing when the request is plainly good.

FastAPI's routing, its dependencies (state, key, role) and its body parsing (stdlib JSON, then
pydantic over Python objects) cost more than the append itself. This middleware sits inside
`shared.http.BodyLimit`, so the key, the size and strict JSON were checked already; it checks the
role, validates the bytes in one pass (`validate_json`) and hands the event to the route's own
`append_one`, so a stored event, a repeat and a refusal by the rules get the route's answers.
Anything it is not sure of (another content type, a query string, a role without `append`, an
event the schema or the caller's role refuses) goes on to the route with the body, which answers
as always: every refusal before the committer is the route's own.
"""

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import Headers

from services.ingest.api import append_one, post_event, router
from shared.auth import PERMISSIONS, Principal, principal_from_headers
from shared.domain.events import new_event_adapter
from shared.http import replaying
from shared.problems import Problem, note_problem, problem_response

PATH = "/v1/events"
# The route it answers for, as routing would put it on the scope (for the metrics and the access log).
ROUTE = next(route for route in router.routes if getattr(route, "endpoint", None) is post_event)


class FastAppend:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH or scope["query_string"]:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        principal = await _appender(scope, headers)
        if principal is None:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:  # (BodyLimit has read the body and hands it over in one message)
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        event = _event(body, principal)
        if event is None:
            return await self.app(scope, replaying(body, receive), send)
        scope["route"] = ROUTE
        try:
            response = await append_one(scope["app"], event, principal)
        except Problem as refused:  # rendered as the app's Problem handler renders it
            note_problem(scope, refused.code)
            response = problem_response(refused, headers)
        await response(scope, receive, send)


async def _appender(scope, headers: Headers) -> Principal | None:
    """The caller, when the body is declared plain JSON and the caller may append; else None."""
    if headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
        return None
    try:
        principal = await principal_from_headers(scope["app"], headers, public=False)
    except Problem:
        return None
    return principal if "append" in PERMISSIONS[principal.role] else None


def _event(body: bytes, principal: Principal) -> Any:
    """The event, when it passes the schema and the caller may append its type; else None."""
    try:
        event = new_event_adapter.validate_json(body)
        principal.check_append(event.type, getattr(event.data, "unit_id", None))
    except (ValidationError, Problem):
        return None
    return event
