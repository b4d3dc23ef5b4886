"""GET /api/rooms/{site}/{room}/history: everything the room page shows over a span.

Temperature and humidity of each climate sensor, downsampled by the store to at most
MAX_POINTS spans per series (mean, minimum, maximum per span, so a spike survives), the
dew point of each span, the room's allowed band and day–night swing, the door's events,
its sensors' health, its recent alarms and its inspection history (who signed what).
The preservation figures have their own route (console/preservation.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from alerts.models import OPEN_STATES, Alarm
from collectors.sqlite_store import Bucket
from console.auth import AUTH_ERRORS, Principal
from console.context import ConsoleContext, HistoryReader
from console.desk_access import DeskAccess
from console.schemas import (
    AlarmOut,
    BandOut,
    ErrorOut,
    LimitsOut,
    LocalText,
    Out,
    UtcTime,
)
from console.sensor_health import SensorHealthOut, quarantine_counts, sensor_health
from inspections.models import Cadence, Result, Task, TaskStatus
from rules.preservation import dew_point
from sensors.facility import RoomInfo, SensorKind

MAX_POINTS = 500
LONGEST = timedelta(days=31)
# Span widths a chart's axis reads easily; the narrowest that keeps a series in MAX_POINTS.
_WIDTHS = tuple(
    timedelta(seconds=s)
    for s in (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
)
# The day–night swing is judged over a day, whatever span the charts show (JGJ 25-2010
# §5.2.3, archive-standards.md §1.1).
DAY = timedelta(hours=24)
# Inspections are daily at most: a day's chart would show one or two, so the history
# goes back at least a week.
INSPECTION_LOOKBACK = timedelta(days=7)
MAX_DOOR_EVENTS = 200
MAX_ALARMS = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSTANT = timedelta(microseconds=1)

_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **{code: {"model": ErrorOut} for code in (404, 503)},
}

Measure = Literal["temperature", "humidity", "dew_point"]
_UNITS: dict[Measure, str] = {"temperature": "°C", "humidity": "%RH", "dew_point": "°C"}


class PointOut(Out):
    """One span of a series, named by its start."""

    at: UtcTime
    mean: float
    min: float | None = Field(description="null for the dew point (a mean of means)")
    max: float | None
    count: int = Field(description="readings in the span")


class SeriesOut(Out):
    sensor: str
    measure: Measure
    unit: str
    points: list[PointOut] = Field(description="spans with readings only, oldest first")


class SwingOut(Out):
    """The day–night swing (max − min over the last 24 h) of a climate sensor, against the
    room's limit: "±2 °C" allows 4 °C from the day's lowest to its highest (as the
    fluctuation rule reads JGJ 25-2010 §5.2.3)."""

    sensor: str
    temperature: float | None
    humidity: float | None
    temperature_limit: float
    humidity_limit: float
    temperature_over: bool
    humidity_over: bool


class DoorEventOut(Out):
    """A door sensor's message that changed something: the door opened or closed, it was
    forced, or a badge was presented."""

    sensor: str
    at: UtcTime
    door: Literal["open", "closed"] | None
    forced: bool | None
    badge: str | None
    granted: bool | None


class InspectionOut(Out):
    """An inspection task of the room and how it ended."""

    id: int
    title: LocalText
    cadence: Cadence | None
    role: str
    window_start: UtcTime
    window_end: UtcTime
    status: TaskStatus
    signed_by: str | None
    signed_at: UtcTime | None
    failed_items: int


class RoomHistoryOut(Out):
    """The room page's data for [start, end)."""

    site: str
    room: str
    name: LocalText
    room_class: str
    room_class_name: LocalText
    hours: int
    start: UtcTime
    end: UtcTime
    bucket_s: float = Field(description="the width of each span of the series")
    limits: LimitsOut
    series: list[SeriesOut] = Field(
        description="per climate sensor: temperature, humidity, dew point"
    )
    swing: list[SwingOut]
    doors: list[DoorEventOut] = Field(description=f"newest first, at most {MAX_DOOR_EVENTS}")
    sensors: list[SensorHealthOut]
    alarms: list[AlarmOut] = Field(
        description=f"raised in the span, or still open; newest first, at most {MAX_ALARMS}"
    )
    inspections: list[InspectionOut] = Field(
        description="tasks of the room whose window started in the span, or the last 7 days "
        "if that is longer; newest first"
    )


