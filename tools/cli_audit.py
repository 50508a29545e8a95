"""`kaohe audit EVENT_ID`, `kaohe explain UNIT_ID PERIOD`, `kaohe rebuild`: the scoring API, read aloud.

These talk to the scoring service over HTTP (`--url`, default http://127.0.0.1:8002), not to the
database: what they print is exactly what auditors' tools get from the API, and they need only a
key. The key is `--key`, else $KAOHE_ADMIN_KEY, else the key `make run` uses ($KAOHE_BOOTSTRAP_ADMIN_KEY
or .data/admin-key); an auditor key is enough.
"""

import argparse
import asyncio
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import httpx

from tools.demo import admin_key
from tools.urls import service_url

DEFAULT_URL = "http://127.0.0.1:8002"  # with no KAOHE_SCORING_URL, KAOHE_HOST or KAOHE_SCORING_PORT
EXIT_MISMATCH = 3  # `kaohe audit`: the projection disagrees with the replay of the log


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=service_url("scoring"),
        help=f"scoring service base URL (default: $KAOHE_SCORING_URL, else $KAOHE_HOST and $KAOHE_SCORING_PORT "
        f"as for `make run`, else {DEFAULT_URL})",
    )
    common.add_argument(
        "--key",
        help="auditor or admin key (default: $KAOHE_ADMIN_KEY, then the key of "
        "`make run`: $KAOHE_BOOTSTRAP_ADMIN_KEY or .data/admin-key)",
    )

    audit = subparsers.add_parser(
        "audit",
        parents=[common],
        help="explain one deduction: clause, disputes, year totals, replay check",
        description="The derivation of one deduction event. Exits 3 when the stored projection disagrees "
        "with a fresh replay of the log.",
    )
    audit.add_argument("event_id")
    audit.add_argument("--unit", help="the unit whose D7 to audit, when the event is a 约稿's close of several units")
    audit.set_defaults(func=run, command_impl=audit_command)

    explain = subparsers.add_parser(
        "explain",
        parents=[common],
        help="a unit's ledger for a period, line by line",
        description="Every ledger line of a unit for a period, with clause texts.",
    )
    explain.add_argument("unit_id")
    explain.add_argument("period", help="2026, 2026-H1, 2026-Q1 or 2026-03")
    explain.add_argument("--as-of-position", type=int, help="the ledger as it stood after this log position")
    explain.set_defaults(func=run, command_impl=explain_command)

    rebuild = subparsers.add_parser(
        "rebuild",
        parents=[common],
        help="rebuild the projection from the log",
        description="Start a rebuild and show its progress until it is done.",
    )
    rebuild.add_argument("--no-wait", action="store_true", help="print the job id and return")
    rebuild.add_argument("--interval", type=float, default=0.5, help="seconds between progress polls")
    rebuild.set_defaults(func=run, command_impl=rebuild_command)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(run_async(args))


