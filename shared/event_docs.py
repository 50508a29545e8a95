"""What the OpenAPI says about events: each `data` field in Chinese and English, and an example
body for every event type (each is checked against the models by tests/http/test_openapi_docs.py)."""

from typing import Any

from shared.domain.names import ASSESSMENT_NAMES, DISPUTE_OUTCOME_NAMES, ITEM_KIND_NAMES, LATE_KIND_NAMES
from shared.domain.policy import Policy


def codes(names: dict[str, str]) -> str:
    """`city` 市级刊物, `province` 省级刊物, …: the codes a field takes, with their Chinese names."""
    return "; ".join(f"`{code}` {name}" for code, name in names.items())


# By field name; where a name means different things in different events, by "<type>:<field>".
FIELD_DOCS: dict[str, str] = {
    "unit_id": "单位编号（平台自己的编号，1–64 位字母、数字、`_ . -`）/ The unit's id (the platform's own).",
    "officer_id": "信息员编号 / The officer's id.",
    "item_id": "信息编号 / The item's id.",
    "name": "名称（中文，1–200 字）/ Name, Unicode text of 1–200 characters.",
    "title": "信息标题 / Title of the item.",
    "year": "年度 / Year (2000–2100).",
    "month": "月份（1–12）/ Month (1–12).",
    "unit.target-set:month": "月份（1–12；不填表示每个月）/ Month (1–12), or null for every month of the year.",
    "submissions": "报送条数目标 / Target number of submitted items.",
    "adoptions": "采用条数目标 / Target number of adoptions.",
    "item.submitted:kind": f"信息类别 / Item kind: {codes(ITEM_KIND_NAMES)}.",
    "item.adopted:kind": f"采用时的信息类别（不填则为报送时的类别）/ Kind as adopted (default: the item's): "
    f"{codes(ITEM_KIND_NAMES)}.",
    "unit.late-reported:kind": f"迟报、漏报或瞒报 / Late, missed or concealed: {codes(LATE_KIND_NAMES)}.",
    "authors": "作者（本单位信息员编号列表）/ Authors: officer ids of the item's unit.",
    "urgent": "紧急信息 / Urgent item.",
    "solicited": "约稿 / Written on the office's request (约稿).",
    "publication": "刊物名称 / Name of the publication.",
    "issue": "期号 / Issue, e.g. 政府专报 2026年第5期.",
    "contributors": "协办单位及其加分 / Contributing units and their extra points.",
    "extra_points": "额外加分（≥ 0）/ Extra points for a contributing unit (≥ 0).",
    "leader": "批示领导 / The leader who endorsed it.",
    "note": "备注（≤ 2000 字）/ Free note (≤ 2000 characters).",
    "points": "扣分（50–100）/ Points deducted (50–100).",
    "responsible_officers": "责任信息员编号 / Officers held responsible.",
    "solicitation": "约稿名称 / The solicitation that was missed.",
    "bulletin": "通报名称或文号 / The bulletin that criticised the unit.",
    "deduction_event_id": "被申诉的扣分事件编号（UUID）/ event_id of the deduction disputed.",
    "reason": "理由 / Reason.",
    "evidence": "证据说明 / Evidence offered.",
    "unit.assessed:outcome": f"年度考评结果 / Outcome: {codes(ASSESSMENT_NAMES)}.",
    "unit.dispute-resolved:outcome": f"申诉处理结果 / Outcome: {codes(DISPUTE_OUTCOME_NAMES)}.",
    "target_event_id": "被撤销事件的编号（UUID）/ event_id of the event revoked.",
    "solicitation_id": "约稿编号 / The solicitation's id (约稿).",
    "deadline": "报送截止时间（带时区）/ Deadline, a time with its UTC offset.",
    "unit_ids": "约稿对象单位（不填或为空：此前登记的全部单位）/ Units asked; none or empty: every unit "
    "registered before it.",
    "plan": "整改方案（≤ 2000 字）/ The rectification plan (≤ 2000 characters).",
    "unit.rectification-submitted:reference": "方案文号或附件 / Reference of the plan (document number, attachment).",
    "unit.rectification-reviewed:outcome": "审核结果 / Outcome: `accepted` 通过; `returned` 退回修改.",
    "rewards.paid:period": "奖励所属半年 / Half-year paid for: YYYY-H1 or YYYY-H2.",
    "amount_yuan": "支付金额（元，两位小数的字符串，> 0）/ Amount paid, a two-decimal string (> 0).",
    "rewards.paid:reference": "付款凭证号 / Payment voucher reference.",
}
ENVELOPE_DOCS: dict[str, str] = {
    "event_id": "事件编号（UUID，可选）：同一编号再次提交时返回 duplicate，不重复记录 / Optional UUID; "
    "posting the same event_id again is answered as a duplicate and changes nothing.",
    "occurred_at": "发生时间（ISO 8601，带时区，如 2026-03-05T10:00:00+08:00）/ When it happened, with an offset.",
    "metadata": "附加信息（≤ 4 KiB，原样保存）/ Free metadata kept as given (≤ 4 KiB).",
    "expected_version": "乐观并发：事件流的当前版本，不符时 409 / Optimistic concurrency on the stream: 409 on mismatch.",
    "type": "事件类型 / The event type.",
    "data": "事件内容，随类型而定 / The event's data, per type.",
}
TYPE_NAMES: dict[str, str] = {
    "unit.registered": "单位登记",
    "officer.registered": "信息员登记",
    "unit.target-set": "下达报送/采用目标",
    "unit.assessed": "年度考评",
    "item.submitted": "信息报送",
    "item.adopted": "信息采用",
    "item.endorsed": "领导批示",
    "unit.false-information": "报送虚假信息扣分",
    "unit.late-reported": "迟报、漏报、瞒报扣分",
    "unit.solicitation-missed": "未完成约稿扣分",
    "unit.criticized": "通报批评扣分",
    "unit.deduction-disputed": "单位对扣分提出申诉",
    "unit.dispute-resolved": "申诉处理",
    "event.revoked": "撤销事件",
    "period.month-closed": "月度结账",
    "period.month-reopened": "月度重新开账",
    "solicitation.issued": "发布约稿",
    "solicitation.closed": "约稿截止",
    "unit.rectification-submitted": "提交整改方案",
    "unit.rectification-reviewed": "整改方案审核",
    "rewards.paid": "奖励发放",
}

