"""`kaohe import FILE.xlsx|csv`: an office's adoption register (采用登记表) into the log.

Each row becomes `item.submitted` (once per unit and title), `item.adopted`, and `item.endorsed`
when 批示 is filled, posted through POST /v1/events/batch. Event ids are UUIDv5 of the row's
content, so importing the same file again changes nothing: every event comes back a duplicate.
A row the register cannot map (unknown unit, channel, …) or the ingest refuses is reported with its
row number and why, and the other rows are still imported. `--dry-run` maps and checks the rows
but posts nothing. Exit 0 when every row is in, 1 when some row was bad, 2 when the file or the
service could not be used at all.
"""

import argparse
import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from shared.policy_files import load_policies
from shared.settings import Settings
from tools.demo import admin_key
from tools.register_file import Directory, RawRow, RegisterError, Row, map_row, names_of, read_rows, write_template
from tools.terminal import console, progress, table
from tools.urls import service_url

# Fixed forever: changing it would give every imported row new event ids.
NAMESPACE = uuid.UUID("6f1c3c2e-8a53-5d0e-9b5e-6b61f0c2a7d4")
ROWS_PER_BATCH = 200
EVENT_HOUR = 10  # a register has dates only; events are dated 10:00 district time


@dataclass
class Planned:
    """The events of one row (the item's submission only with the item's first row)."""

    row: Row
    events: list[dict[str, Any]]


@dataclass
class Report:
    rows: int = 0
    imported: int = 0  # rows with at least one new event
    unchanged: int = 0  # rows whose events were all stored already
    bad: list[tuple[int, str]] = field(default_factory=list)
    by_type: Counter = field(default_factory=Counter)
    appended: int = 0
    duplicates: int = 0


def _id(*parts: Any) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def item_id_of(row: Row) -> str:
    """One item per unit and title: a register lists each adoption, and an item may be adopted twice."""
    return "imp-" + uuid.uuid5(NAMESPACE, f"item\x1f{row.unit_id}\x1f{row.title}").hex[:24]


def plan(rows: list[Row], zone: ZoneInfo) -> list[Planned]:
    """The events of each row, in an order the ingest accepts (an item's submission before its
    adoptions); the submission is dated by the item's earliest row."""
    first_day: dict[str, Any] = {}
    for row in rows:
        item = item_id_of(row)
        first_day[item] = min(first_day.get(item, row.day), row.day)
    submitted: set[str] = set()
    seen: set[str] = set()  # a row repeated in the register gives the same events: posted once
    planned = []
    for row in sorted(rows, key=lambda r: (r.day, r.number)):
        item = item_id_of(row)

        def at(day) -> str:
            return f"{day.isoformat()}T{EVENT_HOUR:02d}:00:00" + _offset(day, zone)

        events = []
        if item not in submitted:
            submitted.add(item)
            data: dict[str, Any] = {"item_id": item, "unit_id": row.unit_id, "title": row.title, "kind": row.kind}
            if row.authors:
                data["authors"] = row.authors
            events.append(_event("item.submitted", at(first_day[item]), data))
        adopted: dict[str, Any] = {"item_id": item, "channel": row.channel}
        if row.publication:
            adopted["publication"] = row.publication
        if row.issue:
            adopted["issue"] = row.issue
        events.append(_event("item.adopted", at(row.day), adopted))
        if row.endorsement:
            level, leader = row.endorsement
            endorsed = {"item_id": item, "level": level, **({"leader": leader} if leader else {})}
            events.append(_event("item.endorsed", at(row.day), endorsed))
        fresh = [event for event in events if event["event_id"] not in seen]
        seen.update(event["event_id"] for event in fresh)
        planned.append(Planned(row, fresh))
    return planned


