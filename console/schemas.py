"""The console's JSON shapes: every response is one of these, so /openapi.json is exact.

Times are aware datetimes turned to UTC on the way in, which pydantic writes as RFC 3339
with a ``Z``; the page shows them in the site's own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alerts.models import AlarmState, Change, Via
from sensors.events import Category, Severity
from sensors.facility import SensorKind


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        # Every time Lantai keeps is UTC; a naive one here is a bug upstream, not data.
        raise ValueError("naive datetime: which time zone?")
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]

# A row id in a path, bounded as the databases store it (a signed 64-bit integer): a larger
# number overflowed the database driver, a 500, where it names nothing (found by
# tests/test_schemathesis.py); now it is refused as invalid (422).
RowId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]


class Out(BaseModel):
    """A response shape: frozen, and read from dataclasses by attribute."""

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class ErrorOut(Out):
    """Why a request failed (FastAPI's error shape)."""

    detail: str


class HealthOut(Out):
    """Is the monitoring chain working, and the status of each part."""

    status: Literal["ok", "degraded"]
    time: UtcTime
    components: dict[str, Any] = Field(
        description="each part's status and counters: empty unless the caller may read"
    )


class LocalText(Out):
    """A text in Chinese and English."""

    zh: str
    en: str


class FloorOut(Out):
    building: str
    id: str
    name: LocalText


class SiteOut(Out):
    """An archive site, with its floors in the order of the facility file."""

    id: str
    name: LocalText
    timezone: str = Field(description="IANA time zone for showing times, e.g. Asia/Shanghai")
    floors: list[FloorOut]


class BandOut(Out):
    min: float
    max: float


class LimitsOut(Out):
    """The room's climate limits: °C and %RH bands, and the allowed day-night swing."""

    temperature: BandOut
    humidity: BandOut
    temperature_swing: float
    humidity_swing: float


class RoomState(StrEnum):
    """A room at a glance, worst first: alarm, warning, offline, maintenance, normal."""

    ALARM = "alarm"  # an active critical or high alarm in the room
    WARNING = "warning"  # an active medium or low alarm
    OFFLINE = "offline"  # a sensor silent too long, or reported offline
    # A maintenance window covers the room, or one of its sensors: its alarms are
    # recorded but nobody is called, and a sensor the window covers may be silent.
    MAINTENANCE = "maintenance"
    NORMAL = "normal"

    @property
    def rank(self) -> int:
        """0 is the worst; a room shows the worst of its conditions."""
        return _STATE_RANK[self]


_STATE_RANK = {
    RoomState.ALARM: 0,
    RoomState.WARNING: 1,
    RoomState.OFFLINE: 2,
    RoomState.MAINTENANCE: 3,
    RoomState.NORMAL: 4,
}


class SensorStatus(StrEnum):
    """How a sensor is heard. The room tiles count every status but ok and waiting as
    offline (console.rooms.sensor_offline), so the two pages cannot disagree."""

    OK = "ok"  # heard within its allowed silence
    WAITING = "waiting"  # not heard yet, within the grace after Lantai started listening
    STALE = "stale"  # silent longer than stale_after_factor reporting intervals
    OFFLINE = "offline"  # the device said so (its retained status, or its Last Will)
    NEVER_SEEN = "never_seen"  # never heard, and the grace is over

    @property
    def offline(self) -> bool:
        return self not in {SensorStatus.OK, SensorStatus.WAITING}


class SensorOut(Out):
    """A sensor of the room and the newest value of each measurement it sent."""

    id: str
    kind: SensorKind
    name: str | None
    interval_s: float = Field(description="expected seconds between reports or heartbeats")
    values: dict[str, bool | float | str]
    last_seen: UtcTime | None = Field(description="when its newest message arrived")
    online: bool | None = Field(description="the device's own presence report, if it sends one")
    offline: bool = Field(description="never seen, silent too long, or reported offline")
    in_maintenance: bool = Field(
        default=False, description="a maintenance window covers it now (its room, or it)"
    )


class RoomOut(Out):
    """A stack room's status for the desk."""

    site: str
    id: str
    name: LocalText
    building: str
    floor: str
    floor_name: LocalText
    room_class: str
    room_class_name: LocalText
    limits: LimitsOut
    temperature: float | None = Field(description="°C, mean of the climate sensors online")
    humidity: float | None = Field(description="%RH, mean of the climate sensors online")
    door: Literal["open", "closed"] | None = Field(description="open if any door is open")
    state: RoomState
    active_alarms: int
    sensors: list[SensorOut]
    maintenance_windows: list[int] = Field(
        default_factory=list,
        description="the maintenance windows covering the room or its sensors now",
    )


class AlarmOut(Out):
    """An alarm record: one per condition until it is closed (ISA-18.2 states)."""

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
    raised_at: UtcTime
    last_at: UtcTime
    cleared_at: UtcTime | None
    count: int = Field(description="how often the condition was raised while open")
    last_value: str | None
    incident_id: int | None = Field(description="the incident it was told to people in")
    acked_at: UtcTime | None
    acked_by: str | None
    shelved_until: UtcTime | None
    shelved_by: str | None
    shelve_reason: str | None
    suppressed_by: int | None = Field(description="the maintenance window it was raised in")
    chattering: bool = Field(description="raised and cleared 3 or more times in a minute")


class AlarmChangeOut(Out):
    """The data of an ``alarm`` server-sent event."""

    change: Change
    alarm: AlarmOut


class QuarantinedOut(Out):
    """A refused message: what was kept of it and why it was refused."""

    id: int
    topic: str
    payload: str = Field(description="the kept start of the payload, as text")
    payload_size: int = Field(description="the size of the whole payload in bytes")
    reason: str
    detail: str
    received_at: UtcTime


class QuarantineOut(Out):
    """Refused messages: a count per reason since the start, and the newest messages."""

    counts: dict[str, int]
    total: int
    messages: list[QuarantinedOut]


class LogEntryOut(Out):
    """One line of an alarm's audit trail."""

    at: UtcTime
    action: str
    by: str = Field(description="a person's id, rule:<name> or system")
    via: Via
    comment: str | None


class NotificationOut(Out):
    """One message of the alarm's incident, as the outbox holds it."""

    id: int
    kind: str
    channel: str
    who: str
    address: str
    state: str = Field(description="pending, sending, sent, failed or cancelled")
    attempts: int
    created_at: UtcTime
    sent_at: UtcTime | None
    provider_status: str | None
    last_error: str | None
    fallback_of: int | None


class SopOut(Out):
    """A standard operating procedure: what to do for an alarm of its category."""

    category: Category
    version: int = Field(description="0 is the procedure Lantai ships; each edit adds one")
    title: LocalText
    text: LocalText = Field(description="numbered steps, one per line (plain text)")
    note: str = Field(description="why this version was written")
    edited_by: str | None = Field(description="who wrote this version; null: shipped")
    edited_at: UtcTime | None
    shipped: bool = Field(description="the procedure Lantai ships, never edited here")


class ReadingOut(Out):
    """One sensor message: its time and the measurements it carried."""

    sensor: str
    at: UtcTime
    values: dict[str, bool | float | str]


class ReadingsAroundOut(Out):
    """The readings of the alarm's sensor (or, without one, of its room's sensors) from
    30 minutes before it was raised to 30 minutes after, oldest first."""

    start: UtcTime
    end: UtcTime
    sensors: list[str]
    readings: list[ReadingOut]


class AlarmDetailOut(Out):
    """An alarm with its timeline, the notifications of its incident, the procedure for
    its category, and the readings around it."""

    alarm: AlarmOut
    timeline: list[LogEntryOut]
    notifications: list[NotificationOut]
    sop: SopOut
    readings_around: ReadingsAroundOut | None = Field(
        description="null for an alarm of no room, or a console that keeps no history"
    )


# Before accounts, a request named its actor in ``by``; the actor is now the logged-in
# user (or the API token), so ``by`` is still accepted from older pages and scripts but
# ignored: it cannot make an action look like somebody else's in the audit trail.
_IGNORED_BY = Field(
    default=None,
    max_length=64,
    deprecated=True,
    description="ignored: the acting person is the logged-in user (or the API token)",
)


class AckIn(BaseModel):
    """Why (the comment is kept in the audit trail); the logged-in user acknowledges."""

    model_config = ConfigDict(extra="forbid")
    by: str | None = _IGNORED_BY
    comment: str | None = Field(default=None, max_length=500)


class ShelveIn(BaseModel):
    """Why and until when; longer than the short limit (1 h) needs a supervisor."""

    model_config = ConfigDict(extra="forbid")
    by: str | None = _IGNORED_BY
    reason: str = Field(min_length=1, max_length=500)
    until: UtcTime


class UnshelveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = _IGNORED_BY


class AckOut(Out):
    """The alarms an acknowledgement changed (the whole incident's unacknowledged ones)."""

    changed: list[AlarmOut]


class WindowIn(BaseModel):
    """A maintenance window: alarms of the room or sensor are kept but nobody is called."""

    model_config = ConfigDict(extra="forbid")
    site: str
    room: str | None = None
    sensor: str | None = None
    starts_at: UtcTime
    ends_at: UtcTime | None = None
    reason: str = Field(min_length=1, max_length=500)
    by: str | None = _IGNORED_BY
    out_of_service: bool = False


class WindowOut(Out):
    id: int
    site: str
    room: str | None
    sensor: str | None
    starts_at: UtcTime
    ends_at: UtcTime | None
    reason: str
    created_by: str
    created_at: UtcTime
    out_of_service: bool


class DutyOut(Out):
    start: UtcTime
    end: UtcTime
    people: list[str]
    name: str


class RotaOut(Out):
    """A rota, who is on duty now, and its shifts over the coming days."""

    id: str
    site: str
    on_duty: list[str]
    shifts: list[DutyOut]
