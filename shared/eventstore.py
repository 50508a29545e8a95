"""The event store: append with optimistic concurrency and idempotency, read in global order.

Helpers here never commit: the caller owns the transaction, so checks and the append are one
atomic step.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.events import SCHEMA_VERSION, RecordedEvent

EVENTS_CHANNEL = "kaohe_events"
PROJECTION_CHANNEL = "kaohe_projection"
# The key of the append lock (taken by the log's INSERT trigger). See `append`.
APPEND_LOCK_KEY = 0x6B616F6865
COLUMNS = (
    "event_id, global_position, stream_id, stream_version, type, schema_version, "
    "occurred_at, recorded_at, actor, data, metadata"
)


@dataclass(slots=True)
class NewRecord:
    """An event that passed its checks and has its stream version, ready to be appended."""

    event_id: UUID
    stream_id: str
    stream_version: int
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    metadata: dict[str, Any]
    actor: dict[str, Any] | None
    content_hash: bytes


def content_hash(type_name: str, occurred_at: datetime, data: dict[str, Any], metadata: dict[str, Any]) -> bytes:
    """Hash of what the client said; equal hashes under one event id make a retry, not a conflict."""
    canonical = orjson.dumps(
        [type_name, occurred_at.astimezone(UTC).isoformat(), data, metadata],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).digest()


async def append(conn: AsyncConnection, records: Sequence[NewRecord]) -> list[dict[str, Any]]:
    """Append records in order; return their positions. Raises IntegrityError on a version race.

    The ordering trap: a sequence hands out positions at INSERT, but transactions commit in
    another order, so a reader at checkpoint 11 could miss 10 if 10 commits later. Appends are
    serialised instead: a BEFORE INSERT statement trigger on the log takes a transaction-level
    advisory lock before any row draws its position, and holds it until commit, so positions
    become visible in increasing order and a reader may simply read `global_position >
    checkpoint`. We prefer this to xid8 snapshots because the fold and time travel are defined by
    global position, which is then also commit order, and because the checks ingest made before
    the INSERT stay valid: they read immutable facts, and the stream-local ones are protected by
    the unique (stream_id, stream_version). The lock covers only this one INSERT (with its NOTIFY
    trigger) and the COMMIT, so the serial section is short; being in the database, it also holds
    for a writer that bypasses this function. Positions come from the column default
    `eventlog.next_position()`, which draws only under that lock; the log's row trigger refuses an
    explicit position (shared/log_partitions.py).
    """
    result = await conn.execute(
        text(
            """
            INSERT INTO eventlog.events
                (event_id, stream_id, stream_version, type, schema_version, occurred_at,
                 actor, data, metadata, content_hash)
            SELECT e, s, v, t, :schema_version, o, a, d, m, h
            FROM unnest(CAST(:ids AS uuid[]), CAST(:streams AS text[]), CAST(:versions AS int[]),
                        CAST(:types AS text[]), CAST(:occurred AS timestamptz[]),
                        CAST(:actors AS jsonb[]), CAST(:datas AS jsonb[]), CAST(:metas AS jsonb[]),
                        CAST(:hashes AS bytea[]))
                 WITH ORDINALITY AS r(e, s, v, t, o, a, d, m, h, n)
            ORDER BY n
            RETURNING event_id, global_position, stream_id, stream_version, recorded_at
            """
        ),
        {
            "schema_version": SCHEMA_VERSION,
            "ids": [r.event_id for r in records],
            "streams": [r.stream_id for r in records],
            "versions": [r.stream_version for r in records],
            "types": [r.type for r in records],
            "occurred": [r.occurred_at for r in records],
            "actors": [orjson.dumps(r.actor).decode() for r in records],
            "datas": [orjson.dumps(r.data).decode() for r in records],
            "metas": [orjson.dumps(r.metadata).decode() for r in records],
            "hashes": [r.content_hash for r in records],
        },
    )
    return sorted((dict(row._mapping) for row in result), key=lambda row: row["global_position"])


def _recorded(row: Any) -> RecordedEvent:
    return RecordedEvent.model_construct(**dict(row._mapping))


async def read_all(
    conn: AsyncConnection,
    *,
    after: int = 0,
    limit: int = 100,
    type_name: str | None = None,
    stream_id: str | None = None,
) -> list[RecordedEvent]:
    """Events after a position in global order, optionally of one type or stream."""
    clauses = ["global_position > :after"]
    params: dict[str, Any] = {"after": after, "limit": limit}
    if type_name:
        clauses.append("type = :type")
        params["type"] = type_name
    if stream_id:
        clauses.append("stream_id = :stream")
        params["stream"] = stream_id
    result = await conn.execute(
        text(
            f"SELECT {COLUMNS} FROM eventlog.events WHERE {' AND '.join(clauses)} ORDER BY global_position LIMIT :limit"
        ),
        params,
    )
    return [_recorded(row) for row in result]


# The log is partitioned by position (shared/log_partitions.py): stream and id lookups find their
# positions in the unpartitioned key table, then read each row by position, which prunes to one
# partition per row (run-time pruning of the parameterised scan).
_E_COLUMNS = ", ".join(f"e.{column.strip()}" for column in COLUMNS.split(","))
_FROM_KEYS = "FROM eventlog.event_keys k JOIN eventlog.events e USING (global_position)"
_BY_KEYS = f"SELECT {_E_COLUMNS} {_FROM_KEYS}"


async def read_stream(conn: AsyncConnection, stream_id: str) -> list[RecordedEvent]:
    result = await conn.execute(
        text(f"{_BY_KEYS} WHERE k.stream_id = :stream ORDER BY k.stream_version"),
        {"stream": stream_id},
    )
    return [_recorded(row) for row in result]


async def read_streams(conn: AsyncConnection, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
    """Several streams at once, each in version order; absent streams map to []."""
    found: dict[str, list[RecordedEvent]] = {stream: [] for stream in stream_ids}
    if not stream_ids:
        return found
    result = await conn.execute(
        text(f"{_BY_KEYS} WHERE k.stream_id = ANY(CAST(:streams AS text[])) ORDER BY k.stream_id, k.stream_version"),
        {"streams": list(stream_ids)},
    )
    for row in result:
        event = _recorded(row)
        found[event.stream_id].append(event)
    return found


async def find_events(conn: AsyncConnection, event_ids: Sequence[UUID]) -> dict[UUID, tuple[RecordedEvent, bytes]]:
    """Stored events by id, with their content hashes."""
    if not event_ids:
        return {}
    result = await conn.execute(
        text(f"SELECT {_E_COLUMNS}, e.content_hash {_FROM_KEYS} WHERE k.event_id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": list(event_ids)},
    )
    found = {}
    for row in result:
        mapping = dict(row._mapping)
        digest = bytes(mapping.pop("content_hash"))
        found[mapping["event_id"]] = (RecordedEvent.model_construct(**mapping), digest)
    return found


async def head_position(conn: AsyncConnection) -> int:
    result = await conn.execute(text("SELECT coalesce(max(global_position), 0) FROM eventlog.events"))
    return int(result.scalar_one())


async def position_at(conn: AsyncConnection, moment: datetime) -> int:
    """The last position recorded at or before `moment` (0 when none)."""
    result = await conn.execute(
        text("SELECT coalesce(max(global_position), 0) FROM eventlog.events WHERE recorded_at <= :moment"),
        {"moment": moment},
    )
    return int(result.scalar_one())


# --- the append path on raw asyncpg (ingest's hot path: no SQLAlchemy layer per request) ------------
# Plain INSERT/COPY/SELECT against eventlog.events, so they work on a plain or a partitioned log.
_INSERT_RAW = """
    INSERT INTO eventlog.events
        (event_id, stream_id, stream_version, type, schema_version, occurred_at, actor, data, metadata, content_hash)
    SELECT e, s, v, t, $1, o, a, d, m, h
    FROM unnest($2::uuid[], $3::text[], $4::int[], $5::text[], $6::timestamptz[],
                $7::jsonb[], $8::jsonb[], $9::jsonb[], $10::bytea[])
         WITH ORDINALITY AS r(e, s, v, t, o, a, d, m, h, n)
    ORDER BY n
    RETURNING global_position, recorded_at
