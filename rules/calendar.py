"""The site calendar: when the stacks are staffed, so that entry outside it is an alarm.

``CalendarConfig`` is the strict config; ``Calendar`` the compiled runtime object. No
national rule fixes opening hours or an after-hours approval (archive-standards.md §2,
"After hours": UNVERIFIED), so the calendar is a per-site policy and its defaults below
are a design choice, not a standard.

Times are wall-clock times in the calendar's zone; a span is ``[start, end)`` in minutes
since local midnight, so ``08:30-17:30`` is open at 08:30 and closed again at 17:30.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from sensors.room_classes import StrictModel

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # weekday()
Spans = tuple[tuple[int, int], ...]  # (start, end) minutes since local midnight, sorted

DAY_MINUTES = 24 * 60
# next_change looks this far ahead: longer than any run of holidays plus weekends.
HORIZON_DAYS = 400
# Look a week ahead first, then past a long holiday, then to the horizon: cheap when usual.
_WINDOWS = (9, 45, HORIZON_DAYS)
_SPAN = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def parse_span(text: str) -> tuple[int, int]:
    """``"08:30-17:30"`` → ``(510, 1050)``; the end may be ``24:00``."""
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a span like 08:30-17:30")
    sh, sm, eh, em = (int(part) for part in match.groups())
    start, end = sh * 60 + sm, eh * 60 + em
    if sh > 23 or sm > 59 or em > 59 or end > DAY_MINUTES:  # noqa: PLR2004
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    if start >= end:
        raise ValueError(f"{text!r}: the start must be before the end")
    return start, end


def _check_span(text: str) -> str:
    parse_span(text)
    return text


def _check_day(spans: list[str]) -> list[str]:
    ordered = sorted(parse_span(s) for s in spans)
    for (_, end), (start, _) in pairwise(ordered):
        if start < end:
            raise ValueError(f"spans overlap: {', '.join(spans)}")
    return spans


Span = Annotated[str, AfterValidator(_check_span)]
DaySpans = Annotated[list[Span], AfterValidator(_check_day)]


def _office_hours() -> dict[Weekday, list[str]]:
    # Design choice, not a standard: a Chinese public office's day, Monday to Friday.
    return {day: ["08:30-17:30"] for day in ("mon", "tue", "wed", "thu", "fri")}


class CalendarConfig(StrictModel):
    """When a site is open. A weekday left out of ``weekly`` is closed all day."""

    timezone: str = "Asia/Shanghai"
    weekly: dict[Weekday, DaySpans] = Field(default_factory=_office_hours)
    holidays: list[date] = Field(default_factory=list)  # closed all day
    # Working days despite the weekday: China's adjusted weekends (调休).
    workdays: list[date] = Field(default_factory=list)
    # Whose hours an adjusted workday keeps.
    workday_hours: Weekday = "mon"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            days = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"holidays and workdays both list {days}")
        if self.workdays and not self.weekly.get(self.workday_hours):
            raise ValueError(
                f"workday_hours is {self.workday_hours!r}, but weekly has no hours for it"
            )
        return self


@dataclass(frozen=True, slots=True)
class Calendar:
    """A compiled calendar: per-weekday spans in minutes, holiday and workday sets."""

    zone: ZoneInfo
    weekly: tuple[Spans, ...]  # seven entries, Monday first
    holidays: frozenset[date]
    workdays: frozenset[date]
    workday_spans: Spans

    @classmethod
    def compile(cls, config: CalendarConfig) -> Calendar:
        def spans(day: Weekday) -> Spans:
            return tuple(sorted(parse_span(s) for s in config.weekly.get(day, [])))

        return cls(
            zone=ZoneInfo(config.timezone),
            weekly=tuple(spans(day) for day in WEEKDAYS),
            holidays=frozenset(config.holidays),
            workdays=frozenset(config.workdays),
            workday_spans=spans(config.workday_hours),
        )

    def spans_on(self, day: date) -> Spans:
        """The open spans of a local date."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.workday_spans
        return self.weekly[day.weekday()]

    def is_open(self, when: datetime) -> bool:
        """Whether the site is open at ``when`` (aware, any zone)."""
        local = _aware(when).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.spans_on(local.date()))

    def next_change(self, after: datetime) -> datetime:
        """The first instant after ``after`` when open/closed flips, in UTC.

        A calendar that never flips within ``HORIZON_DAYS`` (always closed, or open round
        the clock) gives the horizon's end: nothing changes before then, so look again.
        """
        was_open = self.is_open(after)
        first = after.astimezone(self.zone).date() - timedelta(days=1)
        for days in _WINDOWS:
            # Candidates of days past this window are all later than `safe`.
            safe = datetime.combine(first + timedelta(days=days - 1), time(), self.zone)
            candidates = sorted(
                c
                for i in range(days)
                for c in self._candidates(first + timedelta(days=i))
                if c > after
            )
            for candidate in candidates:
                if self.is_open(candidate) != was_open:
                    if candidate < safe or days == HORIZON_DAYS:
                        return candidate
                    break
        return after.astimezone(UTC) + timedelta(days=HORIZON_DAYS)

    def _candidates(self, day: date) -> Iterator[datetime]:
        """Every instant (UTC) at which the state may flip on a local date.

        Span edges and midnight, in both folds (an autumn hour happens twice), and the
        zone's own offset change (a spring gap can jump into or out of a span).
        """
        midnight = datetime.combine(day, time(), self.zone)
        for minute in {0}.union(*self.spans_on(day)):
            wall = midnight + timedelta(minutes=minute)  # wall-clock arithmetic
            yield wall.astimezone(UTC)
            yield wall.replace(fold=1).astimezone(UTC)
        tomorrow = datetime.combine(day + timedelta(days=1), time(), self.zone)
        if midnight.utcoffset() != tomorrow.utcoffset():
            yield self._offset_change(int(midnight.timestamp()), int(tomorrow.timestamp()))

    def _offset_change(self, low: int, high: int) -> datetime:
        """Bisect (in Unix seconds) for the instant the zone's UTC offset changes."""
        before = datetime.fromtimestamp(low, self.zone).utcoffset()
        while high - low > 1:
            mid = (low + high) // 2
            if datetime.fromtimestamp(mid, self.zone).utcoffset() == before:
                low = mid
            else:
                high = mid
        return datetime.fromtimestamp(high, UTC)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the calendar needs an aware datetime (which zone?)")
    return when
