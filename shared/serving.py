"""How the services run under uvicorn: the connection limits every launcher passes (the runner,
the test servers, deploy/entrypoint.sh) and an HTTP/1.1 protocol with a header timeout.

uvicorn closes idle keep-alive connections (`--timeout-keep-alive`) and caps the header size
(`--h11-max-incomplete-event-size`), but it waits forever for a request's headers once the first
byte came: 3,000 clients sending one header byte a minute held 3,000 connections. `GuardedH11Protocol`
closes a connection whose request line and headers are not complete within `KAOHE_HEADER_TIMEOUT`
seconds (default 10) of its first byte or of the previous response. Bodies are guarded in the app
(`shared.http.BodyLimit`: the key before the body, a timeout per read and for the whole body).
"""

import asyncio
import os
from collections.abc import Mapping

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = float(os.environ.get("KAOHE_HEADER_TIMEOUT") or 10)
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 1000


def uvicorn_flags(env: Mapping[str, str] | None = None) -> list[str]:
    """The uvicorn command-line options for the limits (deploy/entrypoint.sh spells out the same)."""
    env = os.environ if env is None else env
    return [
        "--http",
        "shared.serving:GuardedH11Protocol",
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--h11-max-incomplete-event-size",
        str(MAX_HEADER_BYTES),
        "--limit-concurrency",
        str(env.get("KAOHE_LIMIT_CONCURRENCY") or MAX_CONNECTIONS),
    ]


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus: the request's headers must be complete in `HEADER_TIMEOUT`."""

    _header_timer: asyncio.TimerHandle | None = None
    _waiting_since_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._waiting_since_cycle:  # a new request's headers are complete
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # (may already have started a pipelined request's cycle)
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_timer()  # the next request on this connection gets the same time

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._waiting_since_cycle = self.cycle
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is self._waiting_since_cycle and not self.transport.is_closing():
            self.logger.info("closed a connection whose request headers did not arrive in %s s", HEADER_TIMEOUT)
            self.transport.close()
