"""Bearer API keys and roles (api.md, "Authentication and roles").

A key is `kh_<key id>_<secret>`; only the SHA-256 of the whole key is stored. The key id finds the
row and `hmac.compare_digest` compares the hashes, so timing does not reveal the secret.
"""

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.events import PLATFORM_TYPES
from shared.problems import Problem

ROLES = ("platform", "office", "unit", "viewer", "auditor", "admin")
# What each role may do. `read_ledger` for a unit key is further limited to its own unit.
PERMISSIONS: dict[str, frozenset[str]] = {
    "platform": frozenset({"append", "read_log", "status"}),
    "office": frozenset(
        {
            "append",
            "read_log",
            "read_ledger",
            "read_rankings",
            "read_reports",
            "audit",
            "read_rebuild",
            "status",
            "manage_webhooks",
        }
    ),
    "unit": frozenset({"append", "read_ledger", "read_rankings", "status"}),
    "viewer": frozenset({"read_rankings", "read_reports", "status"}),
    "auditor": frozenset(
        {
            "read_log",
            "read_ledger",
            "read_rankings",
            "read_reports",
            "audit",
            "what_if",
            "rebuild",
            "read_rebuild",
            "status",
        }
    ),
}
PERMISSIONS["admin"] = frozenset().union(*PERMISSIONS.values())  # everything any role may do
# What a unit key may append, each for its own unit only (api.md's roles table).
UNIT_KEY_TYPES = frozenset({"unit.deduction-disputed", "unit.rectification-submitted"})
CACHE_SECONDS = 5.0
# Only for the OpenAPI schema (security scheme "bearer"); `require` reads the header itself.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <key>`")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name, role and (for a unit key) unit."""

    name: str
    role: str
    unit_id: str | None = None

    @property
    def actor(self) -> dict[str, Any]:
        actor = {"name": self.name, "role": self.role}
        if self.unit_id:
            actor["unit_id"] = self.unit_id
        return actor

    def check_append(self, type_name: str, unit_id: str | None) -> None:
        if self.role == "platform" and type_name not in PLATFORM_TYPES:
            raise Problem(403, "forbidden", f"a platform key may not append {type_name}")
        if self.role == "unit":
            if type_name not in UNIT_KEY_TYPES:
                raise Problem(403, "forbidden", f"a unit key may not append {type_name}")
            if unit_id != self.unit_id:
                raise Problem(403, "forbidden", f"a unit key may append {type_name} only for its own unit")

    def check_unit(self, unit_id: str) -> None:
        if self.role == "unit" and unit_id != self.unit_id:
            raise Problem(403, "forbidden", "a unit key may read only its own unit")


ANONYMOUS = Principal(name="anonymous", role="viewer")
OPEN_ADMIN = Principal(name="open-access", role="admin")


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key() -> tuple[str, str]:
    """A fresh key and its id."""
    key_id = secrets.token_hex(4)
    return key_id, f"kh_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    parts = key.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "kh" else None


