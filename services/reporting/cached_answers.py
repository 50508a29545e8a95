"""Answer a dashboard's poll before routing when nothing has changed: 304 for a current ETag, or
the cached answer of the current projection version.

The ranking routes already do both without a query; this middleware does the same before FastAPI
solves the route's dependencies, which is most of what such an answer costs. It answers only a
caller the route itself would serve: anything else (no key where one is needed, a key without the
role, nothing cached for this version) goes on to the route, which decides as always.
"""

from starlette.requests import Request
from starlette.responses import Response

from services.reporting.caching import CACHE_CONTROL, _matches, etag_for, request_digest
from services.reporting.position_watch import version_position
from shared.auth import PERMISSIONS, _authenticate
from shared.problems import Problem
from shared.read_position import POSITION_HEADER

# Routes whose ETag is the plain request digest (no extra) and that need `read_rankings`.
FAST_PATHS = frozenset({"/v1/rankings/units", "/v1/rankings/officers"})


class CachedAnswers:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in FAST_PATHS:
            response = await self._answer(Request(scope))
            if response is not None:
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _answer(self, request: Request) -> Response | None:
        state = request.app.state
        watch = getattr(state, "position_watch", None)
        version = watch.version if watch is not None else None
        if version is None:
            return None
        try:
            principal = await _authenticate(request, public=True)
        except Problem:
            return None
        if "read_rankings" not in PERMISSIONS[principal.role]:
            return None
        position = version_position(version)
        wanted = request.query_params.get("min_position")
        if wanted is not None and not (wanted.isascii() and wanted.isdigit() and int(wanted) <= (position or 0)):
            return None  # the route validates it, or waits for the position
        digest = request_digest(request)
        headers = {"ETag": etag_for(version, digest), "Cache-Control": CACHE_CONTROL, POSITION_HEADER: str(position)}
        if _matches(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        cached = state.answer_cache.get(digest, version)
        if cached is None:
            return None
        return Response(cached[0], media_type=cached[1], headers=headers)
