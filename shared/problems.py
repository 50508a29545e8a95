"""RFC 9457 problem details: every 4xx/5xx answer is `application/problem+json` with a stable `code`."""

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("kaohe")

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answer. Raise it anywhere below a route; the handler renders it."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://kaohe.example/problems/{self.code.replace('_', '-')}",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def problem_response(problem: Problem, request_headers: Mapping[str, str] | None = None) -> Response:
    """problem+json; a Chinese HTML page instead for a browser navigating (see `shared.problem_pages`)."""
    from shared.problem_pages import problem_page, wants_html

    if wants_html(request_headers):
        return problem_page(problem.status, problem.code, problem.detail, problem.headers)
    return JSONResponse(problem.body(), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


PROBLEM_KEY = "kaohe_problem"  # in scope["state"]: the code answered, for metrics and the access log


def note_problem(scope: MutableMapping[str, Any], code: str) -> None:
    """Remember on the request scope which problem was answered (`shared.observability` counts it)."""
    scope.setdefault("state", {})[PROBLEM_KEY] = code


def unexpected_problem(exc: BaseException) -> Problem:
    """The answer to an exception no handler expected: 422 for a value the database cannot take,
    503 when the database is away, else 500."""
    if (data_error := _invalid_value(exc)) is not None:
        # A last line behind request validation: a value that passed it but that PostgreSQL or the
        # driver cannot represent (a NUL in text, an integer over 64 bits, a date out of range).
        log.warning("refused a value the database cannot take: %s", data_error)
        return Problem(
            422,
            "invalid_value",
            "a value in the request cannot be stored or compared",
            errors=[{"loc": [], "msg": str(data_error)[:300]}],
        )
    if _is_database_unavailable(exc):
        return Problem(
            503, "database_unavailable", "the database is not reachable; retry shortly", headers={"Retry-After": "1"}
        )
    return Problem(500, "internal_error", "an unexpected error occurred")


def validation_errors(
    raw: Sequence[Mapping[str, Any]] | Sequence[Any], *, index: int | None = None
) -> list[dict[str, Any]]:
    """Pydantic errors as `{"loc", "msg"}` (plus `index` inside a batch), JSON-safe."""
    errors = []
    for err in raw:
        entry: dict[str, Any] = {
            "loc": [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())],
            "msg": str(err.get("msg", "invalid")),
        }
        if index is not None:
            entry["index"] = index
        errors.append(entry)
    return errors


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details with a stable `code`.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "index": {"type": "integer"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}
_DESCRIPTIONS = {
    400: "The body is not strict UTF-8 JSON (`invalid_json`), or two Authorization headers (`ambiguous_authorization`)",
    408: "The request body did not arrive in time (`request_timeout`)",
    415: "The body is not declared `application/json` (`unsupported_media_type`)",
    401: "No key, or an unknown or revoked key",
    403: "The key's role does not allow this",
    404: "Unknown id in the path",
    413: "The body is over the size limit",
    422: "Invalid request (`errors` lists each problem)",
    503: "The database is not reachable (`Retry-After`)",
}


def document_problems(app: FastAPI) -> None:
    """Declare in the OpenAPI schema the problem answers every operation can give, as problem+json."""
    generate = app.openapi
    done: dict[str, int] = {}

    def openapi() -> dict[str, Any]:
        schema = generate()
        if done.get("schema") != id(schema):
            _add_problem_responses(schema)
            done["schema"] = id(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_problem_responses(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = set()
            if operation.get("security"):
                codes |= {400, 401, 403}
            if operation.get("parameters") or operation.get("requestBody"):
                codes.add(422)
            if operation.get("requestBody"):
                codes |= {400, 415}
            if method != "get":
                codes |= {408, 413}
            if "{" in path:
                codes.add(404)
            if path not in ("/healthz", "/metrics"):
                codes.add(503)
            for code in codes:
                responses.setdefault(str(code), {"description": _DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = content
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)


def _allowed_methods(request: Request) -> str:
    """Every method the schema documents for this path (Starlette's 405 names only the first route's)."""
    import re

    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of the app as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        note_problem(request.scope, exc.code)
        return problem_response(exc, request.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        raw = exc.errors()
        unknown_type = any(err.get("type") in ("union_tag_invalid", "union_tag_not_found") for err in raw)
        code, detail = (
            ("unknown_event_type", "the event type is not one of the types in the schema (GET /openapi.json)")
            if unknown_type
            else ("validation_error", "the request does not match the schema")
        )
        note_problem(_request.scope, code)
        return problem_response(Problem(422, code, detail, errors=validation_errors(raw)), _request.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 or nests too deep for the JSON parser
            code, detail = "invalid_json", "the body is not JSON this service can read (UTF-8, nesting depth)"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(_request) or headers.get("Allow", "")
        note_problem(_request.scope, code)
        return problem_response(Problem(exc.status_code, code, detail, headers=headers or None), _request.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Normally `shared.observability.Observe` answers first (with the request id); this is the
        # server's last resort.
        problem = unexpected_problem(exc)
        if problem.status == 500:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(problem, request.headers)


def _invalid_value(exc: BaseException) -> BaseException | None:
    """The driver's or server's data error (SQLSTATE class 22) behind `exc`, if that is what it is."""
    import asyncpg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (asyncpg.exceptions.DataError, asyncpg.exceptions._base.DataError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _is_database_unavailable(exc: BaseException) -> bool:
    import asyncpg
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from shared.db import left_mid_protocol

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(
            seen,
            (
                OSError,
                ConnectionError,
                TimeoutError,  # a connect or statement timeout of the driver: the database hangs
                PoolTimeout,  # every pooled connection is stuck: the database hangs
                asyncpg.exceptions.QueryCanceledError,  # the server's statement_timeout
                asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.CannotConnectNowError,
                asyncpg.exceptions.AdminShutdownError,
                asyncpg.exceptions.InterfaceError,
                InterfaceError,
                OperationalError,
            ),
        ):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if left_mid_protocol(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
