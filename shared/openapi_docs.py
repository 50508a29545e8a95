"""API docs that work on an intranet with no way out, and an OpenAPI that explains itself.

Swagger UI and ReDoc come from the `fastapi-offline` wheel (pinned in pyproject.toml) and are
served by each service under `/docs-assets/`; the pages name no host at all. The schema gets each
event field's description in Chinese and English, an example body for every event type, the codes
with their Chinese names, and in each operation's description the roles that may call it.
"""

from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from shared.auth import PERMISSIONS, ROLES
from shared.domain.events import DATA_MODELS, EVENT_MODELS, PLATFORM_TYPES
from shared.domain.policy import Policy
from shared.event_docs import ENVELOPE_DOCS, EXAMPLES, TYPE_NAMES, field_doc
from shared.problems import Problem

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# `validatorUrl: null`: Swagger UI would otherwise load a badge from validator.swagger.io.
SWAGGER_PARAMETERS = {"validatorUrl": None, "tryItOutEnabled": False, "persistAuthorization": False}
# The one URL those bundles fetch by themselves: ReDoc's "API docs by Redocly" logo in the sidebar;
# served the favicon instead (a path relative to /redoc).
REWRITES = {"redoc.standalone.js": ((b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"docs-assets/favicon.png"),)}
_asset_cache: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    if name not in _asset_cache:
        body = resources.files("fastapi_offline").joinpath("static", name).read_bytes()
        for old, new in REWRITES.get(name, ()):
            body = body.replace(old, new)
        _asset_cache[name] = body
    return _asset_cache[name]


def install_offline_docs(app: FastAPI) -> None:
    """`/docs`, `/redoc` and their assets, for an app made with `docs_url=None, redoc_url=None`."""

    def root(request: Request) -> str:
        return request.scope.get("root_path", "")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{base}/docs/oauth2-redirect",
            swagger_js_url=f"{base}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{base}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{base}/docs-assets/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}/docs-assets/redoc.standalone.js",
            redoc_favicon_url=f"{base}/docs-assets/favicon.png",
            with_google_fonts=False,
        )

    @app.get("/docs-assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise Problem(404, "not_found", f"no documentation asset {name}")
        return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})


def document_events_and_roles(app: FastAPI, current_policy: Callable[[], Policy]) -> None:
    """Enrich the app's OpenAPI schema once, when it is first built (codes named by the policy in force)."""
    generate = app.openapi
    done: dict[str, int] = {}

    def openapi() -> dict[str, Any]:
        schema = generate()
        if done.get("schema") != id(schema):
            _describe_events(schema, current_policy())
            _describe_roles(app, schema)
            done["schema"] = id(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_events(schema: dict[str, Any], policy: Policy) -> None:
    components = schema.get("components", {}).get("schemas", {})
    for type_name, envelope in EVENT_MODELS.items():
        found = components.get(envelope.__name__)
        if found is None:
            continue
        found["description"] = f"{TYPE_NAMES.get(type_name, type_name)} / `{type_name}`"
        if type_name in EXAMPLES:
            found["examples"] = [EXAMPLES[type_name]]
        for field, prop in found.get("properties", {}).items():
            if field in ENVELOPE_DOCS:
                prop["description"] = ENVELOPE_DOCS[field]
        data = components.get(DATA_MODELS[type_name].__name__)
        for field, prop in (data or {}).get("properties", {}).items():
            doc = field_doc(type_name, field, policy)
            if doc:
                prop["description"] = doc
    contributor = components.get("Contributor")
    for field, prop in (contributor or {}).get("properties", {}).items():
        prop["description"] = field_doc("item.adopted", field, policy) or prop.get("description", "")
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            if path == "/v1/events":
                content["examples"] = {
                    t: {"summary": f"{t} {TYPE_NAMES.get(t, '')}", "value": EXAMPLES[t]}
                    for t in EVENT_MODELS
                    if t in EXAMPLES
                }
            elif path == "/v1/events/batch":
                batch = [EXAMPLES[t] for t in ("unit.registered", "item.submitted", "item.adopted")]
                content["examples"] = {
                    "readme": {"summary": "登记单位、报送并采用一条信息", "value": {"events": batch}}
                }


def _permission_of(route: APIRoute) -> tuple[str, bool] | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        permission = getattr(dependant.call, "kaohe_permission", None)
        if permission:
            return permission, bool(getattr(dependant.call, "kaohe_public", False))
        pending.extend(dependant.dependencies)
    return None


def _roles_text(permission: str, public: bool) -> str:
    roles = [role for role in ROLES if permission in PERMISSIONS[role]]
    text = "Roles 角色: " + ", ".join(f"`{role}`" for role in roles)
    if "unit" in roles and permission in ("read_ledger",):
        text += " (a `unit` key: its own unit and officers only 仅限本单位)"
    if permission == "append":
        platform = ", ".join(f"`{t}`" for t in sorted(PLATFORM_TYPES))
        text += (
            f". `platform` may append only {platform}; `unit` only `unit.deduction-disputed` for its own "
            "unit (单位密钥只能对本单位的扣分提出申诉); `office` and `admin` every type"
        )
    if public:
        text += ". Without a key too when `KAOHE_PUBLIC_READS=true` 开放查询时无需密钥"
    return text + "."


def _api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(path as served, route) of every APIRoute, those of included routers too (FastAPI ≥ 0.160
    keeps an included router as one lazy entry in `app.routes`)."""
    try:
        from fastapi.routing import _iter_routes_with_context
    except ImportError:  # an older FastAPI: included routes are plain entries
        return [(r.path, r) for r in app.routes if isinstance(r, APIRoute)]
    found = []
    for route, context in _iter_routes_with_context(app.routes):
        if isinstance(route, APIRoute):
            found.append((context.path if context is not None and context.path else route.path, route))
    return found


def _describe_roles(app: FastAPI, schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for path, route in _api_routes(app):
        if not route.include_in_schema:
            continue
        found = _permission_of(route)
        for method in route.methods or ():
            operation = paths.get(path, {}).get(method.lower())
            if operation is None:
                continue
            if found is None:
                note = "Roles 角色: no key needed 无需密钥."
            else:
                note = _roles_text(found[0], found[1])
            if "Roles 角色" not in operation.get("description", ""):
                operation["description"] = (operation.get("description", "") + "\n\n" + note).strip()