def add_room_history_route(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get("/rooms/{site}/{room}/history", responses=_ERRORS)
    def room_history(
        site: str,
        room: str,
        hours: Annotated[int, Query(ge=1, le=LONGEST // timedelta(hours=1))] = 24,
        who: Principal = access.reader,
    ) -> RoomHistoryOut:
        """The room page: climate series with dew point, band and day–night swing, door
        events, sensor health, recent alarms and inspection history."""
        info = access.room(who, site, room)
        if ctx.history is None:
            raise HTTPException(
                503, "本控制台没有读数历史 / this console keeps no readings history"
            )
        return room_history_of(ctx, ctx.history, info, hours)


def span_width(span: timedelta) -> timedelta:
    """The narrowest of the readable widths that cuts ``span`` into at most MAX_POINTS
    spans, however the start is rounded down to a multiple of the width."""
    for width in _WIDTHS:
        if span / width <= MAX_POINTS - 1:
            return width
    return _WIDTHS[-1]


def room_history_of(
    ctx: ConsoleContext, history: HistoryReader, room: RoomInfo, hours: int
) -> RoomHistoryOut:
    now = ctx.clock.now()
    # The stores' spans are half-open: a reading stamped this very moment belongs in.
    end = now + _INSTANT
    span = timedelta(hours=hours)
    width = span_width(span)
    # Spans start on multiples of their width, so a chart polled again keeps its points.
    start = _EPOCH + ((now - span) - _EPOCH) // width * width
    sensors = [ctx.facility.sensors[(room.site, s)] for s in room.sensor_ids]
    climate = [s.id for s in sensors if s.kind is SensorKind.CLIMATE]
    doors = [s.id for s in sensors if s.kind is SensorKind.DOOR]
    limits = room.limits
    series: list[SeriesOut] = []
    for sensor in climate:
        series += _climate_series(history, room.site, sensor, start, end, width)
    return RoomHistoryOut(
        site=room.site,
        room=room.id,
        name=LocalText(zh=room.name.zh, en=room.name.en),
        room_class=room.room_class,
        room_class_name=_class_name(ctx, room),
        hours=hours,
        start=start,
        end=now,
        bucket_s=width.total_seconds(),
        limits=LimitsOut(
            temperature=BandOut(min=limits.temperature.min, max=limits.temperature.max),
            humidity=BandOut(min=limits.humidity.min, max=limits.humidity.max),
            temperature_swing=limits.temperature_swing,
            humidity_swing=limits.humidity_swing,
        ),
        series=series,
        swing=[_swing(history, room, sensor, end) for sensor in climate],
        doors=_door_events(history, room.site, doors, start, end),
        sensors=_sensors(ctx, history, room, now),
        alarms=[AlarmOut.model_validate(a) for a in _alarms(ctx, room, start, end)],
        inspections=_inspections(ctx, room, end - max(span, INSPECTION_LOOKBACK), end),
    )


def _climate_series(
    history: HistoryReader, site: str, sensor: str, start: datetime, end: datetime, width: timedelta
) -> list[SeriesOut]:
    temperature = history.buckets(site, sensor, "temperature", start, end, width)
    humidity = history.buckets(site, sensor, "humidity", start, end, width)
    humid_at = {b.start: b for b in humidity}
    dew = [
        PointOut(
            at=t.start,
            mean=round(dew_point(t.mean, humid_at[t.start].mean), 2),
            min=None,
            max=None,
            count=min(t.count, humid_at[t.start].count),
        )
        for t in temperature
        if t.start in humid_at
    ]
    return [
        _series(sensor, "temperature", _points(temperature)),
        _series(sensor, "humidity", _points(humidity)),
        _series(sensor, "dew_point", dew),
    ]


def _series(sensor: str, measure: Measure, points: list[PointOut]) -> SeriesOut:
    return SeriesOut(sensor=sensor, measure=measure, unit=_UNITS[measure], points=points)


def _points(buckets: list[Bucket]) -> list[PointOut]:
    # Rounded: the sensors are good to a tenth at best, more digits only add bytes.
    return [
        PointOut(
            at=b.start,
            mean=round(b.mean, 2),
            min=round(b.minimum, 2),
            max=round(b.maximum, 2),
            count=b.count,
        )
        for b in buckets
    ]


def _swing(history: HistoryReader, room: RoomInfo, sensor: str, end: datetime) -> SwingOut:
    def swing(name: str) -> float | None:
        found = history.buckets(room.site, sensor, name, end - DAY, end, DAY)
        return None if not found else round(found[0].maximum - found[0].minimum, 2)

    t, rh = swing("temperature"), swing("humidity")
    t_limit, rh_limit = 2 * room.limits.temperature_swing, 2 * room.limits.humidity_swing
    return SwingOut(
        sensor=sensor,
        temperature=t,
        humidity=rh,
        temperature_limit=t_limit,
        humidity_limit=rh_limit,
        temperature_over=t is not None and t > t_limit,
        humidity_over=rh is not None and rh > rh_limit,
    )


def _door_events(
    history: HistoryReader, site: str, sensors: list[str], start: datetime, end: datetime
) -> list[DoorEventOut]:
    events: list[DoorEventOut] = []
    for sensor in sensors:
        previous: object = None
        for at, values in history.readings_between(site, sensor, start, end):
            door = values.get("door")
            changed = door is not None and door != previous
            if changed or values.get("forced") is True or values.get("badge") is not None:
                events.append(
                    DoorEventOut(
                        sensor=sensor,
                        at=at,
                        door=door if door in {"open", "closed"} else None,
                        forced=values.get("forced"),
                        badge=values.get("badge"),
                        granted=values.get("granted"),
                    )
                )
            previous = door if door is not None else previous
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:MAX_DOOR_EVENTS]


def _sensors(
    ctx: ConsoleContext, history: HistoryReader, room: RoomInfo, now: datetime
) -> list[SensorHealthOut]:
    ids = list(room.sensor_ids)
    latest = ctx.readings.latest(room.site, ids)
    offsets = history.clock_offsets(room.site, ids)
    refused, _ = quarantine_counts(ctx.facility, history.quarantine_by_topic(), [room.site])
    return [
        sensor_health(
            ctx,
            ctx.facility.sensors[(room.site, sensor)],
            latest.get(sensor),
            offsets.get(sensor),
            refused.get((room.site, sensor), {}),
            now,
        )
        for sensor in ids
    ]


def _alarms(ctx: ConsoleContext, room: RoomInfo, start: datetime, end: datetime) -> list[Alarm]:
    found = {a.id: a for a in ctx.alarms.raised_between(room.site, start, end) if a.room == room.id}
    for alarm in ctx.alarms.list(states=OPEN_STATES, site=room.site, limit=1000):
        if alarm.room == room.id:
            found.setdefault(alarm.id, alarm)
    newest = sorted(found.values(), key=lambda a: (a.raised_at, a.id), reverse=True)
    return newest[:MAX_ALARMS]


def _inspections(
    ctx: ConsoleContext, room: RoomInfo, since: datetime, until: datetime
) -> list[InspectionOut]:
    if ctx.inspections is None:
        return []
    tasks = [t for t in ctx.inspections.tasks_between(room.site, since, until) if t.room == room.id]
    tasks.sort(key=lambda t: (t.window_start, t.id), reverse=True)
    return [_inspection(t) for t in tasks]


def _inspection(task: Task) -> InspectionOut:
    return InspectionOut(
        id=task.id,
        title=LocalText(zh=task.title_zh, en=task.title_en),
        cadence=task.cadence,
        role=task.role,
        window_start=task.window_start,
        window_end=task.window_end,
        status=task.status,
        signed_by=task.signed_by,
        signed_at=task.signed_at,
        failed_items=sum(a.result is Result.FAIL for a in task.answers),
    )


def _class_name(ctx: ConsoleContext, room: RoomInfo) -> LocalText:
    found = ctx.facility.room_classes.get(room.room_class)
    if found is None:
        return LocalText(zh=room.room_class, en=room.room_class)
    return LocalText(zh=found.name.zh, en=found.name.en)
