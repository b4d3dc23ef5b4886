"""Report periods: a day, a Monday-to-Sunday week, a month or a quarter of a site's calendar.

The archive's routine is 日巡查、周检查、月排查、季考核 (archive-standards.md §2), and each of
those is counted in the site's own calendar: "Monday" and "the first quarter" begin at
local midnight, not at UTC midnight. A period is therefore chosen by site-local dates and
turned into a half-open [start, end) of aware UTC times, which is what every store keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class PeriodKind(StrEnum):
    DAILY = "daily"  # 日报
    WEEKLY = "weekly"  # 周报, Monday to Sunday
    MONTHLY = "monthly"  # 月报
    QUARTERLY = "quarterly"  # 季报: the 季考核 the leadership signs


@dataclass(frozen=True, slots=True)
class Period:
    """Site-local days ``first_day``…``last_day`` (inclusive), as UTC [start, end)."""

    kind: PeriodKind
    first_day: date
    last_day: date
    start: datetime
    end: datetime
    timezone: ZoneInfo

    def days(self) -> list[date]:
        """Every site-local day of the period, in order."""
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    def local_day(self, at: datetime) -> date:
        """The site-local calendar day that the UTC instant ``at`` falls on."""
        return at.astimezone(self.timezone).date()

    @property
    def slug(self) -> str:
        """A short stable name for files: 2026-01-05, 2026-W02, 2026-01, 2026-Q1."""
        first = self.first_day
        if self.kind is PeriodKind.DAILY:
            return first.isoformat()
        if self.kind is PeriodKind.WEEKLY:
            year, week, _ = first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind is PeriodKind.MONTHLY:
            return f"{first.year}-{first.month:02d}"
        return f"{first.year}-Q{_quarter(first)}"

    @property
    def label_zh(self) -> str:
        first, last = self.first_day, self.last_day
        if self.kind is PeriodKind.DAILY:
            return f"{first.year}年{first.month}月{first.day}日"
        if self.kind is PeriodKind.WEEKLY:
            year, week, _ = first.isocalendar()
            return f"{year}年第{week}周（{first.month}月{first.day}日至{last.month}月{last.day}日）"
        if self.kind is PeriodKind.MONTHLY:
            return f"{first.year}年{first.month}月"
        return f"{first.year}年第{_quarter(first)}季度"

    @property
    def label_en(self) -> str:
        first, last = self.first_day, self.last_day
        if self.kind is PeriodKind.DAILY:
            return first.isoformat()
        if self.kind is PeriodKind.WEEKLY:
            return f"{self.slug} ({first.isoformat()} to {last.isoformat()})"
        if self.kind is PeriodKind.MONTHLY:
            return first.strftime("%B %Y")
        return f"Q{_quarter(first)} {first.year}"


def period_of(kind: PeriodKind, day: date, timezone: ZoneInfo) -> Period:
    """The period of ``kind`` that contains the site-local date ``day``."""
    if kind is PeriodKind.DAILY:
        first, after = day, day + timedelta(days=1)
    elif kind is PeriodKind.WEEKLY:
        first = day - timedelta(days=day.weekday())  # ISO weeks start on Monday
        after = first + timedelta(days=7)
    elif kind is PeriodKind.MONTHLY:
        first = day.replace(day=1)
        after = _add_months(first, 1)
    else:
        first = date(day.year, 3 * (_quarter(day) - 1) + 1, 1)
        after = _add_months(first, 3)
    return Period(
        kind=kind,
        first_day=first,
        last_day=after - timedelta(days=1),
        start=local_midnight(first, timezone),
        end=local_midnight(after, timezone),
        timezone=timezone,
    )


def local_midnight(day: date, timezone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``timezone``.

    Where a DST change skips midnight itself, zoneinfo reads the missing wall time with the
    offset in force before the change, which is the instant the day's first hour begins.
    """
    return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)


def _quarter(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _add_months(first: date, months: int) -> date:
    index = first.month - 1 + months
    return date(first.year + index // 12, index % 12 + 1, 1)
