"""A webhook receiver for tests: a tiny ASGI app that records every request and answers as told."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered


Answer = Callable[["Received"], tuple[int, dict[str, str]]]


@dataclass
class Receiver:
    """`answer` decides each reply (status, headers); 200 unless told otherwise."""

    answer: Answer = lambda _request: (200, {})
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        request = Received(
            path=scope["path"],
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=b"".join(chunks),
        )
        status, headers = self.answer(request)
        request.status = status
        self.received.append(request)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.received if 200 <= r.status < 300]


async def eventually(predicate: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Wait until `predicate()` is true (awaiting it when it is a coroutine), or fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
