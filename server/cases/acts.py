"""What a case coordinator or team lead may do to a file, as the workspace sends it: one tagged
body per act (``POST /api/cases/{file}/acts``), bounded like every input, checked against the
version of the file the person saved from."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "ACT_TYPES",
    "Acknowledge",
    "Act",
    "ActIn",
    "Assign",
    "Checklist",
    "ClearFlag",
    "Close",
    "Conclude",
    "DelayReason",
    "Dismiss",
    "EditFile",
    "Escalate",
    "Extend",
    "InfoReceived",
    "Note",
    "Notify",
    "Recommend",
    "RecordFinding",
    "Refer",
    "ReferralOutcome",
    "RemoveAllegation",
    "RequestInfo",
    "RouteFile",
    "SaveAllegation",
    "Screened",
    "StartScreening",
    "StatusUpdate",
    "Take",
    "Withdraw",
]

Short = Annotated[str, Meta(max_length=200)]
Text = Annotated[str, Meta(max_length=10_000)]
Reason = Annotated[str, Meta(min_length=1, max_length=10_000)]
Keys = Annotated[list[Annotated[str, Meta(max_length=40)]], Meta(max_length=20)]
Flag = Literal["high_priority", "complex", "contentious", "possibly_frivolous"]
Fact = Literal["death", "serious_injury", "sensitive"]
Finding = Literal["unfounded", "exonerated", "not_sustained", "sustained", "no_cooperation", "withdrawn", ""]
Channel = Literal["email", "phone", "text", "mail", "web", "in_person"]
# A row id or a version: what a JavaScript number and both engines' BIGINT hold.
RowId = Annotated[int, Meta(ge=1, le=2**53 - 1)]


class _Act(msgspec.Struct, tag_field="act", forbid_unknown_fields=True):
    pass


class StartScreening(_Act, tag="start_screening"):
    pass


class Checklist(_Act, tag="checklist"):
    marks: Annotated[dict[Annotated[str, Meta(max_length=40)], Literal["ok", "missing", "waived"]], Meta(max_length=20)]
    note: Text = ""


class RequestInfo(_Act, tag="request_info"):
    missing: Keys
    message: Reason  # written to the complainant


class InfoReceived(_Act, tag="info_received"):
    text: Reason
    channel: Channel = "phone"


class Screened(_Act, tag="screened"):
    pass


class EditFile(_Act, tag="edit"):
    summary: Text | None = None
    service_kind: Literal["municipal", "first_nations", "rcmp", "peace_officer", "not_police"] | None = None
    facts: Annotated[list[Fact], Meta(max_length=3)] | None = None


class SaveAllegation(_Act, tag="allegation"):
    type: Annotated[str, Meta(min_length=1, max_length=60)]
    summary: Text = ""
    officer_name: Short = ""
    officer_badge: Annotated[str, Meta(max_length=20)] = ""
    id: RowId | None = None  # None: a new one


class RemoveAllegation(_Act, tag="remove_allegation"):
    id: RowId


class Recommend(_Act, tag="recommend"):
    reasons: Text = ""  # the coordinator's own, beside the rule's


class RouteFile(_Act, tag="route"):
    reasons: Text = ""
    level: Annotated[int, Meta(ge=1, le=5)] | None = None  # the team lead changing the recommendation
    route: Literal["resolution", "investigation", "serious_incident", "referred_out"] | None = None
    body: Short = ""


class Refer(_Act, tag="refer"):
    body: Annotated[str, Meta(min_length=1, max_length=200)]
    level: Annotated[int, Meta(ge=1, le=5)] | None = None


class ReferralOutcome(_Act, tag="referral_outcome"):
    referral: RowId
    outcome: Reason


class Notify(_Act, tag="notify"):
    message: Reason
    referral: RowId | None = None


class RecordFinding(_Act, tag="finding"):
    allegation: RowId
    finding: Finding


class Conclude(_Act, tag="conclude"):
    pass


class Close(_Act, tag="close"):
    pass


class Withdraw(_Act, tag="withdraw"):
    reason: Reason


class Dismiss(_Act, tag="dismiss"):
    ground: Literal["frivolous", "vexatious", "bad_faith"]
    reasons: Reason


class Assign(_Act, tag="assign"):
    to: Annotated[str, Meta(min_length=1, max_length=64)]


class Take(_Act, tag="take"):
    pass


class Escalate(_Act, tag="escalate"):
    flag: Flag
    why: Reason


class ClearFlag(_Act, tag="clear_flag"):
    flag: Flag
    why: Text = ""


class Extend(_Act, tag="extend"):
    clock: Annotated[str, Meta(max_length=40)]
    days: Annotated[int, Meta(ge=1, le=365)]
    grounds: Reason
    notice: Reason  # what the complainant is told


class DelayReason(_Act, tag="delay_reason"):
    clock: Annotated[str, Meta(max_length=40)]
    reason: Reason
    expected: Annotated[str, Meta(max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = ""  # when it should be done
    doing: Annotated[str, Meta(max_length=2000)] = ""  # what is being done about the delay


class Acknowledge(_Act, tag="acknowledge"):
    message: Text = ""


class StatusUpdate(_Act, tag="status_update"):
    message: Reason


class Note(_Act, tag="note"):
    text: Reason
    transitory: bool = False  # a working note: disposed of on the retention schedule


Act = (
    StartScreening
    | Checklist
    | RequestInfo
    | InfoReceived
    | Screened
    | EditFile
    | SaveAllegation
    | RemoveAllegation
    | Recommend
    | RouteFile
    | Refer
    | ReferralOutcome
    | Notify
    | RecordFinding
    | Conclude
    | Close
    | Withdraw
    | Dismiss
    | Assign
    | Take
    | Escalate
    | ClearFlag
    | Extend
    | DelayReason
    | Acknowledge
    | StatusUpdate
    | Note
)
ACT_TYPES: tuple[type[_Act], ...] = Act.__args__  # type: ignore[attr-defined]


class ActIn(msgspec.Struct, forbid_unknown_fields=True):
    version: RowId
    act: Act
