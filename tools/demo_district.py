"""The demo district: units, officers and a year of their 政务信息 work, generated day by day.

Every random choice comes from one seeded `random.Random`, in a fixed order, so a seed gives the
same district every time. Days are generated in order; an event generated on a day but happening
later (an adoption after its submission, a dispute after its deduction, the month's close) waits in a
heap until that day has begun, so events come out in business-time order and memory holds only the
events in flight.
"""

import bisect
import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from shared.domain.policy import PolicySet
from tools import demo_text as words

LOCAL = timezone(timedelta(hours=8))  # Asia/Shanghai has kept +08:00, without DST, since 1991
CLOSE_HOUR = 8  # the office closes a month at 08:00 on the next month's first day
# Shape of the district's activity (not scoring numbers: those are all in the policy).
SEASON = (0.8, 0.6, 1.1, 1.0, 1.0, 1.1, 1.0, 0.9, 1.0, 0.9, 1.1, 1.2)  # submissions by month
KIND_WEIGHTS = {"single": 70, "brief": 22, "research": 8}
ADOPTION_RATE = {"single": 0.6, "brief": 0.55, "research": 0.7}
CHANNEL_WEIGHTS = {
    "district_zhengwu": 40,
    "district_daily": 20,
    "district_bulletin": 30,
    "city": 10,
    "province": 2,
    "website_today": 25,
}
ENDORSEMENT = {  # channel -> (chance an adoption there is endorsed, weights of the levels)
    "district_zhengwu": (0.04, {"district": 1}),
    "district_daily": (0.04, {"district": 1}),
    "district_bulletin": (0.08, {"district": 4, "city": 1}),
    "website_today": (0.01, {"district": 1}),
    "city": (0.10, {"district": 10, "city": 9, "province": 1}),
    "province": (0.2, {"city": 1, "province": 1}),
}
DEDUCTIONS_PER_UNIT_MONTH = 0.05
DEDUCTION_WEIGHTS = {
    "unit.late-reported": 55,
    "unit.solicitation-missed": 25,
    "unit.false-information": 8,
    "unit.criticized": 12,
}
LATE_LEVEL_WEIGHTS = {"district": 6, "city": 3, "province": 1}
LATE_KIND_WEIGHTS = {"late": 7, "missed": 2, "concealed": 1}
CHANNEL_COUNT_WEIGHTS = {1: 70, 2: 25, 3: 5}


@dataclass(slots=True)
class _Unit:
    unit_id: str
    name: str
    kind: str
    activity: float
    topics: tuple[str, ...] = ()
    officers: list[str] = field(default_factory=list)
    target: tuple[int, int] | None = None
    last_item: str | None = None  # an item the unit submitted on an earlier day of this month
    slots: dict[int, tuple[int, int]] = field(default_factory=dict)  # month (0: every month) -> target
    submitted: int = 0  # items submitted in the year
    earned_h1: Decimal = Decimal("0.00")  # H1 reward money as the log will stand (revoked lines left out)


@dataclass(frozen=True, slots=True)
class _Plan:
    """An item the district must contain so that every rule is exercised."""

    kind: str
    channel: str
    endorse: str | None = None
    contributors: bool = False
    revoke: bool = False


def _month_end(year: int, month: int) -> datetime:
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LOCAL)


def close_time(year: int, month: int) -> datetime:
    return _month_end(year, month) + timedelta(hours=CLOSE_HOUR)


def safe_months(year: int, now: datetime) -> int:
    """How many months of `year` (from January) have ended and can be closed by `now`."""
    return sum(1 for month in range(1, 13) if close_time(year, month) <= now)


