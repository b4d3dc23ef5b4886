"""On-call rotas: who is on duty at a given moment, and where nobody is.

A rota is a week of shifts in the site's time zone, with holiday overrides. A shift that
ends at or before its start runs past midnight (``20:00``–``08:00``) and belongs to the day
it starts. On a holiday date the override's shifts replace the weekly shifts that would
start that day; the night shift that began the evening before still runs out.

The load-time check (``Rota.gaps``) is why an escalation can never page into a hole: a
rota with a time when nobody is on duty is refused with that time range (peers.md, pain
point 6: "L2 had no notification method set, so the page went to directors").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from sensors.room_classes import StrictModel

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^(\d\d):(\d\d)$")


def _check_clock(text: str) -> str:
    match = _CLOCK.match(text)
    if match is None or int(match.group(1)) > 24 or int(match.group(2)) > 59:  # noqa: PLR2004
        raise ValueError(f"{text!r} is not a time of day like 08:00 (00:00 to 24:00)")
    if text.startswith("24") and text != "24:00":
        raise ValueError(f"{text!r} is past 24:00")
    return text


Clock = Annotated[str, AfterValidator(_check_clock)]


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class ShiftConfig(StrictModel):
    """People on duty from ``start`` to ``end`` on the listed days (all days if omitted)."""

    name: str = ""
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: Clock
    end: Clock
    people: list[str] = Field(min_length=1)


class HolidayConfig(StrictModel):
    """A date whose shifts differ from the week's (Spring Festival, National Day)."""

    date: date
    shifts: list[ShiftConfig] = Field(min_length=1)


class RotaConfig(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    site: str
    shifts: list[ShiftConfig] = Field(min_length=1)
    holidays: list[HolidayConfig] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Shift:
    start: int  # minutes after local midnight
    length: int  # minutes; a shift past midnight is longer than what is left of its day
    people: tuple[str, ...]
    name: str

    @classmethod
    def of(cls, config: ShiftConfig) -> Shift:
        start, end = _minutes(config.start), _minutes(config.end)
        length = end - start if end > start else end + 24 * 60 - start
        return cls(start, length, tuple(config.people), config.name)


@dataclass(frozen=True, slots=True)
class Duty:
    """One concrete shift: who, from when, until when (aware datetimes)."""

    start: datetime
    end: datetime
    people: tuple[str, ...]
    name: str


@dataclass(frozen=True, slots=True)
class Rota:
    """The compiled rota: answers "who is on duty now" and "when is nobody"."""

    id: str
    site: str
    zone: ZoneInfo
    weekly: tuple[tuple[Shift, ...], ...]  # by weekday(), Monday first
    holidays: dict[date, tuple[Shift, ...]]

    @classmethod
    def compile(cls, config: RotaConfig, zone: ZoneInfo) -> Rota:
        weekly = tuple(
            tuple(Shift.of(s) for s in config.shifts if day in s.days) for day in WEEKDAYS
        )
        holidays = {h.date: tuple(Shift.of(s) for s in h.shifts) for h in config.holidays}
        return cls(config.id, config.site, zone, weekly, holidays)

    def duties(self, start: datetime, end: datetime) -> Iterator[Duty]:
        """Every shift that overlaps ``[start, end)``, in order of start."""
        local_start = start.astimezone(self.zone).date() - timedelta(days=1)
        day = local_start
        last = end.astimezone(self.zone).date()
        found: list[Duty] = []
        while day <= last:
            shifts = self.holidays.get(day, self.weekly[day.weekday()])
            midnight = datetime.combine(day, time(0), self.zone)
            for shift in shifts:
                # Wall-clock times: a shift starts and ends at its clock times, so on a
                # night when the clocks change (China has none, London has) it is an
                # hour shorter or longer, and the hand-over stays at 08:00.
                begins = _local(midnight, shift.start, self.zone)
                ends = begins + timedelta(minutes=shift.length)
                if ends > start and begins < end:
                    found.append(Duty(begins, ends, shift.people, shift.name))
            day += timedelta(days=1)
        yield from sorted(found, key=lambda d: d.start)

    def on_duty(self, at: datetime) -> tuple[str, ...]:
        """The people on duty at ``at``, in rota order, each once."""
        people: dict[str, None] = {}
        for duty in self.duties(at, at + timedelta(microseconds=1)):
            people.update(dict.fromkeys(duty.people))
        return tuple(people)

    def gaps(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The spans within ``[start, end)`` when nobody is on duty."""
        holes: list[tuple[datetime, datetime]] = []
        covered_to = start
        for duty in self.duties(start, end):
            if duty.start > covered_to:
                holes.append((covered_to, min(duty.start, end)))
            covered_to = max(covered_to, duty.end)
            if covered_to >= end:
                break
        if covered_to < end:
            holes.append((covered_to, end))
        return holes

    def check_dates(self) -> Iterator[tuple[datetime, datetime]]:
        """Days that prove the whole rota: any full week, and each holiday with its
        neighbours (a holiday override may leave the morning after uncovered)."""
        # The Monday of a week without holidays stands for every ordinary week; the
        # weekly pattern repeats, so eight days (with the spill of Sunday night) suffice.
        monday = date(2001, 1, 1)  # a Monday, far from any configured holiday
        yield (
            datetime.combine(monday, time(0), self.zone),
            datetime.combine(monday + timedelta(days=7), time(0), self.zone),
        )
        for day in sorted(self.holidays):
            yield (
                datetime.combine(day, time(0), self.zone),
                datetime.combine(day + timedelta(days=2), time(0), self.zone),
            )


def _local(midnight: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    naive = midnight.replace(tzinfo=None) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=zone)
