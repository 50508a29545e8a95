"""Compare the stored projection with a fresh fold of the raw log."""

from decimal import Decimal

from services.scoring.log_reader import stream_log
from shared.db import connect_raw
from shared.policy_files import load_policies
from shared.settings import Settings
from tests.support.replay import Replay


def _fold_rows(replay: Replay) -> set[tuple]:
    return {
        (
            line.event_id,
            line.seq,
            line.position,
            line.month,
            line.unit_id,
            line.officer_id,
            line.clause,
            line.points,
            Decimal(line.reward_yuan),
            (replay.revoker(line) or (None,))[0],
        )
        for line in replay.lines
    }


async def fresh_fold(url: str) -> Replay:
    settings = Settings(DATABASE_URL=url)
    policies = load_policies(settings.policy_dir, settings.zone)
    conn = await connect_raw(url)
    try:
        replay = Replay()
        async for events in stream_log(conn, zone=settings.zone):
            replay.feed(events, policies)
        return replay
    finally:
        await conn.close()


async def projection_rows(url: str) -> tuple[int, set[tuple]]:
    conn = await connect_raw(url)
    try:
        position = await conn.fetchval("SELECT position FROM proj.checkpoint")
        rows = await conn.fetch(
            "SELECT event_id::text, seq, global_position, month, unit_id, officer_id, clause, points, reward_yuan, "
            "revoked_by::text FROM proj.lines"
        )
        return position, {tuple(row) for row in rows}
    finally:
        await conn.close()


async def assert_projection_equals_fresh_fold(url: str) -> int:
    """Every stored line equals the fold's line (revocations included); returns the line count."""
    replay = await fresh_fold(url)
    position, stored = await projection_rows(url)
    assert position == replay.position, f"projection at {position}, log at {replay.position}"
    folded = _fold_rows(replay)
    assert stored == folded, (
        f"{len(stored - folded)} stored lines not in the fold, {len(folded - stored)} folded lines not stored"
    )
    return len(stored)


PROJECTION_SNAPSHOT = {
    "units": "SELECT unit_id, name, kind, occurred_at, global_position FROM {s}.units",
    "officers": "SELECT officer_id, unit_id, name, occurred_at, global_position FROM {s}.officers",
    "items": "SELECT item_id, unit_id, title, kind, authors, month, global_position FROM {s}.items",
    "targets": "SELECT * FROM {s}.targets",
    "lines": "SELECT * FROM {s}.lines",
    "facts": "SELECT * FROM {s}.facts",
    "totals": "SELECT kind, subject, month, measure, value FROM {s}.totals",
    "checkpoint": "SELECT position, policy_version FROM {s}.checkpoint",
}


async def projection_snapshot(url: str, schema: str | None = None) -> dict[str, set[tuple]]:
    """Every row of every projection table of `schema` (default: the active generation), as sets."""
    conn = await connect_raw(url)
    try:
        schema = schema or await conn.fetchval("SELECT schema_name FROM scoring.active_generation WHERE id = 1")
        return {
            table: {_hashable(row) for row in await conn.fetch(sql.format(s=schema))}
            for table, sql in PROJECTION_SNAPSHOT.items()
        }
    finally:
        await conn.close()


def _hashable(row) -> tuple:
    return tuple(tuple(value) if isinstance(value, list) else value for value in row)


def assert_snapshots_equal(live: dict[str, set[tuple]], rebuilt: dict[str, set[tuple]]) -> None:
    for table in PROJECTION_SNAPSHOT:
        extra, missing = live[table] - rebuilt[table], rebuilt[table] - live[table]
        assert not extra and not missing, (
            f"{table}: {len(extra)} rows only in the live projection (e.g. {sorted(extra)[:3]}), "
            f"{len(missing)} only in the rebuild (e.g. {sorted(missing)[:3]})"
        )
