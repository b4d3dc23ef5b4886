"""The site calendar: opening spans, holidays, adjusted workdays (调休), next change, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from rules.calendar import HORIZON_DAYS, WEEKDAYS, Calendar, CalendarConfig

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
# 2026 National Day: 1-7 October off, Sunday 20 September and Saturday 10 October worked.
GOLDEN_WEEK = [date(2026, 10, d) for d in range(1, 8)]
ADJUSTED = [date(2026, 9, 20), date(2026, 10, 10)]


def shanghai(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)


def berlin(y: int, mo: int, d: int, h: int = 0, mi: int = 0, *, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN, fold=fold)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def calendar(**config: Any) -> Calendar:
    return Calendar.compile(CalendarConfig.model_validate(config))


@pytest.fixture
def office() -> Calendar:
    """The default hours with the 2026 National Day holiday and its adjusted workdays."""
    return calendar(holidays=GOLDEN_WEEK, workdays=ADJUSTED)


def test_default_hours_are_weekdays_0830_to_1730_in_shanghai() -> None:
    default = Calendar.compile(CalendarConfig())
    assert default.zone == SHANGHAI
    assert not default.is_open(shanghai(2026, 1, 6, 8, 29, 59))  # Tuesday
    assert default.is_open(shanghai(2026, 1, 6, 8, 30))
    assert default.is_open(shanghai(2026, 1, 6, 17, 29, 59))
    assert not default.is_open(shanghai(2026, 1, 6, 17, 30))  # the end is exclusive
    assert not default.is_open(shanghai(2026, 1, 10, 10, 0))  # Saturday: left out, closed


def test_a_time_in_any_zone_is_read_in_the_calendars_zone(office: Calendar) -> None:
    assert office.is_open(utc(2026, 1, 6, 2, 0))  # 10:00 in Shanghai
    assert not office.is_open(utc(2026, 1, 6, 14, 40))  # 22:40 in Shanghai
    assert not office.is_open(utc(2026, 1, 5, 23, 0))  # Monday in UTC, 07:00 Tuesday there


def test_a_lunch_break_closes_the_stacks() -> None:
    split = calendar(weekly={"mon": ["13:30-17:30", "08:30-12:00"]})
    assert split.is_open(shanghai(2026, 1, 5, 11, 59))
    assert not split.is_open(shanghai(2026, 1, 5, 12, 30))
    assert split.is_open(shanghai(2026, 1, 5, 13, 30))
    assert not split.is_open(shanghai(2026, 1, 6, 10, 0))  # Tuesday left out


def test_national_day_is_closed_and_the_adjusted_saturday_is_open(office: Calendar) -> None:
    assert not office.is_open(shanghai(2026, 10, 1, 10, 0))  # a Thursday, but a holiday
    assert office.is_open(shanghai(2026, 10, 10, 10, 0))  # a Saturday worked (调休)
    assert office.is_open(shanghai(2026, 9, 20, 17, 0))  # a Sunday worked, Monday's hours
    assert not office.is_open(shanghai(2026, 10, 10, 18, 0))
    assert not office.is_open(shanghai(2026, 10, 17, 10, 0))  # an ordinary Saturday


def test_an_adjusted_workday_can_keep_another_days_hours() -> None:
    short = calendar(
        weekly={"mon": ["08:30-17:30"], "fri": ["08:30-12:00"]},
        workdays=[date(2026, 10, 10)],
        workday_hours="fri",
    )
    assert short.is_open(shanghai(2026, 10, 10, 11, 0))
    assert not short.is_open(shanghai(2026, 10, 10, 13, 0))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (shanghai(2026, 1, 9, 12, 0), shanghai(2026, 1, 9, 17, 30)),  # Friday noon: closes
        (shanghai(2026, 1, 9, 17, 30), shanghai(2026, 1, 12, 8, 30)),  # closed: Monday
        (shanghai(2026, 1, 10, 3, 0), shanghai(2026, 1, 12, 8, 30)),
        (shanghai(2026, 1, 12, 8, 30), shanghai(2026, 1, 12, 17, 30)),  # strictly after
        (shanghai(2026, 9, 30, 18, 0), shanghai(2026, 10, 8, 8, 30)),  # over Golden Week
        (shanghai(2026, 10, 9, 18, 0), shanghai(2026, 10, 10, 8, 30)),  # the worked Saturday
        (shanghai(2026, 9, 19, 12, 0), shanghai(2026, 9, 20, 8, 30)),  # the worked Sunday
    ],
)
def test_next_change(office: Calendar, after: datetime, expected: datetime) -> None:
    change = office.next_change(after)
    assert change == expected
    assert change.tzinfo is UTC
    assert office.is_open(change) != office.is_open(after)


def test_spans_that_meet_at_midnight_do_not_flip() -> None:
    night = calendar(weekly={"mon": ["20:00-24:00"], "tue": ["00:00-08:00"]})
    assert night.is_open(shanghai(2026, 1, 5, 23, 59))
    assert night.is_open(shanghai(2026, 1, 6, 0, 0))
    assert night.next_change(shanghai(2026, 1, 5, 21, 0)) == shanghai(2026, 1, 6, 8, 0)


@pytest.mark.parametrize(
    "weekly", [{}, {day: ["00:00-24:00"] for day in WEEKDAYS}], ids=["never open", "always open"]
)
def test_a_calendar_that_never_changes_answers_the_horizon(weekly: dict[str, list[str]]) -> None:
    flat = calendar(weekly=weekly)
    after = shanghai(2026, 1, 5, 9, 0)
    assert flat.next_change(after) == after + timedelta(days=HORIZON_DAYS)


def test_berlin_opens_at_0830_local_on_both_sides_of_the_spring_change() -> None:
    berlin_office = calendar(timezone="Europe/Berlin")
    assert berlin_office.is_open(utc(2026, 3, 27, 7, 30))  # Friday, 08:30 CET
    assert not berlin_office.is_open(utc(2026, 3, 30, 6, 29))  # Monday, 08:29 CEST
    assert berlin_office.is_open(utc(2026, 3, 30, 6, 30))  # 08:30 CEST
    # Friday evening to Monday morning crosses the change: 62 hours, not the usual 63.
    change = berlin_office.next_change(berlin(2026, 3, 27, 17, 30))
    assert change == utc(2026, 3, 30, 6, 30)
    assert change - berlin(2026, 3, 27, 17, 30) == timedelta(hours=62)


def test_berlin_autumn_change() -> None:
    berlin_office = calendar(timezone="Europe/Berlin")
    assert berlin_office.next_change(berlin(2026, 10, 23, 17, 30)) == utc(2026, 10, 26, 7, 30)


def test_a_span_in_the_spring_gap_opens_when_the_clock_jumps_into_it() -> None:
    # 29 March 2026: Berlin skips from 02:00 CET to 03:00 CEST (01:00 UTC).
    sunday = calendar(timezone="Europe/Berlin", weekly={"sun": ["02:30-04:00"]})
    assert not sunday.is_open(utc(2026, 3, 29, 0, 59, 59))  # 01:59:59 CET
    assert sunday.next_change(utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert sunday.next_change(utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 2, 0)  # 04:00 CEST


def test_a_span_in_the_repeated_autumn_hour_opens_twice() -> None:
    # 25 October 2026: Berlin lives 02:00-03:00 twice, CEST then CET.
    sunday = calendar(timezone="Europe/Berlin", weekly={"sun": ["02:30-02:45"]})
    changes = [utc(2026, 10, 24, 22, 0)]
    for _ in range(4):
        changes.append(sunday.next_change(changes[-1]))
    assert changes[1:] == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 0, 45),
        utc(2026, 10, 25, 1, 30),  # 02:30 CET, the second time round
        utc(2026, 10, 25, 1, 45),
    ]
    assert sunday.is_open(berlin(2026, 10, 25, 2, 40, fold=1))


@pytest.mark.parametrize(
    ("start", "weekly"),
    [
        (utc(2026, 3, 26, 0, 0), {"sun": ["02:30-04:00"], "mon": ["08:30-17:30"]}),
        (utc(2026, 10, 22, 0, 0), {"sun": ["00:00-02:15", "02:30-02:45"], "sat": ["22:00-24:00"]}),
    ],
)
def test_next_change_agrees_with_a_minute_by_minute_scan(
    start: datetime, weekly: dict[str, list[str]]
) -> None:
    cal = calendar(timezone="Europe/Berlin", weekly=weekly)
    minutes = [start + timedelta(minutes=m) for m in range(11 * 24 * 60)]
    flips = [t for before, t in pairwise(minutes) if cal.is_open(t) != cal.is_open(before)]
    assert len(flips) >= 6
    for when in minutes[: 5 * 24 * 60 : 37]:
        assert cal.next_change(when) == next(f for f in flips if f > when), when


def test_a_naive_time_is_refused(office: Calendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        office.is_open(datetime(2026, 1, 6, 10, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("config", "loc", "message"),
    [
        ({"weekly": {"mon": ["08:00-12:00", "11:00-14:00"]}}, ("weekly", "mon"), "overlap"),
        ({"weekly": {"mon": ["17:30-08:30"]}}, ("weekly", "mon", 0), "before the end"),
        ({"weekly": {"mon": ["09:00-09:00"]}}, ("weekly", "mon", 0), "before the end"),
        ({"weekly": {"mon": ["8:30-17:30"]}}, ("weekly", "mon", 0), "not a span"),
        ({"weekly": {"tue": ["08:60-17:30"]}}, ("weekly", "tue", 0), "not a time of day"),
        ({"weekly": {"monday": ["08:30-17:30"]}}, ("weekly", "monday", "[key]"), "'mon'"),
        ({"timezone": "Mars/Olympus_Mons"}, ("timezone",), "unknown time zone"),
        ({"holiday": ["2026-10-01"]}, ("holiday",), "Extra inputs"),
        ({"holidays": ["2026-10-01"], "workdays": ["2026-10-01"]}, (), "2026-10-01"),
        ({"workdays": ["2026-10-10"], "workday_hours": "sat"}, (), "workday_hours"),
    ],
)
def test_invalid_calendars_are_refused(
    config: dict[str, Any], loc: tuple[str | int, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        CalendarConfig.model_validate(config)
    (error,) = refused.value.errors()
    assert error["loc"] == loc
    assert message in error["msg"]
