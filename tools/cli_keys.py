"""`kaohe keys create|list|revoke`: API keys in auth.api_keys (only a hash of each key is stored).

The database is `DATABASE_URL`, else the embedded server of `make run` when it is running.
Services cache a verified key for a few seconds, so a revocation takes effect within that time.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, text

from shared.auth import ROLES, create_key
from shared.db import make_engine
from shared.settings import REPO_ROOT
from tools.terminal import console, table
from tools.urls import service_url


def database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from tools.devdb import EmbeddedPostgres

    embedded = EmbeddedPostgres(Path(os.environ.get("KAOHE_DATA_DIR") or REPO_ROOT / ".data") / "pg")
    if embedded.running():
        return embedded.url("kaohe")
    raise SystemExit("kaohe keys: set DATABASE_URL, or start `make run` so its embedded database is running")


async def _create(url: str, *, role: str, name: str, unit_id: str | None) -> str:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await create_key(conn, role=role, name=name, unit_id=unit_id)
    finally:
        await engine.dispose()


async def _list(url: str) -> Sequence[Row[Any]]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT key_id, role, unit_id, name, created_at, revoked_at FROM auth.api_keys "
                        "ORDER BY created_at, key_id"
                    )
                )
            ).all()
    finally:
        await engine.dispose()


async def _revoke(url: str, key_id: str) -> int:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                text("UPDATE auth.api_keys SET revoked_at = now() WHERE key_id = :id AND revoked_at IS NULL"),
                {"id": key_id},
            )
            return result.rowcount
    finally:
        await engine.dispose()


def create(args: argparse.Namespace) -> int:
    """Print the new key on stdout (once; it cannot be shown again) and its id on stderr."""
    if args.unit and args.role != "unit":
        print("kaohe keys: --unit is only for role unit", file=sys.stderr)
        return 2
    if args.link and args.role != "viewer":
        print("kaohe keys: --link is only for role viewer (a read-only wall-screen link)", file=sys.stderr)
        return 2
    name = args.name or (f"{args.role}-{args.unit}" if args.unit else args.role)
    try:
        key = asyncio.run(_create(database_url(), role=args.role, name=name, unit_id=args.unit))
    except ValueError as exc:
        print(f"kaohe keys: {exc}", file=sys.stderr)
        return 2
    key_id = key.split("_")[1]
    print(f"created key {key_id} (role {args.role}, name {name!r}); the key is shown only now:", file=sys.stderr)
    print(key)
    if args.link:
        # The key rides in the fragment, which browsers never send: it reaches no server log. The page
        # moves it into the browser session and clears it from the address bar.
        base = (args.link_base or service_url("reporting")).rstrip("/")
        print(
            "wall-screen link (read-only; anyone with it can see the dashboard until the key is revoked):",
            file=sys.stderr,
        )
        print(f"{base}/#key={key}")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    """One line per key, without secrets."""
    rows = asyncio.run(_list(database_url()))
    zone = ZoneInfo(os.environ.get("KAOHE_TIMEZONE") or "Asia/Shanghai")
    out = console()
    keys = table(None, ("KEY_ID", "ROLE", "UNIT", "CREATED", "STATUS", "NAME"), out=out)
    for row in rows:
        keys.add_row(
            row.key_id,
            row.role,
            row.unit_id or "-",
            f"{row.created_at.astimezone(zone):%Y-%m-%d %H:%M:%S}",
            "revoked" if row.revoked_at else "active",
            row.name,
        )
    out.print(keys)
    return 0


def revoke(args: argparse.Namespace) -> int:
    count = asyncio.run(_revoke(database_url(), args.key_id))
    if not count:
        print(f"kaohe keys: no active key {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked key {args.key_id}")
    return 0


def register(subparsers) -> None:
    keys = subparsers.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    create_parser = actions.add_parser("create", help="create a key and print it once")
    create_parser.add_argument("--role", required=True, choices=ROLES)
    create_parser.add_argument("--unit", metavar="UNIT_ID", help="the unit of a unit key")
    create_parser.add_argument("--name", metavar="TEXT", help="who or what uses the key")
    create_parser.add_argument(
        "--link",
        action="store_true",
        help="role viewer: also print a dashboard link with the key in its #fragment, for a wall screen",
    )
    create_parser.add_argument(
        "--link-base",
        metavar="URL",
        help="the dashboard's address as the screen reaches it (default: $KAOHE_REPORTING_URL, else "
        "$KAOHE_HOST:$KAOHE_REPORTING_PORT as for `make run`)",
    )
    create_parser.set_defaults(func=create)

    list_parser = actions.add_parser("list", help="list keys (no secrets)")
    list_parser.set_defaults(func=list_keys)

    revoke_parser = actions.add_parser("revoke", help="revoke a key by its id")
    revoke_parser.add_argument("key_id", metavar="KEY_ID")
    revoke_parser.set_defaults(func=revoke)