def _offset(day, zone: ZoneInfo) -> str:
    from datetime import datetime

    offset = datetime(day.year, day.month, day.day, EVENT_HOUR, tzinfo=zone).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def _event(type_name: str, occurred_at: str, data: dict[str, Any]) -> dict[str, Any]:
    body = {"type": type_name, "occurred_at": occurred_at, "data": data}
    return {"event_id": _id(type_name, occurred_at, orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()), **body}


async def read_directory(client: httpx.AsyncClient) -> Directory:
    """Units and officers from the log (GET /v1/events?type=…, page by page)."""
    units: dict[str, str] = {}
    officers: dict[str, tuple[str, str]] = {}
    for type_name in ("unit.registered", "officer.registered"):
        after = 0
        while True:
            response = await client.get("/v1/events", params={"type": type_name, "after": after, "limit": 1000})
            response.raise_for_status()
            page = response.json()
            for event in page["events"]:
                data = event["data"]
                if type_name == "unit.registered":
                    units[data["unit_id"]] = data["name"]
                else:
                    officers[data["officer_id"]] = (data["unit_id"], data["name"])
            if not page["events"]:
                break
            after = page["next_after"]
    settings = Settings()
    channels, levels = names_of(load_policies(settings.policy_dir, settings.zone))
    return Directory(units, officers, channels, levels)


def _refusal_text(error: dict[str, Any]) -> str:
    code = error.get("code") or ""
    return f"服务拒收（{code}）：{error.get('msg', '')}" if code else f"服务拒收：{error.get('msg', '')}"


async def post_rows(client: httpx.AsyncClient, batch: list[Planned], report: Report) -> None:
    """Post the rows' events in one batch. A refusal names the bad events by index: their rows are
    reported and taken out (an item whose submission is refused takes all its rows along), and the
    rest is posted again."""
    pending = list(batch)
    while pending:
        events = [event for planned in pending for event in planned.events]
        owner = [planned for planned in pending for _ in planned.events]
        response = await client.post(
            "/v1/events/batch",
            content=orjson.dumps({"events": events}),
            headers={"content-type": "application/json"},
        )
        if response.status_code in (200, 201):
            results = iter(response.json()["results"])
            for planned in pending:
                fresh = False
                for event in planned.events:
                    result = next(results)
                    report.by_type[event["type"]] += 1
                    if result["duplicate"]:
                        report.duplicates += 1
                    else:
                        report.appended += 1
                        fresh = True
                report.imported += fresh
                report.unchanged += not fresh
            return
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        indexed = [e for e in problem.get("errors", []) if isinstance(e.get("index"), int) and e["index"] < len(events)]
        if response.status_code in (401, 403) or not indexed:
            raise ServiceRefused(f"HTTP {response.status_code} {problem.get('code', '')}: {problem.get('detail', '')}")
        dropped: set[int] = set()
        for error in indexed:
            event, planned = events[error["index"]], owner[error["index"]]
            if event["type"] == "item.submitted":
                item = event["data"]["item_id"]
                for other in pending:
                    if item_id_of(other.row) == item and id(other) not in dropped:
                        dropped.add(id(other))
                        report.bad.append((other.row.number, _refusal_text(error)))
            elif id(planned) not in dropped:
                dropped.add(id(planned))
                report.bad.append((planned.row.number, _refusal_text(error)))
                # the item's submission, when it rode on this row, moves to the item's next row
                submission = [e for e in planned.events if e["type"] == "item.submitted"]
                later = [p for p in pending if p is not planned and item_id_of(p.row) == item_id_of(planned.row)]
                if submission and later and id(later[0]) not in dropped:
                    later[0].events.insert(0, submission[0])
        pending = [planned for planned in pending if id(planned) not in dropped]


class ServiceRefused(RuntimeError):
    """The ingest API refused in a way no row explains (a key without the right, …)."""


