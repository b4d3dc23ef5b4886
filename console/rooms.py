"""A room's status for the desk: climate, door and the one word the guard reads first.

Pure functions of the facility, the newest readings, the active alarms and the time, so
the rules for "alarm / warning / offline / normal" are tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from statistics import fmean

from alerts.models import ACTIVE_STATES, Alarm, MaintenanceWindow
from collectors.sqlite_store import SensorLatest
from console.context import ConsoleContext
from console.schemas import (
    BandOut,
    LimitsOut,
    LocalText,
    RoomOut,
    RoomState,
    SensorOut,
    SensorStatus,
)
from sensors.events import Severity
from sensors.facility import Facility, RoomInfo, SensorInfo, SensorKind
from sensors.room_classes import LocalName

# Critical (fire, water) and high (intrusion) need someone to go now; the rest can wait.
_ALARM_SEVERITIES = frozenset({Severity.CRITICAL, Severity.HIGH})


def sensor_status(
    info: SensorInfo,
    latest: SensorLatest | None,
    now: datetime,
    factor: float,
    listening_since: datetime | None = None,
) -> SensorStatus:
    """How the sensor is heard: never, not yet, said offline, silent too long, or fine.

    A sensor never heard gets the same grace as in the rules engine: ``factor`` intervals
    from when Lantai started listening (when known), so a fresh start is not all offline.
    """
    allowed = info.interval * factor
    if latest is None:
        waiting = listening_since is not None and now - listening_since <= allowed
        return SensorStatus.WAITING if waiting else SensorStatus.NEVER_SEEN
    if latest.online is False:
        return SensorStatus.OFFLINE
    return SensorStatus.STALE if now - latest.last_seen > allowed else SensorStatus.OK


def sensor_offline(
    info: SensorInfo,
    latest: SensorLatest | None,
    now: datetime,
    factor: float,
    listening_since: datetime | None = None,
) -> bool:
    """Never heard, reported offline, or silent past ``factor`` reporting intervals."""
    return sensor_status(info, latest, now, factor, listening_since).offline


def room_state(
    alarms: Iterable[Alarm], any_offline: bool, in_maintenance: bool = False
) -> RoomState:
    """The worst condition of the room. An alarm a maintenance window holds (nobody is
    called for it) shows as maintenance, as does the window itself; ``any_offline``
    counts only the sensors no window covers."""
    states = [
        RoomState.MAINTENANCE
        if alarm.suppressed_by is not None
        else RoomState.ALARM
        if alarm.severity in _ALARM_SEVERITIES
        else RoomState.WARNING
        for alarm in alarms
    ]
    if any_offline:
        states.append(RoomState.OFFLINE)
    if in_maintenance:
        states.append(RoomState.MAINTENANCE)
    return min(states, key=lambda s: s.rank, default=RoomState.NORMAL)


def _mean(values: Sequence[float]) -> float | None:
    # Rounded: the sensors are good to a tenth at best, more digits only add noise.
    return round(fmean(values), 2) if values else None


def _text(name: LocalName) -> LocalText:
    return LocalText(zh=name.zh, en=name.en)


def room_status(
    facility: Facility,
    room: RoomInfo,
    *,
    latest: Mapping[str, SensorLatest],
    active: Sequence[Alarm],
    now: datetime,
    factor: float,
    listening_since: datetime | None = None,
    windows: Sequence[MaintenanceWindow] = (),
) -> RoomOut:
    """The room's tile: its sensors' newest values, aggregates and state."""
    covering = [w for w in windows if _covers_room(w, room, now)]
    sensors: list[SensorOut] = []
    temperatures: list[float] = []
    humidities: list[float] = []
    doors: list[str] = []
    for sensor_id in room.sensor_ids:
        info = facility.sensors[(room.site, sensor_id)]
        last = latest.get(sensor_id)
        offline = sensor_offline(info, last, now, factor, listening_since)
        values = dict(last.values) if last is not None else {}
        # A stale value is not the room's climate now: only sensors online count.
        if info.kind is SensorKind.CLIMATE and not offline:
            if isinstance(values.get("temperature"), int | float):
                temperatures.append(float(values["temperature"]))
            if isinstance(values.get("humidity"), int | float):
                humidities.append(float(values["humidity"]))
        if info.kind is SensorKind.DOOR and values.get("door") in {"open", "closed"}:
            doors.append(str(values["door"]))
        sensors.append(
            SensorOut(
                id=info.id,
                kind=info.kind,
                name=info.name,
                interval_s=info.interval.total_seconds(),
                values=values,
                last_seen=None if last is None else last.last_seen,
                online=None if last is None else last.online,
                offline=offline,
                in_maintenance=any(w.covers(room.site, room.id, sensor_id, now) for w in covering),
            )
        )
    door = None if not doors else "open" if "open" in doors else "closed"
    limits = room.limits
    return RoomOut(
        site=room.site,
        id=room.id,
        name=_text(room.name),
        building=room.building,
        floor=room.floor,
        floor_name=_text(_floor_name(facility, room)),
        room_class=room.room_class,
        room_class_name=_text(_class_name(facility, room)),
        limits=LimitsOut(
            temperature=BandOut(min=limits.temperature.min, max=limits.temperature.max),
            humidity=BandOut(min=limits.humidity.min, max=limits.humidity.max),
            temperature_swing=limits.temperature_swing,
            humidity_swing=limits.humidity_swing,
        ),
        temperature=_mean(temperatures),
        humidity=_mean(humidities),
        door=door,
        state=room_state(
            active, any(s.offline and not s.in_maintenance for s in sensors), bool(covering)
        ),
        active_alarms=len(active),
        sensors=sensors,
        maintenance_windows=[w.id for w in covering],
    )


def _covers_room(window: MaintenanceWindow, room: RoomInfo, now: datetime) -> bool:
    """Whether ``window`` is in force now for the room as a whole or any of its sensors."""
    if window.sensor is not None:
        return window.sensor in room.sensor_ids and window.covers(
            room.site, room.id, window.sensor, now
        )
    return window.covers(room.site, room.id, None, now)


def _floor_name(facility: Facility, room: RoomInfo) -> LocalName:
    for building, floor, name in facility.sites[room.site].floors:
        if (building, floor) == (room.building, room.floor):
            return name
    return LocalName(zh=room.floor, en=room.floor)  # the compiled facility always has it


def _class_name(facility: Facility, room: RoomInfo) -> LocalName:
    found = facility.room_classes.get(room.room_class)
    return found.name if found is not None else LocalName(zh=room.room_class, en=room.room_class)


def site_rooms(ctx: ConsoleContext, site: str, room_id: str | None = None) -> list[RoomOut]:
    """Every room of the site (or just ``room_id``), read in one pass over each store."""
    rooms = [
        room
        for (room_site, rid), room in ctx.facility.rooms.items()
        if room_site == site and room_id in {None, rid}
    ]
    sensor_ids = [sensor for room in rooms for sensor in room.sensor_ids]
    latest = ctx.readings.latest(site, sensor_ids) if sensor_ids else {}
    # The store caps a list at 1000; a site with more active alarms has bigger problems
    # than a tile count that is short, and every tile is red or amber by then anyway.
    active: dict[str | None, list[Alarm]] = {}
    for alarm in ctx.alarms.list(states=ACTIVE_STATES, site=site, limit=1000):
        active.setdefault(alarm.room, []).append(alarm)
    windows = [w for w in ctx.alarms.windows() if w.site == site]
    now = ctx.clock.now()
    return [
        room_status(
            ctx.facility,
            room,
            latest=latest,
            active=active.get(room.id, []),
            now=now,
            factor=ctx.stale_after_factor,
            listening_since=ctx.listening_since,
            windows=windows,
        )
        for room in rooms
    ]
