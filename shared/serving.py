"""How the services run under uvicorn: the connection limits every launcher passes (the runner,
the test servers, the bench, deploy/entrypoint.sh) and an HTTP/1.1 protocol with header limits.

uvicorn closes idle keep-alive connections (`--timeout-keep-alive`), but it waits forever for a
request's headers once the first byte came: 3,000 clients sending one header byte a minute held
3,000 connections; and its httptools protocol has no cap on the headers' size. `GuardedHttpTools`
closes a connection whose request line and headers are not complete within `KAOHE_HEADER_TIMEOUT`
seconds (default 10) of the connection or of the previous response, and answers 431 (then closes)
once more than `MAX_HEADER_BYTES` arrive without the headers being complete. Bodies are guarded in
the app (`shared.http.BodyLimit`: the key before the body, a timeout per read and for the whole body).

httptools rather than uvicorn's pure-Python h11 protocol: the same limits for about 0.55 × the
server CPU per request (the bare ceiling app; docs/benchmarks.md "ingest-single").
"""

import asyncio
import os
from collections.abc import Mapping

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = float(os.environ.get("KAOHE_HEADER_TIMEOUT") or 10)
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 1000
HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 31\r\nconnection: close\r\n\r\nRequest header fields too large"
)


def uvicorn_flags(env: Mapping[str, str] | None = None) -> list[str]:
    """The uvicorn command-line options for the limits (deploy/entrypoint.sh spells out the same)."""
    env = os.environ if env is None else env
    return [
        "--http",
        "shared.serving:GuardedHttpTools",
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--limit-concurrency",
        str(env.get("KAOHE_LIMIT_CONCURRENCY") or MAX_CONNECTIONS),
    ]


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus: a request's headers must be complete within
    `HEADER_TIMEOUT` and `MAX_HEADER_BYTES`.

    The timer runs from the connection and from each response (unless a pipelined request's headers
    already came) until the parser calls `on_headers_complete`. The size counts the data received
    from the end of the previous request (or the connection) while the headers are not complete:
    httptools would buffer a header of any size, even while a long response (an event stream) is
    being sent.
    """

    _header_timer: asyncio.TimerHandle | None = None
    _awaiting_headers = True
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._awaiting_headers:
            return super().data_received(data)
        self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self._cancel_header_timer()
            if self.cycle is None or self.cycle.response_complete:  # (never in the middle of a response)
                self.transport.write(HEADERS_TOO_LARGE)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers, self._header_bytes = True, 0

    def on_response_complete(self) -> None:
        super().on_response_complete()  # (may start a pipelined request whose headers already came)
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._arm_header_timer()  # the next request on this connection gets the same time

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.logger.info("closed a connection whose request headers did not arrive in %s s", HEADER_TIMEOUT)
            self.transport.close()
