"""The log reader builds each LogEvent in one step, with the local month found by the server."""

from zoneinfo import ZoneInfo

from services.scoring.log_reader import local_month, read_chunk
from shared.db import connect_raw
from tests.support.factories import criticized, given, unit_registered

MOMENTS = [
    "2026-03-31T23:59:59+08:00",
    "2026-04-01T00:00:00+08:00",
    "2026-03-31T15:59:59+00:00",
    "2026-03-31T16:00:00+00:00",
    "2026-12-31T23:30:00-05:00",
    "2026-03-08T06:59:59+00:00",  # around New York's change to summer time
    "2026-10-31T23:30:00-04:00",
    "2026-11-01T00:30:00-04:00",
]


async def test_months_from_the_server_agree_with_the_zone_conversion_in_python(kaohe, database_url):
    await given(kaohe, unit_registered("U1", at="2026-01-05T10:00:00+08:00"))
    await given(kaohe, *(criticized("U1", at=moment) for moment in MOMENTS if moment < "2026-11-29"))
    conn = await connect_raw(database_url)
    try:
        for zone in (ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("UTC")):
            events = await read_chunk(conn, after=0, until=2**62, limit=1000, zone=zone)
            assert len(events) > 1
            for event in events:
                assert event.month == local_month(event.occurred_at, zone), (event.occurred_at, zone)
                assert isinstance(event.event_id, str) and isinstance(event.data, dict)
    finally:
        await conn.close()
