"""An ASGI app served by a real uvicorn on 127.0.0.1 inside the test's own event loop.

For what httpx's ASGITransport cannot do: receive real HTTP from a service (a webhook receiver) or
stream an endless response (server-sent events)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from tools.devdb import free_port


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the test runner keeps its own signal handlers
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, *, lifespan: str = "off", timeout: float = 30.0) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(), name=f"uvicorn-{port}")
    deadline = asyncio.get_running_loop().time() + timeout
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # open streams would otherwise hold the shutdown
        await asyncio.wait({task}, timeout=10)
        if not task.done():
            task.cancel()
