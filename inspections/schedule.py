"""When a template's tasks fall due: pure functions of the template, the facility and time.

An occurrence is one task to create: a template, a place (a room, a floor or the site),
a window in UTC and the moment it is created. The calendar cadences create a day's
tasks at the start of that local day, so that a guard sees the whole day's list in the
morning; a cron template creates each task when its window opens (a cron line names
moments, not days). Times are computed on the site's wall clock and then turned into
UTC, so a window stays 08:30–10:00 on the day the clocks change (Asia/Shanghai has no
daylight saving; a site in Europe does). A wall time that does not exist that night is
read with the offset before the change, which lands on the moment the clocks jumped.

The key names the occurrence for good (template:site:place:local-date and window start):
creating it twice is impossible, so a restart or two schedulers never duplicate a task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from inspections.cron import cron_trigger
from inspections.models import Cadence, Scope
from inspections.templates import Template, Window
from sensors.facility import Facility

_QUARTER_MONTHS = "1,4,7,10", "2,5,8,11", "3,6,9,12"
_LAST_SURE_DAY = 28  # every month has it; later days need "last" as well


@dataclass(frozen=True, slots=True)
class Place:
    """What one task covers: a room, a floor, or the whole site."""

    site: str
    scope: Scope
    id: str  # the room id, "building/floor", or the site id: unique within the site
    room: str | None
    floor: str | None
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Occurrence:
    key: str
    template: Template
    place: Place
    due_at: datetime  # when the task is created, UTC
    window_start: datetime  # UTC
    window_end: datetime  # UTC
    local_date: date  # the site-local day the occurrence belongs to


def places(template: Template, facility: Facility, site: str) -> list[Place]:
    """The places of ``site`` that get a task of ``template``, in facility order."""
    rooms = template.rooms(facility, site)
    if not rooms:
        return []
    info = facility.sites[site]
    if template.scope is Scope.SITE:
        return [Place(site, Scope.SITE, site, None, None, info.name.zh, info.name.en)]
    if template.scope is Scope.FLOOR:
        with_rooms = {
            (facility.rooms[(site, r)].building, facility.rooms[(site, r)].floor) for r in rooms
        }
        return [
            Place(site, Scope.FLOOR, f"{b}/{f}", None, f, name.zh, name.en)
            for b, f, name in info.floors
            if (b, f) in with_rooms
        ]
    found = []
    for room_id in rooms:
        room = facility.rooms[(site, room_id)]
        found.append(
            Place(
                site,
                Scope.ROOM,
                room.id,
                room.id,
                room.floor,
                f"{room.id} {room.name.zh}",
                f"{room.id} {room.name.en}",
            )
        )
    return found


def occurrences(
    template: Template, facility: Facility, site: str, after: datetime, until: datetime
) -> list[Occurrence]:
    """Every occurrence of ``template`` at ``site`` created in ``(after, until]``, in the
    order of their creation."""
    where = places(template, facility, site)
    if not where or until <= after:
        return []
    zone = facility.sites[site].timezone
    found: list[Occurrence] = []
    if template.cadence is Cadence.CRON:
        for start in _cron_times(template, zone, after, until):
            end = start + (template.duration or timedelta(0))
            day = start.astimezone(zone).date()
            label = f"{day.isoformat()}T{start.astimezone(zone):%H:%M}"
            found += [
                Occurrence(_key(template, place, label), template, place, start, start, end, day)
                for place in where
            ]
        return found
    day = after.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        due = wall(day, time(0), zone)
        if after < due <= until and template.runs_on(day):
            for window in template.windows:
                start, end = window_times(day, window, zone)
                label = f"{day.isoformat()}T{window.start:%H:%M}"
                found += [
                    Occurrence(_key(template, place, label), template, place, due, start, end, day)
                    for place in where
                ]
        day += timedelta(days=1)
    return found


def window_times(day: date, window: Window, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start and end of ``window`` on local ``day``."""
    start = wall(day, window.start, zone)
    end = wall(day + timedelta(days=window.end_days_later), window.end, zone)
    return start, end


def wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (fold 0: the earlier of a repeated
    hour, and the offset before the change for an hour that is skipped)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def wake_trigger(template: Template, zone: ZoneInfo) -> CronTrigger:
    """A trigger firing at (at least) every creation time of ``template`` in ``zone``.

    It only wakes the service; the exact dates come from ``occurrences``, so a trigger
    that fires on a day with nothing due (day 30 of a 31-day month) does no harm.
    """
    if template.cadence is Cadence.CRON:
        return cron_trigger(template.cron or "", zone.key)
    fields: dict[str, str] = {"hour": "0", "minute": "0", "second": "0"}
    if template.cadence is Cadence.WEEKLY and template.weekday is not None:
        fields["day_of_week"] = str(template.weekday)  # APScheduler counts from Monday = 0
    if template.cadence in (Cadence.MONTHLY, Cadence.QUARTERLY) and template.day is not None:
        day = template.day
        fields["day"] = str(day) if day <= _LAST_SURE_DAY else f"{day},last"
    if template.cadence is Cadence.QUARTERLY:
        fields["month"] = _QUARTER_MONTHS[template.month_of_quarter - 1]
    return CronTrigger(timezone=zone, **fields)


def _cron_times(
    template: Template, zone: ZoneInfo, after: datetime, until: datetime
) -> list[datetime]:
    trigger = cron_trigger(template.cron or "", zone.key)
    times: list[datetime] = []
    # The trigger answers "the first fire time at or after": step past each one found.
    cursor = after + timedelta(microseconds=1)
    while True:
        fire = trigger.get_next_fire_time(None, cursor)
        if fire is None or fire > until:
            return times
        times.append(fire.astimezone(UTC))
        cursor = fire + timedelta(microseconds=1)


def _key(template: Template, place: Place, label: str) -> str:
    return f"{template.id}:{place.site}:{place.id}:{label}"
