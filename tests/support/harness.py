"""The three real apps in one process, talked to through httpx's ASGI transport."""

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from services.ingest.app import create_app as create_ingest
from services.reporting.app import create_app as create_reporting
from services.scoring.app import create_app as create_scoring
from shared.settings import Settings

ADMIN_KEY = "kh_testadmin_" + "x" * 40


def settings_for(url: str, **overrides: Any) -> Settings:
    values = {
        "DATABASE_URL": url,
        "KAOHE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "KAOHE_PROJECTOR_POLL_SECONDS": 0.5,
        # A tiny fold cache makes every test exercise hydration of items and adoptions.
        "KAOHE_FOLD_CACHE": 2,
        **overrides,
    }
    return Settings(**values)


@dataclass
class Kaohe:
    """Clients for ingest, scoring and reporting, authenticated as admin unless told otherwise."""

    ingest: httpx.AsyncClient
    scoring: httpx.AsyncClient
    reporting: httpx.AsyncClient
    apps: dict[str, FastAPI] = field(default_factory=dict)

    async def post(
        self,
        type_name: str,
        data: dict[str, Any],
        *,
        occurred_at: str = "2026-03-05T10:00:00+08:00",
        event_id: str | None = None,
        expect: int | None = 201,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "event_id": event_id or str(uuid.uuid4()),
            "type": type_name,
            "occurred_at": occurred_at,
            "data": data,
            **extra,
        }
        response = await self.ingest.post("/v1/events", json=body)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    async def head(self) -> int:
        response = await self.ingest.get("/v1/events", params={"limit": 1})
        return response.json()["head_position"]

    async def settled(self, timeout: float = 20.0) -> int:
        """Wait until the projection has folded everything in the log; return the position."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status = (await self.scoring.get("/v1/projections/status")).json()
            if status["checkpoint_position"] >= status["head_position"]:
                return status["checkpoint_position"]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"projection did not catch up: {status}")
            await asyncio.sleep(0.02)

    async def unit_ledger(self, unit_id: str, period: str = "2026", **params: Any) -> dict[str, Any]:
        await self.settled()
        response = await self.scoring.get(f"/v1/units/{unit_id}/ledger", params={"period": period, **params})
        assert response.status_code == 200, response.text
        return response.json()

    async def officer_ledger(self, officer_id: str, period: str = "2026", **params: Any) -> dict[str, Any]:
        await self.settled()
        response = await self.scoring.get(f"/v1/officers/{officer_id}/ledger", params={"period": period, **params})
        assert response.status_code == 200, response.text
        return response.json()

    async def ranking(self, period: str = "2026", **params: Any) -> dict[str, Any]:
        await self.settled()
        response = await self.reporting.get("/v1/rankings/units", params={"period": period, **params})
        assert response.status_code == 200, response.text
        return response.json()


@contextlib.asynccontextmanager
async def running_kaohe(url: str, *, key: str | None = ADMIN_KEY, **overrides: Any):
    """Start the three apps (lifespans included) against `url` and yield a Kaohe."""
    settings = settings_for(url, **overrides)
    apps = {
        "ingest": create_ingest(settings),
        "scoring": create_scoring(settings),
        "reporting": create_reporting(settings),
    }
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=headers, timeout=60
                )
            )
        yield Kaohe(**clients, apps=apps)
