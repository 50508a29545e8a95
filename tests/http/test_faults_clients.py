"""Slow and keyless clients against a real uvicorn ingest (shared/http.py BodyLimit, shared/serving.py).

- 40 keyless clients each announcing and pushing a 15 MiB batch: every one is answered 401 before
  its body is read, and the server's peak memory barely moves (it used to read 16 MiB a client);
- a keyed client that stops sending its body is answered 408 after the per-read timeout, and one
  that trickles a byte at a time is cut off by the whole-body timeout;
- clients that never finish their headers are disconnected after the header timeout.
"""

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from tests.support.servers import Server, start, wait_until

pytestmark = pytest.mark.faults
KEY = "kh_clientsadmin_" + "c" * 40
MIB = 1024 * 1024
KEYLESS_CLIENTS = 40


def _memory(server: Server) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of the server process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def _head(path: str, length: int, *, key: str | None = None, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{auth}{extra}\r\n"
    ).encode()


async def _status_line(reader: asyncio.StreamReader, timeout: float) -> str:
    return (await asyncio.wait_for(reader.readline(), timeout)).decode(errors="replace").strip()


async def _closed(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True once the server closed the connection (EOF or reset) within `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
        return True
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False


@pytest.fixture
async def ingest(database_url, tmp_path):
    env = {
        "KAOHE_BOOTSTRAP_ADMIN_KEY": KEY,
        "KAOHE_BODY_READ_TIMEOUT": "1",
        "KAOHE_BODY_TIMEOUT": "4",
        "KAOHE_HEADER_TIMEOUT": "2",
    }
    server = start("ingest", database_url, tmp_path, env=env)
    try:
        await asyncio.to_thread(wait_until, server)
        yield server
    finally:
        server.stop()


async def test_keyless_clients_are_refused_before_their_bodies_are_read(ingest):
    before = _memory(ingest)
    chunk = b"x" * MIB

    async def waits_for_continue() -> str:
        """A client that sends `Expect: 100-continue` waits for the server before the body."""
        reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
        try:
            writer.write(_head("/v1/events/batch", 15 * MIB, extra="Expect: 100-continue\r\n"))
            status = await _status_line(reader, 60)
            assert await _closed(reader, 30), "the server kept the connection of a refused upload"
            return status
        finally:
            writer.close()

    async def pushes() -> tuple[str, int]:
        """A client that pushes its whole body without waiting: answered 401, or reset once the
        server closed with the body unread (the 401 may be lost with the reset)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
        sent, status = 0, "reset"
        try:
            writer.write(_head("/v1/events/batch", 15 * MIB))
            reading = asyncio.ensure_future(_status_line(reader, 60))
            while sent < 15 * MIB and not reading.done():
                writer.write(chunk)
                try:
                    await asyncio.wait_for(writer.drain(), 2)
                except (TimeoutError, ConnectionError, OSError):
                    break
                sent += MIB
            try:
                status = await reading
            except (ConnectionError, OSError):
                pass
            return status, sent
        finally:
            writer.close()

    half = KEYLESS_CLIENTS // 2
    results = await asyncio.gather(*(waits_for_continue() for _ in range(half)), *(pushes() for _ in range(half)))
    polite, pushing = results[:half], results[half:]
    assert all(status.startswith("HTTP/1.1 401") for status in polite), polite[:3]
    assert all(status.startswith("HTTP/1.1 401") or status == "reset" for status, _ in pushing), pushing[:3]
    assert all(status != "" for status, _ in pushing)
    after = _memory(ingest)
    grown_mib = (after["VmHWM"] - before["VmHWM"]) / 1024
    print(
        f"{KEYLESS_CLIENTS} keyless 15 MiB uploads: peak memory +{grown_mib:.1f} MiB "
        f"(RSS {after['VmRSS'] // 1024} MiB); pushed before the cut-off (MiB): {sorted(sent // MIB for _, sent in pushing)}"
    )
    assert grown_mib < 64, f"peak memory grew by {grown_mib:.0f} MiB"


async def test_a_stalled_body_gets_408_and_a_trickled_one_is_cut_off(ingest):
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "unit.registered",
        "occurred_at": "2026-03-05T10:00:00+08:00",
        "data": {"unit_id": "S1", "name": "单位", "kind": "other"},
    }
    body = json.dumps(event).encode()

    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
    writer.write(_head("/v1/events", len(body), key=KEY) + body[:10])
    await writer.drain()  # ... and nothing more
    assert (await _status_line(reader, 30)).startswith("HTTP/1.1 408")
    assert await _closed(reader, 30)
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
    writer.write(_head("/v1/events", len(body), key=KEY))
    reading = asyncio.ensure_future(_status_line(reader, 60))
    for byte in body[:-1]:  # a byte every 0.2 s: each read is in time, the whole body is not
        if reading.done():
            break
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except (ConnectionError, OSError):
            break
        await asyncio.sleep(0.2)
    assert (await reading).startswith("HTTP/1.1 408")
    writer.close()


async def test_clients_that_never_finish_their_headers_are_disconnected(ingest):
    connections = []
    for _ in range(50):
        reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
        writer.write(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        await writer.drain()
        connections.append((reader, writer))
    closed = await asyncio.gather(*(_closed(reader, 30) for reader, _ in connections))
    for _, writer in connections:
        writer.close()
    assert all(closed), f"{closed.count(False)} slow-header connections were kept"
    # and the server still answers
    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await _status_line(reader, 30)).startswith("HTTP/1.1 200")
    writer.close()


async def test_headers_over_the_cap_are_answered_431_and_closed(ingest):
    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    for _ in range(20):  # 20 KiB of headers, a KiB at a time, never finished
        writer.write(b"X-Filler: " + b"f" * 1012 + b"\r\n")
        await writer.drain()
    assert (await _status_line(reader, 10)).startswith("HTTP/1.1 431")
    assert await _closed(reader, 10)
    writer.close()
    # headers under the cap are fine, and a kept-alive connection's next request gets the same time
    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
    for _ in range(2):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"f" * 12_000 + b"\r\n\r\n")
        assert (await _status_line(reader, 10)).startswith("HTTP/1.1 200")
        while (await asyncio.wait_for(reader.readline(), 10)).strip():
            pass  # the rest of the head
        await reader.readexactly(len(b'{"status":"ok"}'))
    writer.write(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
    assert await _closed(reader, 30)  # (the header timeout, 2 s here)
    writer.close()
