"""The event types of api.md: one pydantic model per type, a discriminated union over them.

Events are facts named in the past tense. The envelope (`event_id`, `occurred_at`, `metadata`,
`expected_version`) is common; `data` differs per type and is validated strictly.
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
)

SCHEMA_VERSION = 1
METADATA_MAX_BYTES = 4096


def _trim(value: Any) -> Any:
    # str.strip() removes every Unicode white space, U+3000 (ideographic space) included.
    return value.strip() if isinstance(value, str) else value


# api.md answer 23: names and titles hold no control character (C0, DEL, C1); free text (reasons,
# notes, plans, evidence) may also hold line feeds and tabs. Refused at the schema, so the log never
# stores what a terminal, an XML document (xlsx, docx) or a spreadsheet cell cannot take.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LF_TAB = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(value: str, pattern: re.Pattern[str], allowed: str) -> str:
    found = pattern.search(value)
    if found:
        raise ValueError(f"text must not contain control characters{allowed} (found U+{ord(found.group()):04X})")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (`\ud800` in the JSON): not storable text
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _name_text(value: str) -> str:
    return _printable(value, _CONTROL, "")


def _free_text(value: str) -> str:
    return _printable(value, _CONTROL_BUT_LF_TAB, " other than line feed and tab")


def _iso_text(value: Any) -> Any:
    # pydantic would take a number as a Unix time (always UTC); the contract is ISO 8601 with an offset.
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.replace(".", "", 1).lstrip("+-").isdigit()):
        raise ValueError("occurred_at is an ISO 8601 time with an offset, such as 2026-03-05T10:00:00+08:00")
    return value


def _representable(value: datetime) -> datetime:
    # Any offset must be convertible to UTC and to the configured zone without leaving datetime's range.
    if not (2 <= value.year <= 9998):
        raise ValueError("occurred_at is out of range")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Text = Annotated[  # names and titles
    str,
    BeforeValidator(_trim),
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_name_text),
]
Reason = Annotated[  # short free text: reasons, evidence
    str,
    BeforeValidator(_trim),
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_free_text),
]
Note = Annotated[str, BeforeValidator(_trim), StringConstraints(max_length=2000), AfterValidator(_free_text)]
Year = Annotated[int, Field(ge=2000, le=2100, strict=True)]
Month = Annotated[int, Field(ge=1, le=12, strict=True)]
Count = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]
Officers = Annotated[list[Id], Field(max_length=100)]

UnitKind = Literal["department", "township", "other"]
ItemKind = Literal["single", "brief", "research"]
# Channels and levels are policy data (a new version may add one): the schema checks the shape of
# the code, `decide` checks that the policy in force knows it (422 unknown_channel / unknown_level).
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
UNIT_KINDS: tuple[str, ...] = UnitKind.__args__  # type: ignore[attr-defined]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class UnitRegisteredData(Data):
    unit_id: Id
    name: Text
    kind: UnitKind


class OfficerRegisteredData(Data):
    officer_id: Id
    unit_id: Id
    name: Text


class UnitTargetSetData(Data):
    unit_id: Id
    year: Year
    month: Month | None = None
    submissions: Count
    adoptions: Count


class UnitAssessedData(Data):
    unit_id: Id
    year: Year
    outcome: Literal["adequate", "inadequate"]
    note: Note | None = None


class ItemSubmittedData(Data):
    item_id: Id
    unit_id: Id
    title: Text
    kind: ItemKind
    authors: Officers = Field(default_factory=list, json_schema_extra={"default": []})  # no deepcopy per event
    urgent: StrictBool = False
    solicited: StrictBool = False
    solicitation_id: Id | None = None  # the 约稿 it answers (rules.md "The office's year")


class Contributor(Data):
    unit_id: Id
    extra_points: Annotated[int, Field(ge=0, le=10_000, strict=True)] = 0


class ItemAdoptedData(Data):
    item_id: Id
    channel: Code
    kind: ItemKind | None = None
    publication: Text | None = None
    issue: Text | None = None
    contributors: Annotated[list[Contributor], Field(max_length=100)] = Field(
        default_factory=list, json_schema_extra={"default": []}
    )


class ItemEndorsedData(Data):
    item_id: Id
    level: Code
    leader: Text | None = None
    note: Note | None = None


class DeductionData(Data):
    unit_id: Id
    responsible_officers: Officers = Field(default_factory=list, json_schema_extra={"default": []})
    note: Note | None = None


class UnitFalseInformationData(DeductionData):
    points: Annotated[int, Field(ge=0, le=10_000, strict=True)]
    item_id: Id | None = None


class UnitLateReportedData(DeductionData):
    level: Code
    kind: Literal["late", "missed", "concealed"]
    item_id: Id | None = None


class UnitSolicitationMissedData(DeductionData):
    solicitation: Text | None = None


class UnitCriticizedData(DeductionData):
    bulletin: Text | None = None


class UnitDeductionDisputedData(Data):
    unit_id: Id
    deduction_event_id: UUID
    reason: Reason
    evidence: Reason | None = None


class UnitDisputeResolvedData(Data):
    unit_id: Id
    deduction_event_id: UUID
    outcome: Literal["upheld", "revoked"]
    reason: Reason


class EventRevokedData(Data):
    target_event_id: UUID
    reason: Reason


class MonthData(Data):
    year: Year
    month: Month


class PeriodMonthReopenedData(MonthData):
    reason: Reason


class SolicitationIssuedData(Data):
    solicitation_id: Id
    title: Text
    deadline: Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_representable)]
    unit_ids: Annotated[list[Id], Field(max_length=10_000)] = []  # none = every unit registered before


class SolicitationClosedData(Data):
    solicitation_id: Id


class UnitRectificationSubmittedData(Data):
    unit_id: Id
    year: Year
    plan: Annotated[
        str, BeforeValidator(_trim), StringConstraints(min_length=1, max_length=2000), AfterValidator(_free_text)
    ]
    reference: Text | None = None


class UnitRectificationReviewedData(Data):
    unit_id: Id
    year: Year
    outcome: Literal["accepted", "returned"]
    reason: Text


HalfYear = Annotated[str, StringConstraints(pattern=r"^(20[0-9]{2}|2100)-H[12]$")]
# Money is a two-decimal string everywhere; > 0 is decide's check (422 amount_not_positive).
Yuan = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,12}\.[0-9]{2}$")]


class RewardsPaidData(Data):
    unit_id: Id
    period: HalfYear
    amount_yuan: Yuan
    reference: Text


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: UUID | None = None
    occurred_at: Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_representable)]
    # A factory, not `= {}`: pydantic deep-copies a mutable default for every event it validates.
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"default": {}})
    expected_version: Annotated[int, Field(ge=0, le=2**31 - 1, strict=True)] | None = None


def _envelope(type_name: str, data_model: type[Data]) -> type[Envelope]:
    name = "".join(part.capitalize() for part in type_name.replace("-", ".").split("."))
    return type(
        name,
        (Envelope,),
        {"__annotations__": {"type": Literal[type_name], "data": data_model}, "__module__": __name__},
    )


DATA_MODELS: dict[str, type[Data]] = {
    "unit.registered": UnitRegisteredData,
    "officer.registered": OfficerRegisteredData,
    "unit.target-set": UnitTargetSetData,
    "unit.assessed": UnitAssessedData,
    "item.submitted": ItemSubmittedData,
    "item.adopted": ItemAdoptedData,
    "item.endorsed": ItemEndorsedData,
    "unit.false-information": UnitFalseInformationData,
    "unit.late-reported": UnitLateReportedData,
    "unit.solicitation-missed": UnitSolicitationMissedData,
    "unit.criticized": UnitCriticizedData,
    "unit.deduction-disputed": UnitDeductionDisputedData,
    "unit.dispute-resolved": UnitDisputeResolvedData,
    "event.revoked": EventRevokedData,
    "period.month-closed": MonthData,
    "period.month-reopened": PeriodMonthReopenedData,
    "solicitation.issued": SolicitationIssuedData,
    "solicitation.closed": SolicitationClosedData,
    "unit.rectification-submitted": UnitRectificationSubmittedData,
    "unit.rectification-reviewed": UnitRectificationReviewedData,
    "rewards.paid": RewardsPaidData,
}
EVENT_MODELS: dict[str, type[Envelope]] = {name: _envelope(name, model) for name, model in DATA_MODELS.items()}
EVENT_TYPES: tuple[str, ...] = tuple(DATA_MODELS)

# A Union of a runtime tuple: a type for pydantic, not for mypy (hence Any to the type checker).
NewEvent: Any = Annotated[Union[tuple(EVENT_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
new_event_adapter: TypeAdapter = TypeAdapter(NewEvent)

DEDUCTION_TYPES = frozenset(
    {"unit.false-information", "unit.late-reported", "unit.solicitation-missed", "unit.criticized"}
)
# Events whose ledger lines an `event.revoked` may cancel: the ones that earn or lose points or money.
REVOCABLE_TYPES = DEDUCTION_TYPES | {"unit.assessed", "item.adopted", "item.endorsed"}
PLATFORM_TYPES = frozenset({"unit.registered", "officer.registered"}) | {
    t for t in EVENT_TYPES if t.startswith("item.")
}


def stream_of(type_name: str, data: dict[str, Any]) -> str | None:
    """The stream an event belongs to; None for `event.revoked` (its target's stream)."""
    prefix = type_name.split(".", 1)[0]
    if type_name == "officer.registered":
        return f"officer-{data['officer_id']}"
    if prefix in ("unit", "rewards"):
        return f"unit-{data['unit_id']}"
    if prefix == "item":
        return f"item-{data['item_id']}"
    if prefix == "solicitation":
        return f"solicitation-{data['solicitation_id']}"
    if prefix == "period":
        return f"period-{data['year']:04d}-{data['month']:02d}"
    return None


def stored_data(event: Envelope) -> dict[str, Any]:
    """The `data` as the log stores it: trimmed, JSON-ready, defaults left out."""
    return event.data.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]


class RecordedEvent(BaseModel):
    """An event as read back from the log."""

    event_id: UUID
    global_position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, Any] | None
    data: dict[str, Any]
    metadata: dict[str, Any]