async def create_key(
    conn: AsyncConnection, *, role: str, name: str, unit_id: str | None = None, key: str | None = None
) -> str:
    """Store a new key (or the given one) and return it; the caller commits."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "unit" and not unit_id:
        raise ValueError("a unit key needs --unit")
    if key is None:
        key_id, key = new_key()
    else:
        key_id = key_id_of(key) or hashlib.sha256(key.encode()).hexdigest()[:8]
    await conn.execute(
        text(
            "INSERT INTO auth.api_keys (key_id, name, role, unit_id, key_hash) VALUES (:id, :name, :role, :unit, :hash)"
        ),
        {"id": key_id, "name": name, "role": role, "unit": unit_id, "hash": hash_key(key)},
    )
    return key


async def ensure_bootstrap_key(conn: AsyncConnection, key: str) -> None:
    """Create the admin key `KAOHE_BOOTSTRAP_ADMIN_KEY` unless a key with that secret exists."""
    await conn.execute(
        text(
            "INSERT INTO auth.api_keys (key_id, name, role, key_hash) VALUES (:id, 'bootstrap-admin', 'admin', :hash) "
            "ON CONFLICT (key_hash) DO NOTHING"
        ),
        {"id": key_id_of(key) or hashlib.sha256(key.encode()).hexdigest()[:8], "hash": hash_key(key)},
    )


MAX_KEY_LENGTH = 512  # kaohe's keys are ~56 characters; a longer one is refused unread, never cached
CACHE_ENTRIES = 10_000


class KeyCache:
    """Verified keys for a few seconds, so polling dashboards do not cost a query per request.

    Entries are keyed by the key's SHA-256 (a caller sending huge unknown keys costs 32 bytes an
    entry, not the key) and evicted least recently used, so a flood of unknown keys pushes out old
    entries one by one instead of clearing the valid ones wholesale."""

    def __init__(self, limit: int = CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[bytes, tuple[float, Principal | None]] = OrderedDict()
        self.limit = limit

    def __len__(self) -> int:
        return len(self._entries)

    async def resolve(self, engine, key: str) -> Principal | None:
        if len(key) > MAX_KEY_LENGTH:
            return None
        now = time.monotonic()
        digest = hash_key(key)
        cached = self._entries.get(digest)
        if cached and now - cached[0] < CACHE_SECONDS:
            self._entries.move_to_end(digest)
            return cached[1]
        key_id = key_id_of(key) or hashlib.sha256(key.encode()).hexdigest()[:8]
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT name, role, unit_id, key_hash FROM auth.api_keys WHERE key_id = :id AND revoked_at IS NULL"
                    ),
                    {"id": key_id},
                )
            ).all()
        principal = None
        for row in rows:
            if hmac.compare_digest(bytes(row.key_hash), digest):
                principal = Principal(name=row.name, role=row.role, unit_id=row.unit_id)
        self._entries[digest] = (now, principal)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return principal


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


async def principal_from_headers(app: Any, headers: Any, *, public: bool) -> Principal:
    """The caller's Principal from the `Authorization` header(s); 401 when there is no valid key
    (unless public reads apply), 400 when the header is sent twice (which one would count?).
    `headers` is a Starlette `Headers`; the body-reading middleware calls this before any byte of
    the body is read."""
    state = app.state.kaohe
    if not state.settings.auth_enabled:
        return OPEN_ADMIN
    values = headers.getlist("authorization")
    if len(values) > 1:
        raise Problem(400, "ambiguous_authorization", "send one Authorization header, not several")
    scheme, _, key = (values[0] if values else "").partition(" ")
    if not key.strip() or scheme.lower() != "bearer":
        if public and state.settings.public_reads:
            return ANONYMOUS
        raise Problem(401, "unauthorized", "send Authorization: Bearer <key>", headers=UNAUTHORIZED_HEADERS)
    principal = await app.state.key_cache.resolve(state.engine, key.strip())
    if principal is None:
        raise Problem(401, "unauthorized", "unknown or revoked key", headers=UNAUTHORIZED_HEADERS)
    return principal


async def _authenticate(request: Request, *, public: bool) -> Principal:
    """The caller's Principal from the bearer key; 401 when there is none (unless public reads apply)."""
    return await principal_from_headers(request.app, request.headers, public=public)


async def reader_or_none(request: Request, permission: str) -> Principal | None:
    """The caller when it may `permission` (public reads included), else None: for a page that shows
    a person a sign-in form rather than a refusal."""
    try:
        principal = await _authenticate(request, public=True)
    except Problem:
        return None
    return principal if permission in PERMISSIONS[principal.role] else None


def require(permission: str, *, public: bool = False):
    """A dependency: the caller's Principal, refused with 401/403 unless it holds `permission`."""

    async def dependency(request: Request, _documented: Annotated[object, Depends(BEARER)] = None) -> Principal:
        principal = await _authenticate(request, public=public)
        if permission not in PERMISSIONS[principal.role]:
            raise Problem(403, "forbidden", f"role {principal.role} may not {permission.replace('_', ' ')}")
        return principal

    dependency.kaohe_public = public  # type: ignore[attr-defined] # read by `authenticate_first`
    dependency.kaohe_permission = permission  # type: ignore[attr-defined] # read by shared.openapi_docs
    return Depends(dependency)


def _route_auth(route: Any) -> bool | None:
    """None when the route needs no key; else whether it is public when public reads are on."""
    if route is None:
        return None
    if "_kaohe_auth" not in vars(route):
        found: bool | None = None
        pending = list(getattr(getattr(route, "dependant", None), "dependencies", []))
        while pending:
            dependant = pending.pop()
            if hasattr(dependant.call, "kaohe_public"):
                found = bool(dependant.call.kaohe_public)
                break
            pending.extend(dependant.dependencies)
        route._kaohe_auth = found  # computed once per route
    return route._kaohe_auth


async def authenticate_first(request: Request) -> None:
    """An app-wide dependency, solved before a route's own: a missing or unknown key is 401 before any
    parameter of the route is looked at (no 422 or 404 to an anonymous caller). `require` then
    decides 403 (the key is cached, so this costs no second query)."""
    public = _route_auth(request.scope.get("route"))
    if public is not None:
        await _authenticate(request, public=public)
