"""The alarm record and its ISA-18.2 states (archive-standards.md §5.1).

One alarm exists per condition (rule and subject) until it is closed: a condition that
comes back while its alarm is still open updates that alarm instead of adding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sensors.events import Category, Severity


class AlarmState(StrEnum):
    """The ISA-18.2 alarm states; ``closed`` is ISA's "normal" for a finished record."""

    UNACKED = "unacked"  # active, nobody has acknowledged it
    ACKED = "acked"  # active, somebody is on it
    RTN_UNACKED = "rtn_unacked"  # returned to normal before anybody saw it
    CLOSED = "closed"  # normal and acknowledged: history

    @property
    def active(self) -> bool:
        """The condition is present."""
        return self in _ACTIVE

    @property
    def open(self) -> bool:
        """Still on the desk's list: active, or cleared but never acknowledged."""
        return self is not AlarmState.CLOSED


_ACTIVE = frozenset({AlarmState.UNACKED, AlarmState.ACKED})
OPEN_STATES = (AlarmState.UNACKED, AlarmState.ACKED, AlarmState.RTN_UNACKED)
ACTIVE_STATES = (AlarmState.UNACKED, AlarmState.ACKED)


class Via(StrEnum):
    """How an action reached Lantai, for the audit trail."""

    RULE = "rule"  # the rules engine
    CONSOLE = "console"  # the security desk's page
    API = "api"  # another program
    SMS = "sms"  # a reply to an alarm SMS
    VOICE = "voice"  # a keypress during an alarm call
    SYSTEM = "system"  # Lantai itself: expiry of a shelve, a maintenance window


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
    count: int  # how often the condition was raised while this alarm was open
    last_value: str | None
    incident_id: int | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    shelved_until: datetime | None = None
    shelved_by: str | None = None
    shelve_reason: str | None = None
    suppressed_by: int | None = None  # the maintenance window it was raised in
    chattering: bool = False

    def shelved(self, now: datetime) -> bool:
        return self.shelved_until is not None and self.shelved_until > now


class Change(StrEnum):
    """What happened to an alarm record, for listeners and the audit trail."""

    RAISED = "raised"  # a new alarm
    REPEATED = "repeated"  # raised again while active: count and value updated
    RERAISED = "reraised"  # came back after returning to normal, still unacknowledged
    CLEARED = "cleared"  # returned to normal
    ACKED = "acked"
    CLOSED = "closed"  # normal and acknowledged
    SHELVED = "shelved"
    UNSHELVED = "unshelved"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    change: Change
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of an alarm's audit trail: who did what, when, how, and why."""

    id: int
    alarm_id: int | None
    incident_id: int | None
    at: datetime
    action: str  # a Change value, or an escalation action ("notified", "escalated", …)
    by: str  # a person's id, "rule:<name>" or "system"
    via: Via
    comment: str | None


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """Alarms of a room or sensor are recorded but nobody is called (ISA "suppressed").

    ``out_of_service`` marks equipment taken out of use: the window has no end until
    somebody puts it back.
    """

    id: int
    site: str
    room: str | None
    sensor: str | None
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    created_by: str
    created_at: datetime
    out_of_service: bool = False

    def covers(self, site: str, room: str | None, sensor: str | None, at: datetime) -> bool:
        if site != self.site or at < self.starts_at:
            return False
        if self.ends_at is not None and at >= self.ends_at:
            return False
        if self.sensor is not None:
            return sensor == self.sensor
        return self.room is None or room == self.room
