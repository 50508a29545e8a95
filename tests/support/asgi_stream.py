"""One answer from an ASGI app without waiting for its body to end (for an endless event stream).

httpx's ASGITransport returns only once the app has finished, which a server-sent event stream
never does; this runs the app directly, keeps the status, headers and first body chunk, then tells
the app that the client went away."""

import asyncio
from typing import Any
from urllib.parse import urlencode

import httpx


async def first_answer(
    app: Any, method: str, path: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    started: dict[str, Any] = {}
    body: list[bytes] = []
    answered = asyncio.Event()
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if message.get("body") or not message.get("more_body"):
                answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params or {}).encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=60)
    return httpx.Response(
        started["status"],
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in started.get("headers", [])],
        content=b"".join(body),
    )