def _workdays(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    days = [first + timedelta(days=i) for i in range((_month_end(year, month).date() - first).days)]
    return [d for d in days if d.weekday() < 5 and not (month == 1 and d.day <= 3)]  # 元旦 holidays


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


Table = tuple[tuple[Any, ...], tuple[float, ...]]


def _table(weights: Mapping[Any, float]) -> Table:
    return tuple(weights), tuple(itertools.accumulate(weights.values()))


def _draw(rng: random.Random, table: Table) -> Any:
    """One key of a weights table, drawn by weight (random.choices without its per-call set-up)."""
    keys, cumulative = table
    return keys[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _pick(rng: random.Random, weights: Mapping[str, float], k: int) -> list[str]:
    """Up to k distinct keys, drawn by weight."""
    options = dict(weights)
    chosen: list[str] = []
    while options and len(chosen) < k:
        key = _draw(rng, _table(options))
        chosen.append(key)
        del options[key]
    return chosen


def _uuid4(bits: int) -> str:
    """What str(uuid.UUID(int=bits, version=4)) gives, at a fraction of the cost."""
    bits = (bits & ~(0xF000 << 64) | 4 << 76) & ~(0xC000 << 48) | 0x8000 << 48
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


DEDUCTIONS, LATE_LEVELS, LATE_KINDS, CHANNEL_COUNTS = (
    _table(w) for w in (DEDUCTION_WEIGHTS, LATE_LEVEL_WEIGHTS, LATE_KIND_WEIGHTS, CHANNEL_COUNT_WEIGHTS)
)


class District:
    """The demo district's state while its year is generated; `events()` yields the events."""

    def __init__(
        self,
        *,
        seed: int,
        units: int,
        officers: int,
        year: int,
        months: int,
        rate: float,
        scale: float,
        policies: PolicySet,
    ):
        self.rng = random.Random(f"kaohe-demo/{seed}")
        self.ids = random.Random(f"kaohe-demo-ids/{seed}")  # the n-th event has the same id in every run
        self.year, self.months, self.rate, self.scale = year, months, rate, scale
        self.policy = policies.at(datetime(year, 1, 1, tzinfo=LOCAL))
        self.channels = self.policy.accepted_kinds
        self.accepting = {
            kind: {c: CHANNEL_WEIGHTS.get(c, 1) for c, kinds in self.channels.items() if kind in kinds}
            for kind in KIND_WEIGHTS
        }
        self.kinds = _table({k: w for k, w in KIND_WEIGHTS.items() if self.accepting[k]})
        self.endorsement = {channel: (chance, _table(levels)) for channel, (chance, levels) in ENDORSEMENT.items()}
        self.serial = self.items = 0
        self.heap: list[tuple[datetime, int, dict[str, Any]]] = []
        self.plans: deque[_Plan] = deque()
        self.late_candidate: tuple[_Unit, str, str, datetime] | None = None
        self.policies = policies
        self.answers: dict[date, list[tuple[_Unit, str]]] = {}  # a day -> the 约稿 answers due that day
        self.overpay: tuple[_Unit, str, Decimal] | None = None  # an H1 adoption to revoke after payment
        self.units = self._units(units)
        self.officer_count = officers

    # --- events ------------------------------------------------------------------------------------
    def _event(self, type_name: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        self.serial += 1
        return {
            "event_id": _uuid4(self.ids.getrandbits(128)),
            "type": type_name,
            "occurred_at": at.isoformat(),
            "data": data,
            "metadata": {"source": "demo"},
        }

    def _push(self, type_name: str, at: datetime, data: dict[str, Any], *, log_at: datetime | None = None) -> str:
        event = self._event(type_name, at, data)
        heapq.heappush(self.heap, (log_at or at, self.serial, event))
        return event["event_id"]

    def _due(self, before: datetime | None) -> Iterator[dict[str, Any]]:
        while self.heap and (before is None or self.heap[0][0] < before):
            yield heapq.heappop(self.heap)[2]

    def _at(self, day: date, first_hour: float, last_hour: float) -> datetime:
        start = datetime(day.year, day.month, day.day, tzinfo=LOCAL)
        return start + timedelta(seconds=self.rng.randrange(int(first_hour * 3600), int(last_hour * 3600)))

    def _after(self, moment: datetime, days: int, limit: datetime | None = None) -> datetime:
        """Office hours on one of the next `days` days, after `moment` and within the month (`limit`)."""
        limit = limit or self.limit
        later = self._at(moment.date() + timedelta(days=self.rng.randint(1, days)), 9, 18)
        if later > limit:  # the month is ending: later the same evening
            later = moment + (limit - moment) * self.rng.uniform(0.1, 0.5) if limit > moment else moment
        return later.replace(microsecond=0)

    # --- the district --------------------------------------------------------------------------------
    def _units(self, count: int) -> list[_Unit]:
        rng = self.rng
        others = min(len(words.OTHERS), max(1, round(count * 0.075))) if count >= 4 else 0
        departments = min(len(words.DEPARTMENTS), round(count * 0.55))
        names = [(n, "department") for n in words.DEPARTMENTS[:departments]]
        towns = count - departments - others
        names += [(n, "township") for n in words.TOWNSHIPS[:towns]]
        used = {n for n, _ in names}
        length = 2
        while len(names) < count - others:  # a large district: invent township names
            for _attempt in range(50):
                name = "".join(rng.choice(words.PLACE_CHARS) for _ in range(length)) + rng.choice(
                    words.TOWNSHIP_SUFFIXES
                )
                if name not in used:
                    used.add(name)
                    names.append((name, "township"))
                    break
            else:
                length += 1
        names += [(n, "other") for n in words.OTHERS[:others]]
        width = max(3, len(str(count)))
        units = []
        for i, (name, kind) in enumerate(names, start=1):
            own = words.TOWNSHIP_TOPICS if kind == "township" else words.DEPARTMENT_TOPICS.get(name, ())
            units.append(
                _Unit(
                    f"U{i:0{width}d}",
                    name,
                    kind,
                    rng.uniform(0.4, 1.6) * (0.5 if kind == "other" else 1),
                    topics=own * 3 + words.TOPICS,
                )
            )
        return units

    def _setup(self) -> Iterator[dict[str, Any]]:
        rng, year, units = self.rng, self.year, self.units
        weights = [{"department": 1.3, "township": 1.0, "other": 0.6}[u.kind] for u in units]
        count = self.officer_count
        if count >= len(units):
            owners = list(range(len(units))) + rng.choices(range(len(units)), weights, k=count - len(units))
        else:
            owners = rng.sample(range(len(units)), count)
        owners.sort()
        step = max(1, min(20, 30_000 // (len(units) + count)))
        at = datetime(year, 1, 2, 9, tzinfo=LOCAL)
        for unit in units:
            yield self._event("unit.registered", at, {"unit_id": unit.unit_id, "name": unit.name, "kind": unit.kind})
            at += timedelta(seconds=step)
        width = max(4, len(str(count)))
        for number, owner in enumerate(owners, start=1):
            officer_id = f"P{number:0{width}d}"
            given = "".join(rng.choice(words.GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
            yield self._event(
                "officer.registered",
                at,
                {"officer_id": officer_id, "unit_id": units[owner].unit_id, "name": rng.choice(words.SURNAMES) + given},
            )
            units[owner].officers.append(officer_id)
            at += timedelta(seconds=step)
        at = max(at, datetime(year, 1, 3, 9, tzinfo=LOCAL))
        rate = self.rate * self.scale
        # A few units get a target well above what they usually report: they miss months and the year,
        # so the district has shortfalls to advise on and units on the rectification list (E2, E5).
        stretched = set(rng.sample(range(len(units)), min(len(units), max(4, len(units) // 10))))
        for index, unit in enumerate(units):
            if unit.kind == "other" and rng.random() < 0.5:
                continue  # no target: not evaluated monthly, not eligible for selection
            # The office sets a target a little below what the unit usually reports: most months meet it.
            submissions = max(1, math.floor(rate * unit.activity * rng.uniform(0.5, 0.85)))
            if index in stretched:
                submissions = max(2, math.ceil(rate * unit.activity * 1.4))
            unit.target = (submissions, max(1, round(submissions * rng.uniform(0.3, 0.5))))
            slots: list[tuple[int | None, tuple[int, int]]] = [(None, unit.target)]
            if self.months >= 2 and rng.random() < 0.3:  # 春节: a lighter February
                slots.append((2, (max(1, submissions // 2), max(0, unit.target[1] - 1))))
            if self.months >= 12 and rng.random() < 0.15:  # 年末: a heavier December
                slots.append((12, (submissions + 1, unit.target[1])))
            for month, (subs, adopts) in slots:
                unit.slots[month or 0] = (subs, adopts)
                yield self._event(
                    "unit.target-set",
                    at,
                    {"unit_id": unit.unit_id, "year": year, "month": month, "submissions": subs, "adoptions": adopts},
                )
                at += timedelta(seconds=step)

    def _schedule(self) -> dict[date, list[tuple[_Unit, dict[str, Any]]]]:
        """Deductions (every clause), disputes and rule-covering items, spread over the months."""
        specs: list[dict[str, Any]] = [
            {"type": "unit.late-reported", "level": level, "kind": kind}
            for level, kinds in self.policy.document.late_reported.items()
            for kind in kinds
        ]
        specs += [
            {"type": "unit.false-information"},
            {"type": "unit.false-information"},
            {"type": "unit.solicitation-missed"},
            {"type": "unit.criticized"},
        ]
        if len(self.units) >= 2:
            specs += [
                {"type": "unit.late-reported", "level": "district", "kind": "late", "dispute": "revoked"},
                {"type": "unit.solicitation-missed", "dispute": "upheld"},
                {"type": "unit.late-reported", "level": "city", "kind": "late", "dispute": "open"},
            ]
        schedule: dict[date, list[tuple[_Unit, dict[str, Any]]]] = {}
        for index, spec in enumerate(specs):
            month = 1 + index * self.months // len(specs)
            days = _workdays(self.year, month)
            day = self.rng.choice([d for d in days if d.day <= 18] or days)
            schedule.setdefault(day, []).append((self.rng.choice(self.units), spec))
        pairs = [(kind, channel) for channel, kinds in self.channels.items() for kind in kinds]
        plans = [_Plan(kind, channel) for kind, channel in pairs]
        plans += [
            _Plan(*pairs[(3 * i + 3) % len(pairs)], endorse=level)
            for i, level in enumerate(self.policy.document.endorsements)
        ]
        if len(self.units) >= 2:
            plans += [_Plan(*pairs[-3], contributors=True), _Plan(*pairs[-4], contributors=True)]
        plans.append(_Plan(*pairs[0], revoke=True))
        self.plans_by_month = {
            m: [p for i, p in enumerate(plans) if 1 + i * self.months // len(plans) == m]
            for m in range(1, self.months + 1)
        }
        return schedule

    # --- a year, day by day --------------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        yield from self._setup()
        schedule = self._schedule()
        day, end = date(self.year, 1, 1), _month_end(self.year, self.months).date()
        while day < end:
            if day.day == 1:
                self._month_start(day.month)
            yield from self._due(datetime(day.year, day.month, day.day, tzinfo=LOCAL))
            if day in self.workday_set:
                self._workday(day, schedule.pop(day, []))
                if day.month == self.months and day == max(self.workday_set):
                    self._rectifications(day)
            day += timedelta(days=1)
        yield from self._due(None)

    def _month_start(self, month: int) -> None:
        year = self.year
        self.month, self.limit = month, _month_end(year, month) - timedelta(hours=1)
        days = _workdays(year, month)
        self.workday_set = set(days)
        self.per_day = self.rate * self.scale * SEASON[month - 1] / max(1, len(days))
        self.plans.extend(self.plans_by_month[month])
        self._push("period.month-closed", close_time(year, month), {"year": year, "month": month})
        for unit in self.units:
            unit.last_item = None
        if month == 2 and self.late_candidate:
            self._late_adoption_and_reopen(days)
        if month == 4:
            self._retarget(days)
        if month == self.months:
            self._assessments(days)
        if month == 7:
            self._payments(days)
        self._solicitations(month, days)

    def _workday(self, day: date, scheduled: list[tuple[_Unit, dict[str, Any]]]) -> None:
        for unit, spec in scheduled:
            self._deduction(unit, day, spec)
        chance = DEDUCTIONS_PER_UNIT_MONTH / len(self.workday_set)
        for unit in self.units:
            if self.rng.random() < chance:
                kind = _draw(self.rng, DEDUCTIONS)
                self._deduction(unit, day, {"type": kind})
            for _ in range(_poisson(self.rng, self.per_day * unit.activity)):
                unit.last_item = self._item(unit, day)
        for unit, solicitation_id in self.answers.pop(day, []):
            unit.last_item = self._item(unit, day, solicitation_id=solicitation_id)

    def _item(self, unit: _Unit, day: date, *, solicitation_id: str | None = None) -> str:
        rng = self.rng
        plan = self.plans.popleft() if self.plans else None
        kind = plan.kind if plan else _draw(rng, self.kinds)
        self.items += 1
        item_id = f"ZW-{self.year}-{self.items:06d}"
        topic = rng.choice(unit.topics)
        if unit.kind == "township" and rng.random() < 0.2:
            topic = words.SEASONAL_TOPICS[self.month]
        data: dict[str, Any] = {
            "item_id": item_id,
            "unit_id": unit.unit_id,
            "title": rng.choice(words.TITLES[kind]).format(u=unit.name, t=topic),
            "kind": kind,
        }
        if unit.officers and rng.random() < 0.95:
            data["authors"] = rng.sample(unit.officers, min(len(unit.officers), rng.choice((1, 1, 1, 2, 2, 3))))
        if rng.random() < 0.05:
            data["urgent"] = True
        if rng.random() < 0.05:
            data["solicited"] = True
        if solicitation_id:
            data["solicited"], data["solicitation_id"] = True, solicitation_id
        unit.submitted += 1
        submitted = self._at(day, 8.5, 18)
        self._push("item.submitted", submitted, data)
        if plan:
            channels = [plan.channel]
        elif rng.random() < ADOPTION_RATE[kind]:
            channels = _pick(rng, self.accepting[kind], _draw(rng, CHANNEL_COUNTS))
        else:
            channels = []
            if self.month == 1:
                self.late_candidate = (unit, item_id, kind, submitted)
        for channel in channels:
            self._adoption(unit, item_id, kind, channel, self._after(submitted, 8), plan)
        return item_id

    def _adoption(
        self,
        unit: _Unit,
        item_id: str,
        kind: str,
        channel: str,
        at: datetime,
        plan: _Plan | None,
        *,
        log_at: datetime | None = None,
    ) -> None:
        rng = self.rng
        publications, cadence = words.PUBLICATIONS[channel]
        publication = rng.choice(publications)
        day_of_year = at.toordinal() - date(at.year, 1, 1).toordinal() + 1
        number = {
            "day": day_of_year,
            "week": (day_of_year - 1) // 7 + 1,
            "half_month": (at.month - 1) * 2 + (1 if at.day <= 15 else 2),
        }.get(cadence)
        issue = f"{at.year}年第{number}期" if number else f"{at.year}年{at.month}月{at.day}日"
        data: dict[str, Any] = {
            "item_id": item_id,
            "channel": channel,
            "publication": publication,
            "issue": f"{publication} {issue}",
        }
        other_kinds = [k for k in self.channels[channel] if k != kind]
        if plan is None and other_kinds and rng.random() < 0.05:
            data["kind"] = rng.choice(other_kinds)  # the office records it as the kind it decides
        wants_contributors = plan.contributors if plan else channel in ("city", "province") and rng.random() < 0.12
        if wants_contributors and len(self.units) >= 2:
            full = min(self.policy.contribution_points, self.policy.max_extra_points)
            count = min(len(self.units) - 1, rng.randint(1, 3))
            others = [
                u for u in (self.units[i] for i in rng.sample(range(len(self.units)), count + 1)) if u is not unit
            ][:count]
            data["contributors"] = [
                {"unit_id": u.unit_id, **({"extra_points": x} if (x := rng.choice((0, 0, full // 2, full))) else {})}
                for u in others
            ]
        event_id = self._push("item.adopted", at, data, log_at=log_at)
        yuan = self.policies.at(at).adoption[(channel, data.get("kind", kind))].yuan
        if not (plan and plan.revoke):
            self._earn(unit, at, yuan)
            if plan is None and yuan > 0 and at.month <= 6:
                self.overpay = (unit, event_id, yuan)
        if log_at:
            return
        chance, levels = self.endorsement[channel]
        level = plan.endorse if plan else (_draw(rng, levels) if rng.random() < chance else None)
        if level:
            endorsed = self._after(at, 6)
            self._push(
                "item.endorsed",
                endorsed,
                {
                    "item_id": item_id,
                    "level": level,
                    "leader": rng.choice(words.LEADERS[level]),
                    "note": rng.choice(words.ENDORSEMENT_NOTES),
                },
            )
            self._earn(unit, endorsed, self.policies.at(endorsed).endorsement[level].yuan)
        if plan and plan.revoke:
            self._push(
                "event.revoked",
                self._after(at, 3),
                {"target_event_id": event_id, "reason": "采用记录录入有误，予以撤销"},
            )

    def _deduction(self, unit: _Unit, day: date, spec: dict[str, Any]) -> None:
        rng, type_name = self.rng, spec["type"]
        data: dict[str, Any] = {"unit_id": unit.unit_id}
        if type_name == "unit.false-information":
            data["points"] = rng.randint(*self.policy.false_information_range)
            data["note"] = "报送信息数据失实，造成不良影响"
        elif type_name == "unit.late-reported":
            level = spec.get("level") or _draw(rng, LATE_LEVELS)
            kind = spec.get("kind") or _draw(rng, LATE_KINDS)
            data.update(
                level=level,
                kind=kind,
                note=f"{words.LEVEL_NAMES[level]}通报：{unit.name}对"
                f"{rng.choice(words.URGENT_EVENTS)}紧急信息{words.LATE_KINDS[kind]}",
            )
        elif type_name == "unit.solicitation-missed":
            data["solicitation"] = rng.choice(words.SOLICITATIONS)
        else:
            data["bulletin"] = f"政办通报 {self.year}年第{self.month * 2}期"
            data["note"] = "政务信息工作落实不力，予以通报批评"
        if type_name in ("unit.false-information", "unit.late-reported") and unit.last_item and rng.random() < 0.6:
            data["item_id"] = unit.last_item
        if unit.officers and rng.random() < 0.6:
            data["responsible_officers"] = rng.sample(unit.officers, min(len(unit.officers), rng.choice((1, 1, 2))))
        at = self._at(day, 9, 17.5)
        event_id = self._push(type_name, at, data)
        if outcome := spec.get("dispute"):
            self._dispute(unit, event_id, at, outcome, rng.choice(words.DISPUTE_REASONS))

    def _dispute(self, unit: _Unit, event_id: str, at: datetime, outcome: str, reason: str) -> None:
        """The unit disputes a deduction (or its D7 of a 约稿's close); `open` leaves it unresolved."""
        disputed = self._after(at, 4)
        self._push(
            "unit.deduction-disputed",
            disputed,
            {"unit_id": unit.unit_id, "deduction_event_id": event_id, "reason": reason},
        )
        if outcome != "open":
            self._push(
                "unit.dispute-resolved",
                self._after(disputed, 6),
                {
                    "unit_id": unit.unit_id,
                    "deduction_event_id": event_id,
                    "outcome": outcome,
                    "reason": words.RESOLUTIONS[outcome],
                },
            )

    def _late_adoption_and_reopen(self, days: list[date]) -> None:
        """January's close, then an adoption of a January item recorded late, a reopen and a new close."""
        unit, item_id, kind, submitted = self.late_candidate  # type: ignore[misc]
        channel = _draw(self.rng, _table(self.accepting[kind]))
        recorded = self._at(next(d for d in days if d.day >= 3), 10, 11)
        january_end = _month_end(self.year, 1) - timedelta(hours=1)
        self._adoption(unit, item_id, kind, channel, self._after(submitted, 5, january_end), None, log_at=recorded)
        reopened = recorded + timedelta(minutes=30)
        self._push(
            "period.month-reopened",
            reopened,
            {"year": self.year, "month": 1, "reason": "补录1月份采用信息，重新核算月度目标"},
        )
        self._push("period.month-closed", reopened + timedelta(minutes=30), {"year": self.year, "month": 1})

    def _retarget(self, days: list[date]) -> None:
        """A mid-year correction of one unit's yearly target: the later record replaces the earlier one."""
        targeted = [u for u in self.units if u.target]
        if targeted:
            unit = self.rng.choice(targeted)
            subs, adopts = unit.target  # type: ignore[misc]
            unit.target = unit.slots[0] = (subs + 1, adopts)
            self._push(
                "unit.target-set",
                self._at(days[0], 9, 12),
                {
                    "unit_id": unit.unit_id,
                    "year": self.year,
                    "month": None,
                    "submissions": subs + 1,
                    "adoptions": adopts,
                },
            )

    def _assessments(self, days: list[date]) -> None:
        late = [d for d in days if d.day >= 15] or days
        weak = self.rng.randrange(len(self.units))
        strong = (weak + 1) % len(self.units)
        for index, unit in enumerate(self.units):
            inadequate = index == weak or (index != strong and self.rng.random() < 0.1)
            outcome = "inadequate" if inadequate else "adequate"
            self._push(
                "unit.assessed",
                self._at(self.rng.choice(late), 9, 17),
                {
                    "unit_id": unit.unit_id,
                    "year": self.year,
                    "outcome": outcome,
                    "note": words.ASSESSMENT_NOTES[outcome],
                },
            )

    # --- the office's year: 约稿, reward payments, 整改 (rules.md "The office's year") ---------------
    def _earn(self, unit: _Unit, at: datetime, yuan: Decimal) -> None:
        if at.year == self.year and at.month <= 6:
            unit.earned_h1 += yuan

    def _solicitations(self, month: int, days: list[date]) -> None:
        """The month's 约稿 to a few units, answered on time, late or not at all, closed three workdays
        after the deadline (the late and the missing lose D7). The first close's D7 of the missing unit
        is revoked on dispute, the second's of the late unit upheld; the last month's second 约稿 is
        still open when the run ends."""
        rng = self.rng
        if len(days) < 10:
            return
        first = rng.randint(1, 5)
        issue, due, close = days[first], days[first + 5], days[first + 8]
        asked = sorted(rng.sample(self.units, min(len(self.units), rng.randint(4, 7))), key=lambda u: u.unit_id)
        # the first two 约稿 have one unit of each kind (for the disputes below); later ones mostly on time
        outcomes = ["on_time", "late", "missing"] if month <= 2 else []
        outcomes += rng.choices(("on_time", "late", "missing"), (17, 2, 1), k=9)
        solicitation_id = f"YG-{self.year}-{month:02d}"
        deadline = datetime(due.year, due.month, due.day, 18, tzinfo=LOCAL)
        self._issue(solicitation_id, words.SOLICITATION_TITLES[month - 1], self._at(issue, 9, 10), deadline, asked)
        late = missing = asked[0]
        for unit, outcome in zip(asked, outcomes, strict=False):
            if outcome == "on_time":
                self.answers.setdefault(rng.choice(days[first + 1 : first + 6]), []).append((unit, solicitation_id))
            elif outcome == "late":
                late = unit
                self.answers.setdefault(rng.choice(days[first + 6 : first + 8]), []).append((unit, solicitation_id))
            else:
                missing = unit
        closed = self._at(close, 9, 11)
        close_id = self._push("solicitation.closed", closed, {"solicitation_id": solicitation_id})
        if month <= 2 and len(asked) >= 3:
            disputing, outcome = (missing, "revoked") if month == 1 else (late, "upheld")
            self._dispute(disputing, close_id, closed, outcome, words.CLOSE_DISPUTE_REASON)
        if month == self.months:
            issued = self._at(days[-3], 9, 10)
            deadline = datetime(issued.year, issued.month, issued.day, 18, tzinfo=LOCAL) + timedelta(days=10)
            asked = sorted(rng.sample(self.units, min(len(self.units), 4)), key=lambda u: u.unit_id)
            self._issue(f"{solicitation_id}b", words.OPEN_SOLICITATION_TITLE, issued, deadline, asked)
            for unit in asked[:2]:
                self.answers.setdefault(rng.choice(days[-2:]), []).append((unit, f"{solicitation_id}b"))

    def _issue(self, solicitation_id: str, title: str, at: datetime, deadline: datetime, asked: list[_Unit]) -> None:
        data = {
            "solicitation_id": solicitation_id,
            "title": title,
            "deadline": deadline.isoformat(),
            "unit_ids": [u.unit_id for u in asked],
        }
        self._push("solicitation.issued", at, data)

    def _payments(self, days: list[date]) -> None:
        """July: the office pays each unit's H1 reward as the log then stands; a week later it revokes
        one paid adoption, so that unit's H1 balance goes negative (money to recover)."""
        paid = self._at(days[min(2, len(days) - 1)], 9, 11)
        number = 0
        for unit in self.units:
            if unit.earned_h1 > 0:
                number += 1
                reference = words.PAYMENT_REFERENCE.format(year=self.year, number=number)
                data = {
                    "unit_id": unit.unit_id,
                    "period": f"{self.year}-H1",
                    "amount_yuan": f"{unit.earned_h1:.2f}",
                    "reference": reference,
                }
                self._push("rewards.paid", paid + timedelta(seconds=number), data)
        if self.overpay:
            _unit, event_id, _yuan = self.overpay
            revoked = self._at(days[min(7, len(days) - 1)], 9, 17)
            self._push("event.revoked", revoked, {"target_event_id": event_id, "reason": words.OVERPAY_REVOCATION})

    def _rectifications(self, day: date) -> None:
        """The last workday: units that fell short of their annual submissions (so on the E5 list) hand in
        plans: one awaits review, one is accepted, one returned; at least one is left without a plan."""
        short = [
            u
            for u in self.units
            if u.slots and u.submitted < sum(u.slots.get(m, u.slots.get(0, (0, 0)))[0] for m in range(1, 13))
        ]
        states = ("submitted", "accepted", "returned")[: max(0, min(3, len(short) - 1))]
        for unit, state in zip(self.rng.sample(short, len(states)), states, strict=True):
            at = self._at(day, 9, 12)
            data = {
                "unit_id": unit.unit_id,
                "year": self.year,
                "plan": self.rng.choice(words.RECTIFICATION_PLANS),
                "reference": f"{unit.name}〔{self.year}〕整改方案",
            }
            self._push("unit.rectification-submitted", at, data)
            if state != "submitted":
                reviewed = {
                    "unit_id": unit.unit_id,
                    "year": self.year,
                    "outcome": state,
                    "reason": words.RECTIFICATION_REVIEWS[state],
                }
                self._push("unit.rectification-reviewed", self._at(day, 14, 17.5), reviewed)