async def run_async(
    args: argparse.Namespace,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the parsed command; `transport` lets a test talk to an in-process app."""
    out, err = out or sys.stdout, err or sys.stderr
    key = admin_key(args.key)
    if not key:
        print(f"kaohe {args.command}: no key: pass --key or set KAOHE_ADMIN_KEY", file=err)
        return 2
    try:
        async with httpx.AsyncClient(
            base_url=args.url, transport=transport, timeout=300, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            return await args.command_impl(client, args, out)
    except ApiError as exc:
        print(f"kaohe {args.command}: {exc}", file=err)
        return 1
    except httpx.HTTPError as exc:
        print(f"kaohe {args.command}: the scoring service at {args.url} did not answer ({exc})", file=err)
        return 1


class ApiError(Exception):
    """A problem-details answer, as one line: status, code and detail."""


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.request(method, path, **kwargs)
    if response.status_code >= 400:
        try:
            problem = response.json()
            raise ApiError(
                terminal_safe(f"{response.status_code} {problem.get('code', '')}: {problem.get('detail', '')}")
            )
        except ValueError:
            raise ApiError(terminal_safe(f"{response.status_code}: {response.text[:200]}")) from None
    return response.json()


# --- kaohe audit ---------------------------------------------------------------------------------


async def audit_command(client: httpx.AsyncClient, args: argparse.Namespace, out: TextIO) -> int:
    params = {"unit_id": args.unit} if getattr(args, "unit", None) else {}
    body = await _call(client, "GET", f"/v1/audit/deductions/{args.event_id}", params=params)
    event, check = body["event"], body["replay_check"]
    actor = event.get("actor") or {}
    status = f"已撤销（撤销事件 {body['revoked_by']}）" if body["revoked"] else "有效"
    crossed = "、".join(str(t) for t in body["thresholds_crossed"]) or "无"
    pairs = [
        ("事件", f"{event['event_id']}  {event['type']}"),
        ("位置", f"{event['global_position']}（{event['stream_id']} 第 {event['stream_version']} 条）"),
        ("业务时间", local(event["occurred_at"])),
        ("记录时间", f"{local(event['recorded_at'])}  记录人 {actor.get('name', '—')}（{actor.get('role', '—')}）"),
        ("元数据", _compact(event.get("metadata")) or "—"),
        ("条款", f"{body['clause']}  {body['clause_text'] or ''}"),
        ("分值", f"{body['points']:+d}（政策 {body['policy_version']}）"),
        ("状态", status),
        (
            "年度扣分",
            f"{body['year_deduction_points_before']} → {body['year_deduction_points_after']}"
            f"（{body['year']} 年，按日志顺序，不含其后的撤销）",
        ),
        ("越过阈值", crossed),
        (
            "重放校验",
            f"重算 {check['recomputed']} · 投影 {check['projected']} · "
            + ("一致" if check["match"] else "不一致！投影与日志重放不符"),
        ),
    ]
    print(f"扣分审计 {body['unit_id']}", file=out)
    print(table(["项目", "内容"], pairs), file=out)
    print(file=out)
    if body["disputes"]:
        rows = []
        for n, dispute in enumerate(body["disputes"], start=1):
            resolution = dispute["resolution"]
            outcome = (
                "处理中"
                if resolution is None
                else {"upheld": "维持", "revoked": "撤销扣分"}.get(resolution["outcome"], resolution["outcome"])
                + f"：{resolution['reason']}"
            )
            rows.append((str(n), local(dispute["recorded_at"]), dispute["reason"], outcome))
        print("申诉记录", file=out)
        print(table(["#", "申诉时间", "理由", "处理结果"], rows), file=out)
    else:
        print("申诉记录：无", file=out)
    return 0 if check["match"] else EXIT_MISMATCH


# --- kaohe explain -------------------------------------------------------------------------------


async def explain_command(client: httpx.AsyncClient, args: argparse.Namespace, out: TextIO) -> int:
    params: dict[str, Any] = {"period": args.period}
    if args.as_of_position is not None:
        params["as_of_position"] = args.as_of_position
    body = await _call(client, "GET", f"/v1/units/{args.unit_id}/ledger", params=params)
    rows = []
    for entry in body["entries"]:
        state = "已撤销" if entry["revoked_by"] else ""
        text = entry["clause_text"] or ""
        if entry["note"]:
            text += f"（{entry['note']}）"
        rows.append(
            (
                str(entry["global_position"]),
                local(entry["occurred_at"])[:10],
                entry["clause"],
                f"{entry['points']:+d}",
                entry["reward_yuan"],
                state,
                text,
            )
        )
    as_of = "" if args.as_of_position is None else f" · 截至日志位置 {body['position']}"
    print(f"{body['unit_id']} · {body['period']} · 政策 {body['policy_version']}{as_of}", file=out)
    print(table(["位置", "日期", "条款", "分值", "奖励(元)", "状态", "条款内容"], rows), file=out)
    print(
        f"合计：加分 {body['award_points']} · 扣分 {body['deduction_points']} · 净分 {body['net_points']}"
        f" · 奖励 {body['reward_yuan']} 元（已撤销的行不计）",
        file=out,
    )
    return 0


# --- kaohe rebuild -------------------------------------------------------------------------------


async def rebuild_command(
    client: httpx.AsyncClient, args: argparse.Namespace, out: TextIO, sleep: Callable[[float], Any] = asyncio.sleep
) -> int:
    job_id = (await _call(client, "POST", "/v1/projections/rebuild"))["job_id"]
    print(f"rebuild job {job_id}", file=out)
    if args.no_wait:
        return 0
    # On a terminal the line is redrawn in place; piped, only the last one is written (no `\r`).
    live = out.isatty() if hasattr(out, "isatty") else False
    while True:
        job = await _call(client, "GET", f"/v1/projections/rebuild/{job_id}")
        if live:
            out.write("\r" + progress_line(job))
            out.flush()
        if job["state"] != "running":
            break
        await sleep(args.interval)
    out.write(("" if live else progress_line(job)) + "\n")
    if job["state"] == "succeeded":
        print(f"succeeded: {job['schema']} is live at log position {job['position']}", file=out)
        return 0
    print(terminal_safe(f"failed: {job.get('error')}"), file=out)
    return 1


def progress_line(job: dict[str, Any], width: int = 30) -> str:
    if job["state"] == "running" and not job["total"]:
        return "waiting for the projecting instance to start the rebuild…".ljust(width + 40)
    fraction = job["processed"] / job["total"] if job["total"] else 1.0
    filled = int(fraction * width)
    return (
        f"[{'#' * filled}{'-' * (width - filled)}] {fraction:4.0%}  {job['processed']:,}/{job['total']:,} events"
        f"  {job['events_per_second']:,.0f} events/s  {job['state']}"
    )


# --- tables with Chinese text --------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a terminal gives the text: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# Control characters (C0, DEL, C1) and the bidirectional overrides: a unit-supplied reason or name
# holding `\x1b[2J` or U+202E must not clear or rewrite the auditor's terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\n`), never sent raw."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def table(headers: list[str], rows: Sequence[tuple[object, ...]]) -> str:
    """A plain-text table; the last column is left unpadded (it holds the long clause texts)."""
    cells = [[terminal_safe(str(cell)) for cell in row] for row in [list(headers)] + [list(row) for row in rows]]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        padded = [cell + " " * (widths[i] - display_width(cell)) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def local(moment: str) -> str:
    """An API timestamp in the district's time zone ($KAOHE_TIMEZONE, default Asia/Shanghai), to the second."""
    zone = ZoneInfo(os.environ.get("KAOHE_TIMEZONE") or "Asia/Shanghai")
    return datetime.fromisoformat(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _compact(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, dict):
        return "，".join(f"{k}={v}" for k, v in value.items())
    return str(value)