_AT = "2026-03-05T10:00:00+08:00"
_DEDUCTION = "0b7f3c7e-5d4a-4a53-9a50-7c1f1f2f8a11"


def _example(type_name: str, data: dict[str, Any], at: str = _AT) -> dict[str, Any]:
    return {"type": type_name, "occurred_at": at, "data": data}


EXAMPLES: dict[str, dict[str, Any]] = {
    "unit.registered": _example("unit.registered", {"unit_id": "U1", "name": "区发改委", "kind": "department"}),
    "officer.registered": _example("officer.registered", {"officer_id": "P1", "unit_id": "U1", "name": "张明"}),
    "unit.target-set": _example(
        "unit.target-set", {"unit_id": "U1", "year": 2026, "month": None, "submissions": 4, "adoptions": 1}
    ),
    "unit.assessed": _example(
        "unit.assessed", {"unit_id": "U1", "year": 2026, "outcome": "adequate"}, "2027-01-10T10:00:00+08:00"
    ),
    "item.submitted": _example(
        "item.submitted",
        {"item_id": "I1", "unit_id": "U1", "title": "关于一季度经济运行的报告", "kind": "single", "authors": ["P1"]},
    ),
    "item.adopted": _example(
        "item.adopted", {"item_id": "I1", "channel": "city", "publication": "政府专报", "issue": "2026年第5期"}
    ),
    "item.endorsed": _example("item.endorsed", {"item_id": "I1", "level": "city", "leader": "李市长"}),
    "unit.false-information": _example(
        "unit.false-information", {"unit_id": "U1", "points": 50, "item_id": "I1", "note": "数据与统计局口径不符"}
    ),
    "unit.late-reported": _example(
        "unit.late-reported", {"unit_id": "U1", "level": "district", "kind": "late", "note": "突发事件迟报 2 小时"}
    ),
    "unit.solicitation-missed": _example(
        "unit.solicitation-missed", {"unit_id": "U1", "solicitation": "关于春耕生产情况的约稿"}
    ),
    "unit.criticized": _example("unit.criticized", {"unit_id": "U1", "bulletin": "区政办通〔2026〕3号"}),
    "unit.deduction-disputed": _example(
        "unit.deduction-disputed",
        {"unit_id": "U1", "deduction_event_id": _DEDUCTION, "reason": "已按时报送，有系统回执"},
    ),
    "unit.dispute-resolved": _example(
        "unit.dispute-resolved",
        {"unit_id": "U1", "deduction_event_id": _DEDUCTION, "outcome": "revoked", "reason": "回执属实"},
    ),
    "event.revoked": _example("event.revoked", {"target_event_id": _DEDUCTION, "reason": "重复录入"}),
    "period.month-closed": _example("period.month-closed", {"year": 2026, "month": 3}, "2026-04-01T09:00:00+08:00"),
    "period.month-reopened": _example(
        "period.month-reopened", {"year": 2026, "month": 3, "reason": "补录漏登的采用"}, "2026-04-02T09:00:00+08:00"
    ),
    "solicitation.issued": _example(
        "solicitation.issued",
        {"solicitation_id": "YG-2026-01", "title": "关于春耕生产情况的约稿", "deadline": "2026-03-20T18:00:00+08:00"},
    ),
    "solicitation.closed": _example(
        "solicitation.closed", {"solicitation_id": "YG-2026-01"}, "2026-03-20T18:00:00+08:00"
    ),
    "unit.rectification-submitted": _example(
        "unit.rectification-submitted", {"unit_id": "U1", "year": 2026, "plan": "明确专人负责，每周报送不少于一条"}
    ),
    "unit.rectification-reviewed": _example(
        "unit.rectification-reviewed", {"unit_id": "U1", "year": 2026, "outcome": "accepted", "reason": "措施具体可行"}
    ),
    "rewards.paid": _example(
        "rewards.paid",
        {"unit_id": "U1", "period": "2026-H1", "amount_yuan": "100.00", "reference": "区财拨〔2026〕12号"},
    ),
}


def policy_docs(policy: Policy) -> dict[str, str]:
    """The fields whose codes the policy defines (channels, levels, unit kinds), with its names."""
    return {
        "unit.registered:kind": f"单位类别 / Unit category: {codes(policy.unit_kind_names)}.",
        "channel": f"采用刊物或渠道（政策 {policy.version}）/ Where it was adopted (policy {policy.version}): "
        f"{codes(policy.channel_names)}.",
        "level": f"级别（政策 {policy.version}）/ Level (policy {policy.version}): {codes(policy.level_names)}.",
    }


def field_doc(type_name: str, field: str, policy: Policy) -> str | None:
    docs = policy_docs(policy)
    for key in (f"{type_name}:{field}", field):
        found = FIELD_DOCS.get(key) or docs.get(key)
        if found:
            return found
    return None
