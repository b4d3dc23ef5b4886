"""The alarm record: one per condition (rule and subject) while it is active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sensors.events import Category, Severity


class AlarmState(StrEnum):
    """Active or cleared; the ISA-18.2 acknowledgement states arrive with the alarms issue."""

    ACTIVE = "active"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    key: str
    rule: str
    category: Category
    severity: Severity
    state: AlarmState
    site: str
    room: str | None
    sensor: str | None
    message_zh: str
    message_en: str
    raised_at: datetime
    last_at: datetime
    cleared_at: datetime | None
    count: int  # how often the condition was raised while this alarm was active
    last_value: str | None


class Change(StrEnum):
    """What happened to an alarm record, for notifiers."""

    RAISED = "raised"  # a new alarm
    REPEATED = "repeated"  # raised again while active: count and value updated
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    change: Change
    alarm: Alarm
