"""Report periods in the site's own calendar: Asia/Shanghai midnight, ISO weeks, quarters,
and a DST zone where a day is 23 hours long."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.reports.periods import PeriodKind, period_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_day_in_shanghai_starts_at_16_00_utc_the_day_before() -> None:
    day = period_of(PeriodKind.DAILY, date(2026, 1, 5), SHANGHAI)
    assert (day.start, day.end) == (utc(2026, 1, 4, 16), utc(2026, 1, 5, 16))
    assert day.days() == [date(2026, 1, 5)]
    assert day.slug == "2026-01-05"
    assert day.label_zh == "2026年1月5日"
    # 23:59 on the 5th in Shanghai is still the 5th; 00:00 on the 6th is not.
    assert day.local_day(utc(2026, 1, 5, 15, 59)) == date(2026, 1, 5)
    assert day.local_day(utc(2026, 1, 5, 16, 0)) == date(2026, 1, 6)


@pytest.mark.parametrize(
    "asked", [date(2026, 1, 5), date(2026, 1, 7), date(2026, 1, 11)], ids=["mon", "wed", "sun"]
)
def test_a_week_runs_monday_to_sunday(asked: date) -> None:
    week = period_of(PeriodKind.WEEKLY, asked, SHANGHAI)
    assert (week.first_day, week.last_day) == (date(2026, 1, 5), date(2026, 1, 11))
    assert (week.start, week.end) == (utc(2026, 1, 4, 16), utc(2026, 1, 11, 16))
    assert week.slug == "2026-W02"
    assert week.label_zh == "2026年第2周（1月5日至1月11日）"
    assert len(week.days()) == 7


def test_the_week_of_new_year_belongs_to_its_iso_year() -> None:
    week = period_of(PeriodKind.WEEKLY, date(2026, 1, 1), SHANGHAI)  # a Thursday
    assert (week.first_day, week.last_day) == (date(2025, 12, 29), date(2026, 1, 4))
    assert week.slug == "2026-W01"


def test_a_leap_february_and_a_december_quarter() -> None:
    february = period_of(PeriodKind.MONTHLY, date(2028, 2, 10), SHANGHAI)
    assert february.last_day == date(2028, 2, 29)
    assert february.slug == "2028-02"
    assert february.label_en == "February 2028"
    q4 = period_of(PeriodKind.QUARTERLY, date(2026, 11, 30), SHANGHAI)
    assert (q4.first_day, q4.last_day) == (date(2026, 10, 1), date(2026, 12, 31))
    assert (q4.start, q4.end) == (utc(2026, 9, 30, 16), utc(2026, 12, 31, 16))
    assert (q4.slug, q4.label_zh, q4.label_en) == ("2026-Q4", "2026年第4季度", "Q4 2026")
    q2 = period_of(PeriodKind.QUARTERLY, date(2026, 4, 1), SHANGHAI)
    assert (q2.first_day, q2.last_day) == (date(2026, 4, 1), date(2026, 6, 30))
    assert len(q2.days()) == 91


def test_a_day_with_a_dst_change_is_23_hours_long() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    day = period_of(PeriodKind.DAILY, date(2026, 3, 29), berlin)
    assert day.end - day.start == timedelta(hours=23)
    assert day.start == utc(2026, 3, 28, 23)


@given(
    kind=st.sampled_from(PeriodKind),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    zone=st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"]),
)
def test_periods_contain_their_day_and_follow_each_other_without_a_gap(
    kind: PeriodKind, day: date, zone: str
) -> None:
    tz = ZoneInfo(zone)
    period = period_of(kind, day, tz)
    assert period.first_day <= day <= period.last_day
    assert period.start < period.end
    assert period_of(kind, period.first_day, tz) == period
    following = period_of(kind, period.last_day + timedelta(days=1), tz)
    assert following.start == period.end
    assert period.local_day(period.start) == period.first_day
    assert period.local_day(period.end - timedelta(microseconds=1)) == period.last_day
