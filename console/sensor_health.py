"""GET /api/sensors/health: every sensor of the caller's sites and how it is heard.

For the sensor-health page: which sensors are silent (by the same rule as the room tiles,
console.rooms.sensor_status), which said they are offline, whose battery is low, whose
clock is off, and which of them send messages that are refused (quarantined), by reason.

The figures are computed here from the stores; the alarms about the same things (silence,
battery, clock) come from the rules, with the same thresholds as below.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from collectors.sqlite_store import SensorLatest
from console.auth import AUTH_ERRORS, Principal
from console.context import ConsoleContext, HistoryReader
from console.desk_access import DeskAccess
from console.rooms import sensor_status
from console.schemas import ErrorOut, Out, SensorStatus, UtcTime
from sensors.facility import Facility, SensorInfo, SensorKind

# The rules' defaults, so that the page and the alarms agree: battery_low raises below
# 20 % (rules/defaults.py) and clock_skew beyond 5 minutes either way (rules/health.py).
BATTERY_LOW = 20.0
CLOCK_SKEW_LIMIT = timedelta(minutes=5)

_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **{code: {"model": ErrorOut} for code in (404, 503)},
}


class SensorHealthOut(Out):
    """One sensor: where it is, when it was last heard, its battery and its clock."""

    site: str
    room: str
    id: str
    kind: SensorKind
    name: str | None
    interval_s: float = Field(description="expected seconds between reports or heartbeats")
    status: SensorStatus
    offline: bool = Field(description="what the room tile counts as offline")
    last_seen: UtcTime | None
    silent_s: float | None = Field(description="seconds since the last message")
    online: bool | None = Field(description="the device's own presence report, if it sends one")
    battery: float | None = Field(description="%, as last reported")
    battery_low: bool = Field(description=f"below {BATTERY_LOW:g} %")
    clock_offset_s: float | None = Field(
        description="how far its newest self-stamped reading was ahead of its arrival "
        "(negative: behind); null for a sensor that sends no time of its own"
    )
    clock_skewed: bool = Field(
        description=f"off by more than {CLOCK_SKEW_LIMIT.total_seconds():g} s"
    )
    quarantined: dict[str, int] = Field(
        description="its refused messages by reason, among the quarantine rows still kept"
    )


class SensorsHealthOut(Out):
    """Every sensor of the sites shown, with counts for the page's header."""

    at: UtcTime
    sites: list[str]
    sensors: list[SensorHealthOut]
    statuses: dict[SensorStatus, int] = Field(description="how many sensors have each status")
    low_battery: int
    clock_skewed: int
    quarantined: dict[str, int] = Field(
        description="refused messages naming these sites, by reason, among the rows still "
        "kept (a message for an unknown sensor counts here but under no sensor)"
    )


def add_sensor_health_route(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get("/sensors/health", responses=_ERRORS)
    def sensors_health(
        site: Annotated[str | None, Query(description="default: every site granted")] = None,
        who: Principal = access.reader,
    ) -> SensorsHealthOut:
        """Every sensor: status (the room tiles' rule), last seen, battery, clock offset
        and refused messages by reason."""
        if ctx.history is None:
            raise HTTPException(
                503, "本控制台没有读数历史 / this console keeps no readings history"
            )
        sites = access.sites(who, site)
        return sensors_health_of(ctx, ctx.history, sites)


def sensors_health_of(
    ctx: ConsoleContext, history: HistoryReader, sites: list[str]
) -> SensorsHealthOut:
    """The health of every sensor of ``sites``, read in one pass over each store."""
    now = ctx.clock.now()
    per_sensor, per_site = quarantine_counts(ctx.facility, history.quarantine_by_topic(), sites)
    sensors: list[SensorHealthOut] = []
    for site in sites:
        infos = [i for i in ctx.facility.all_sensors() if i.site == site]
        ids = [i.id for i in infos]
        latest = ctx.readings.latest(site, ids) if ids else {}
        offsets = history.clock_offsets(site, ids) if ids else {}
        sensors += [
            sensor_health(
                ctx,
                info,
                latest.get(info.id),
                offsets.get(info.id),
                per_sensor.get((site, info.id), {}),
                now,
            )
            for info in infos
        ]
    statuses = Counter(s.status for s in sensors)
    return SensorsHealthOut(
        at=now,
        sites=sites,
        sensors=sensors,
        statuses={status: statuses[status] for status in SensorStatus},
        low_battery=sum(s.battery_low for s in sensors),
        clock_skewed=sum(s.clock_skewed for s in sensors),
        quarantined=dict(per_site),
    )


def sensor_health(
    ctx: ConsoleContext,
    info: SensorInfo,
    latest: SensorLatest | None,
    offset: float | None,
    quarantined: Mapping[str, int],
    now: datetime,
) -> SensorHealthOut:
    status = sensor_status(info, latest, now, ctx.stale_after_factor, ctx.listening_since)
    battery = None if latest is None else latest.values.get("battery")
    level = float(battery) if isinstance(battery, int | float) else None
    return SensorHealthOut(
        site=info.site,
        room=info.room,
        id=info.id,
        kind=info.kind,
        name=info.name,
        interval_s=info.interval.total_seconds(),
        status=status,
        offline=status.offline,
        last_seen=None if latest is None else latest.last_seen,
        silent_s=None if latest is None else (now - latest.last_seen).total_seconds(),
        online=None if latest is None else latest.online,
        battery=level,
        battery_low=level is not None and level < BATTERY_LOW,
        clock_offset_s=offset,
        clock_skewed=offset is not None and abs(offset) > CLOCK_SKEW_LIMIT.total_seconds(),
        quarantined=dict(quarantined),
    )


def quarantine_counts(
    facility: Facility, rows: Iterable[tuple[str, str, int]], sites: Iterable[str]
) -> tuple[dict[tuple[str, str], Counter[str]], Counter[str]]:
    """Refused messages by reason, per (site, sensor) and for ``sites`` as a whole, from
    (topic, reason, count) rows. A topic follows ``<prefix>/<site>/<room>/<sensor>[/status]``
    as far as it goes; one that names none of ``sites`` is left out."""
    shown = set(sites)
    per_sensor: dict[tuple[str, str], Counter[str]] = {}
    per_site: Counter[str] = Counter()
    for topic, reason, count in rows:
        parts = topic.split("/")
        if len(parts) < 2 or parts[1] not in shown:  # noqa: PLR2004 - <prefix>/<site>
            continue
        per_site[reason] += count
        if len(parts) >= 4 and (parts[1], parts[3]) in facility.sensors:  # noqa: PLR2004
            per_sensor.setdefault((parts[1], parts[3]), Counter())[reason] += count
    return per_sensor, per_site