"""
COPY_COLUMNS = (
    "event_id",
    "stream_id",
    "stream_version",
    "type",
    "schema_version",
    "occurred_at",
    "actor",
    "data",
    "metadata",
    "content_hash",
)
# From this many records on, a group goes in by binary COPY (then its positions are read back).
COPY_FROM = 64


async def append_raw(conn: Any, records: Sequence[NewRecord]) -> list[tuple[int, datetime]]:
    """`append` on a raw asyncpg connection inside the caller's transaction: (global_position,
    recorded_at) per record, in the records' order. The log's triggers fire for
    both shapes (the order lock is a statement-level BEFORE INSERT trigger, which COPY fires too).
    Raises asyncpg's UniqueViolationError on a version or event id race."""
    if len(records) >= COPY_FROM:
        await conn.copy_records_to_table(
            "events",
            schema_name="eventlog",
            columns=COPY_COLUMNS,
            records=[
                (
                    r.event_id,
                    r.stream_id,
                    r.stream_version,
                    r.type,
                    SCHEMA_VERSION,
                    r.occurred_at,
                    r.actor,
                    r.data,
                    r.metadata,
                    r.content_hash,
                )
                for r in records
            ],
        )
        placed = {
            row[0]: (row[1], row[2])
            for row in await conn.fetch(
                f"SELECT k.event_id, k.global_position, e.recorded_at {_FROM_KEYS} WHERE k.event_id = ANY($1::uuid[])",
                [r.event_id for r in records],
            )
        }
        return [placed[r.event_id] for r in records]
    rows = await conn.fetch(
        _INSERT_RAW,
        SCHEMA_VERSION,
        [r.event_id for r in records],
        [r.stream_id for r in records],
        [r.stream_version for r in records],
        [r.type for r in records],
        [r.occurred_at for r in records],
        [r.actor for r in records],
        [r.data for r in records],
        [r.metadata for r in records],
        [r.content_hash for r in records],
    )
    return rows