async def run_import(args: argparse.Namespace, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    out = console()
    path = Path(args.file)
    if not path.is_file():
        out.print(f"kaohe import: 找不到文件 {path}", style="red")
        return 2
    try:
        raw_rows: list[RawRow] = read_rows(path)
    except (RegisterError, OSError, ValueError) as exc:
        out.print(f"kaohe import: {path.name}: {exc}", style="red")
        return 2
    key = admin_key(args.key)
    if not key:
        out.print("kaohe import: 没有密钥：请用 --key 或设置 KAOHE_ADMIN_KEY（办公室或管理员密钥）", style="red")
        return 2
    zone = Settings().zone
    report = Report(rows=len(raw_rows))
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(base_url=args.url, transport=transport, timeout=120, headers=headers) as client:
            directory = await read_directory(client)
            rows: list[Row] = []
            for raw in raw_rows:
                try:
                    rows.append(map_row(raw, directory))
                except ValueError as exc:
                    report.bad.append((raw.number, str(exc)))
            planned = plan(rows, zone)
            if args.dry_run:
                for item in planned:
                    for event in item.events:
                        report.by_type[event["type"]] += 1
            else:
                with progress(out) as bar:
                    task = bar.add_task("导入", total=len(planned))
                    for start in range(0, len(planned), ROWS_PER_BATCH):
                        chunk = planned[start : start + ROWS_PER_BATCH]
                        await post_rows(client, chunk, report)
                        bar.advance(task, len(chunk))
    except ServiceRefused as exc:
        out.print(f"kaohe import: 服务拒绝：{exc}", style="red")
        return 2
    except httpx.HTTPStatusError as exc:
        out.print(
            f"kaohe import: 读取单位和信息员失败：HTTP {exc.response.status_code}（需要办公室或管理员密钥）",
            style="red",
        )
        return 2
    except httpx.HTTPError as exc:
        out.print(f"kaohe import: 无法连接 ingest 服务 {args.url}：{exc!r}", style="red")
        return 2
    _summary(out, path, report, dry_run=args.dry_run, good=len(planned))
    return 1 if report.bad else 0


def _summary(out, path: Path, report: Report, *, dry_run: bool, good: int) -> None:
    if report.bad:
        bad = table("有问题的行", ("行号", "原因"))
        for number, why in sorted(report.bad):
            bad.add_row(str(number), why)
        out.print(bad)
    if dry_run:
        out.print(f"{path.name}：共 {report.rows} 行，可导入 {good} 行，有问题 {len(report.bad)} 行（试运行，未提交）")
    else:
        out.print(
            f"{path.name}：共 {report.rows} 行，新导入 {report.imported} 行，已导入过（无变化）{report.unchanged} 行，"
            f"有问题 {len(report.bad)} 行；事件新增 {report.appended} 个，重复 {report.duplicates} 个"
        )
    counts = table("事件", ("类型", "数量"))
    for type_name, count in sorted(report.by_type.items()):
        counts.add_row(type_name, str(count))
    out.print(counts)


def run(args: argparse.Namespace) -> int:
    if args.template:
        write_template(Path(args.file))
        console().print(f"已生成模板 {args.file}")
        return 0
    return asyncio.run(run_import(args))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import an adoption register (采用登记表, .xlsx or .csv)",
        description="Import an adoption register: columns 日期, 单位, 标题, 类别, 刊物/渠道, 期号, 作者, 批示. "
        "Idempotent: importing the same file again changes nothing. A template: docs/import-template.xlsx, "
        "or `kaohe import --template FILE.xlsx`.",
    )
    parser.add_argument("file", metavar="FILE", help="the register, .xlsx or .csv")
    parser.add_argument(
        "--url",
        default=service_url("ingest"),
        help="ingest base URL (default: where `make run` serves it)",
    )
    parser.add_argument("--key", help="office or admin key (default: $KAOHE_ADMIN_KEY, then the key of `make run`)")
    parser.add_argument("--dry-run", action="store_true", help="check and map every row, post nothing")
    parser.add_argument("--template", action="store_true", help="write an empty register template to FILE and stop")
    parser.set_defaults(func=run)
