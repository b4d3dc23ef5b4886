"""The inspection vocabulary: tasks, their checklist items and answers, and hazards.

The archives' routine is 日巡查、周检查、月排查、季考核 (archive-standards.md §2): a task is
one occurrence of that routine (or a rule's request to go and look), a checklist is what
the person answers, and a failed item opens a hazard (隐患) that is tracked to closure.
Everything here is plain data; the store persists it and the service changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Cadence(StrEnum):
    DAILY = "daily"  # 日巡查
    WEEKLY = "weekly"  # 周检查
    MONTHLY = "monthly"  # 月排查
    QUARTERLY = "quarterly"  # 季考核
    CRON = "cron"  # anything else, as a cron expression in the site's time zone


class Scope(StrEnum):
    """What one task covers: one per stack room, one per floor, or one for the site."""

    ROOM = "room"
    FLOOR = "floor"
    SITE = "site"


class ItemKind(StrEnum):
    CHECK = "check"  # pass / fail / not applicable
    READING = "reading"  # a number to enter (or filled in from the room's sensor)
    PHOTO = "photo"  # a photo is the answer


class PhotoRule(StrEnum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class Result(StrEnum):
    PASS = "pass"  # noqa: S105 - a checklist result, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "na"


class TaskSource(StrEnum):
    SCHEDULE = "schedule"  # from a template's cadence
    RULE = "rule"  # from a rules-engine TaskRequest ("RH high for 2 h: check the dehumidifier")


class TaskStatus(StrEnum):
    OPEN = "open"  # created; its window has not closed
    DONE = "done"  # signed off within its window
    MISSED = "missed"  # the window closed unsigned: the overdue alarm is raised
    LATE = "late"  # signed off after the window closed (was missed)


class HazardGrade(StrEnum):
    """The 2018 risk-assessment conclusions (archive-standards.md §1, 档办发〔2018〕7号)."""

    HIGH = "high"  # 高危性安全风险隐患
    DANGER = "danger"  # 危险性安全风险隐患
    GENERAL = "general"  # 一般


class HazardState(StrEnum):
    """The closed loop of 隐患排查治理 (archive-standards.md §2):
    found → assigned → rectified → accepted (re-inspected) → filed."""

    FOUND = "found"
    ASSIGNED = "assigned"
    RECTIFIED = "rectified"
    ACCEPTED = "accepted"
    FILED = "filed"


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One line of a checklist, as compiled from a template."""

    key: str  # unique within the template, stable: answers refer to it
    kind: ItemKind
    label_zh: str
    label_en: str
    photo: PhotoRule = PhotoRule.NONE
    # A reading item: the sensor field that fills it in, its unit, and the limits outside
    # which the answer counts as a fail (None: the room class's limits, §1.1).
    field: str | None = None
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    # The grade a failure opens a hazard with; the person can raise it.
    hazard_grade: HazardGrade = HazardGrade.GENERAL


@dataclass(frozen=True, slots=True)
class Answer:
    item_key: str
    result: Result
    answered_by: str
    answered_at: datetime
    value: float | None = None
    note: str = ""
    photo_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    key: str  # idempotency: template + scope + occurrence, or the rule request's key
    source: TaskSource
    site: str
    room: str | None  # None for floor- and site-scoped tasks
    floor: str | None
    template: str | None  # the template id; None for rule requests
    cadence: Cadence | None
    title_zh: str
    title_en: str
    role: str  # who does it: guard, stack_manager, …
    window_start: datetime  # aware UTC
    window_end: datetime
    created_at: datetime
    created_late: bool  # created after its window had started (the service was down)
    status: TaskStatus
    items: tuple[ChecklistItem, ...]
    answers: tuple[Answer, ...] = ()
    signed_by: str | None = None
    signed_at: datetime | None = None
    checkpoint: str | None = None  # the room QR checkpoint scanned at sign-off, if any
    local_date: date | None = None  # the site-local day the occurrence belongs to
    # When the sign-off reached Lantai: later than signed_at when a phone was offline.
    synced_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HazardLogEntry:
    at: datetime
    by: str
    state: HazardState
    note: str = ""


@dataclass(frozen=True, slots=True)
class Hazard:
    id: int
    site: str
    room: str | None
    task_id: int | None
    item_key: str | None
    title_zh: str
    title_en: str
    grade: HazardGrade
    state: HazardState
    found_by: str
    found_at: datetime
    owner: str | None = None
    deadline: datetime | None = None
    note: str = ""
    photo_ids: tuple[int, ...] = ()
    log: tuple[HazardLogEntry, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo taken for a checklist item or for a hazard's rectification."""

    id: int
    content_type: str  # image/jpeg, image/png or image/webp (checked from the bytes)
    size: int
    sha256: str
    taken_by: str
    taken_at: datetime
    task_id: int | None = None
    item_key: str | None = None
    hazard_id: int | None = None