async def find_stored_raw(conn: Any, event_ids: Sequence[UUID]) -> dict[UUID, tuple[RecordedEvent, bytes]]:
    """`find_events` on a raw asyncpg connection."""
    if not event_ids:
        return {}
    found = {}
    for row in await conn.fetch(
        f"SELECT {_E_COLUMNS}, e.content_hash {_FROM_KEYS} WHERE k.event_id = ANY($1::uuid[])", list(event_ids)
    ):
        mapping = dict(row)
        digest = bytes(mapping.pop("content_hash"))
        found[mapping["event_id"]] = (RecordedEvent.model_construct(**mapping), digest)
    return found


async def stream_tails_raw(conn: Any, known: dict[str, int]) -> list[tuple[str, int, UUID, str, dict[str, Any], int]]:
    """(stream, version, event_id, type, data, position) of every event after the known version of each
    stream (found in the key table: the partitions have no index by stream)."""
    if not known:
        return []
    return await conn.fetch(
        """
        SELECT e.stream_id, e.stream_version, e.event_id, e.type, e.data, e.global_position
        FROM unnest($1::text[], $2::int[]) AS t(stream_id, version)
        JOIN eventlog.event_keys k ON k.stream_id = t.stream_id AND k.stream_version > t.version
        JOIN eventlog.events e USING (global_position)
        ORDER BY e.stream_id, e.stream_version
        """,
        list(known),
        list(known.values()),
    )
