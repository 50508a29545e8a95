"""Answer a dashboard's poll with 304 before routing, when its ETag is the current one.

The ranking routes already answer a matching `If-None-Match` without a query; this middleware
does the same before FastAPI solves the route's dependencies, which is most of what a 304 costs.
It only ever answers 304 for a caller the route itself would serve: anything else (no key where
one is needed, a key without the role, an ETag that is not current) goes on to the route.
"""

from starlette.requests import Request
from starlette.responses import Response

from shared.auth import PERMISSIONS, _authenticate
from shared.problems import Problem
from services.reporting.caching import CACHE_CONTROL, _matches, etag_for, request_digest

# Routes whose ETag is the plain request digest (no extra) and that need `read_rankings`.
FAST_PATHS = frozenset({"/v1/rankings/units", "/v1/rankings/officers"})


class NotModified:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in FAST_PATHS
                and await self._current(Request(scope))):
            return await self._reply(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _current(self, request: Request) -> bool:
        header = request.headers.get("if-none-match")
        watch = getattr(request.app.state, "position_watch", None)
        if not header or watch is None or watch.version is None:
            return False
        try:
            principal = await _authenticate(request, public=True)
        except Problem:
            return False
        if "read_rankings" not in PERMISSIONS[principal.role]:
            return False
        request.state.etag = etag_for(watch.version, request_digest(request))
        return _matches(header, request.state.etag)

    async def _reply(self, scope, receive, send):
        etag = scope["state"]["etag"]
        await Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})(scope, receive, send)
