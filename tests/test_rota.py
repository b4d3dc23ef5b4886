"""On-call rotas (``alerts.rota``): who is on duty when, and when nobody is.

Times are written in the site's zone by hand. 2026-01-05 is a Monday; 2026-10-01 (National
Day) is a Thursday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts.rota import Duty, HolidayConfig, Rota, RotaConfig, ShiftConfig

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


MON = date(2026, 1, 5)
TUE, FRI, SAT, SUN = (MON + timedelta(days=n) for n in (1, 4, 5, 6))
NEXT_MON = MON + timedelta(days=7)


def shift(
    start: str, end: str, *people: str, name: str = "", days: list[str] | None = None
) -> ShiftConfig:
    data: dict[str, object] = {"name": name, "start": start, "end": end, "people": list(people)}
    if days is not None:
        data["days"] = days
    return ShiftConfig.model_validate(data)


def rota(
    *shifts: ShiftConfig,
    holidays: list[HolidayConfig] | None = None,
    zone: ZoneInfo = SHANGHAI,
) -> Rota:
    config = RotaConfig(id="guards", site="yunxi", shifts=list(shifts), holidays=holidays or [])
    return Rota.compile(config, zone)


# The example archive's guards: a day guard, a weeknight guard, a weekend-night relief.
GUARDS = (
    shift("08:00", "20:00", "wang", name="day"),
    shift("20:00", "08:00", "li", name="night", days=WEEKDAYS),
    shift("20:00", "08:00", "zhao", name="weekend night", days=["sat", "sun"]),
)


def guards(holidays: list[HolidayConfig] | None = None) -> Rota:
    return rota(*GUARDS, holidays=holidays)


def spans(duties: list[Duty]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(f"{d.start:%a %H:%M}", f"{d.end:%a %H:%M}", d.people) for d in duties]


# --- on_duty ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(TUE, 7, 59), ("li",)),
        (local(TUE, 8, 0), ("wang",)),  # [start, end): 08:00 belongs to the day shift
        (local(TUE, 12, 0), ("wang",)),
        (local(TUE, 19, 59), ("wang",)),
        (local(TUE, 20, 0), ("li",)),  # and 20:00 to the night shift
        (local(TUE, 23, 59), ("li",)),
        (local(TUE, 0, 0), ("li",)),  # Monday's night shift, past midnight
    ],
)
def test_on_duty_at_the_day_and_night_boundaries(when: datetime, expected: tuple[str]) -> None:
    assert guards().on_duty(when) == expected


def test_on_duty_accepts_utc_and_local_times_alike() -> None:
    # 00:30 UTC is 08:30 in Shanghai: the day shift.
    assert guards().on_duty(datetime(2026, 1, 6, 0, 30, tzinfo=UTC)) == ("wang",)
    assert guards().on_duty(datetime(2026, 1, 5, 23, 59, tzinfo=UTC)) == ("li",)  # 07:59


def test_a_night_shift_belongs_to_the_day_it_starts() -> None:
    # Friday night is a weeknight (li) until Saturday 08:00; Sunday night is the weekend
    # relief's (zhao) until Monday 08:00, though Monday is a weekday.
    r = guards()
    assert r.on_duty(local(SAT, 3, 0)) == ("li",)
    assert r.on_duty(local(SAT, 20, 0)) == ("zhao",)
    assert r.on_duty(local(NEXT_MON, 3, 0)) == ("zhao",)
    assert r.on_duty(local(NEXT_MON, 20, 0)) == ("li",)


def test_weekday_limited_shifts() -> None:
    r = rota(
        shift("00:00", "24:00", "wang"),
        shift("09:00", "17:00", "chen", days=WEEKDAYS),  # the office hours' supervisor
    )
    assert r.on_duty(local(FRI, 10, 0)) == ("wang", "chen")
    assert r.on_duty(local(FRI, 17, 0)) == ("wang",)
    assert r.on_duty(local(SAT, 10, 0)) == ("wang",)
    assert r.on_duty(local(SUN, 10, 0)) == ("wang",)


def test_overlapping_shifts_name_each_person_once_in_rota_order() -> None:
    r = rota(
        shift("08:00", "20:00", "wang", "li"),
        shift("12:00", "14:00", "li", "chen"),
        shift("20:00", "08:00", "li"),
    )
    assert r.on_duty(local(TUE, 13, 0)) == ("wang", "li", "chen")


def test_nobody_on_duty_is_an_empty_tuple() -> None:
    r = rota(shift("08:00", "20:00", "wang"))
    assert r.on_duty(local(TUE, 21, 0)) == ()


def test_a_shift_ending_at_24_00_and_one_of_a_whole_day() -> None:
    r = rota(shift("00:00", "24:00", "wang"))
    assert spans(list(r.duties(local(MON, 0), local(TUE, 0)))) == [
        ("Mon 00:00", "Tue 00:00", ("wang",))
    ]
    # Start equal to end is a full day too: it runs past midnight back to the same time.
    r = rota(shift("08:00", "08:00", "wang"))
    (duty,) = r.duties(local(MON, 8), local(MON, 9))
    assert (duty.start, duty.end) == (local(MON, 8), local(TUE, 8))


# --- holidays --------------------------------------------------------------------------------

NATIONAL_DAY = date(2026, 10, 1)  # a Thursday
HOLIDAY = HolidayConfig(
    date=NATIONAL_DAY,
    shifts=[
        shift("00:00", "20:00", "zhao", name="holiday"),
        shift("20:00", "08:00", "li", name="night"),
    ],
)


def test_a_holiday_replaces_the_shifts_of_that_day() -> None:
    r = guards(holidays=[HOLIDAY])
    assert r.on_duty(local(NATIONAL_DAY, 12, 0)) == ("zhao",)  # not wang
    assert r.on_duty(local(NATIONAL_DAY, 20, 0)) == ("li",)
    assert r.on_duty(local(NATIONAL_DAY + timedelta(days=1), 7, 59)) == ("li",)
    assert r.on_duty(local(NATIONAL_DAY + timedelta(days=1), 8, 0)) == ("wang",)


def test_the_night_before_a_holiday_still_runs_out() -> None:
    # Wednesday's night shift (li) started before the holiday and ends at 08:00 on it,
    # overlapping the holiday's own shift that starts at midnight.
    r = guards(holidays=[HOLIDAY])
    assert r.on_duty(local(NATIONAL_DAY, 0, 0)) == ("li", "zhao")
    assert r.on_duty(local(NATIONAL_DAY, 7, 59)) == ("li", "zhao")
    assert r.on_duty(local(NATIONAL_DAY, 8, 0)) == ("zhao",)
    assert spans(list(r.duties(local(NATIONAL_DAY, 0), local(NATIONAL_DAY, 23)))) == [
        ("Wed 20:00", "Thu 08:00", ("li",)),
        ("Thu 00:00", "Thu 20:00", ("zhao",)),
        ("Thu 20:00", "Fri 08:00", ("li",)),
    ]


def test_the_day_after_a_holiday_is_an_ordinary_day() -> None:
    r = guards(holidays=[HOLIDAY])
    friday = NATIONAL_DAY + timedelta(days=1)
    assert r.on_duty(local(friday, 12, 0)) == ("wang",)
    assert r.on_duty(local(friday, 21, 0)) == ("li",)


# --- gaps ------------------------------------------------------------------------------------


def test_a_full_rota_has_no_gaps_in_a_week() -> None:
    assert guards().gaps(local(MON, 0), local(NEXT_MON, 0)) == []


def test_gaps_report_the_exact_spans_nobody_covers() -> None:
    r = rota(shift("08:00", "20:00", "wang"), shift("21:00", "07:30", "li"))
    assert r.gaps(local(MON, 0), local(TUE, 12)) == [
        (local(MON, 7, 30), local(MON, 8, 0)),
        (local(MON, 20, 0), local(MON, 21, 0)),
        (local(TUE, 7, 30), local(TUE, 8, 0)),
    ]


def test_gaps_are_clipped_to_the_range_asked_for() -> None:
    r = rota(shift("08:00", "20:00", "wang"))
    assert r.gaps(local(MON, 6), local(MON, 9)) == [(local(MON, 6), local(MON, 8))]
    assert r.gaps(local(MON, 19), local(MON, 22)) == [(local(MON, 20), local(MON, 22))]
    assert r.gaps(local(MON, 21), local(MON, 22)) == [(local(MON, 21), local(MON, 22))]
    assert r.gaps(local(MON, 9), local(MON, 10)) == []


def test_a_weekend_without_a_night_shift_is_a_gap() -> None:
    r = rota(shift("08:00", "20:00", "wang"), shift("20:00", "08:00", "li", days=WEEKDAYS))
    assert r.gaps(local(FRI, 0), local(NEXT_MON, 12)) == [
        (local(SAT, 20), local(SUN, 8)),
        (local(SUN, 20), local(NEXT_MON, 8)),
    ]


def test_a_holiday_without_a_night_shift_leaves_the_night_after_it_uncovered() -> None:
    short = HolidayConfig(date=NATIONAL_DAY, shifts=[shift("00:00", "20:00", "zhao")])
    r = guards(holidays=[short])
    friday = NATIONAL_DAY + timedelta(days=1)
    assert r.gaps(local(NATIONAL_DAY, 0), local(friday + timedelta(days=1), 0)) == [
        (local(NATIONAL_DAY, 20), local(friday, 8))
    ]


def test_check_dates_cover_an_ordinary_week_and_each_holiday_with_the_day_after() -> None:
    r = guards(holidays=[HOLIDAY])
    assert list(r.check_dates()) == [
        (local(date(2001, 1, 1), 0), local(date(2001, 1, 8), 0)),
        (local(NATIONAL_DAY, 0), local(date(2026, 10, 3), 0)),
    ]


# --- duties ----------------------------------------------------------------------------------


def test_duties_over_seven_days_in_order_of_start() -> None:
    duties = list(guards().duties(local(MON, 0), local(NEXT_MON, 0)))
    assert spans(duties) == [
        ("Sun 20:00", "Mon 08:00", ("zhao",)),  # the weekend night that runs into Monday
        ("Mon 08:00", "Mon 20:00", ("wang",)),
        ("Mon 20:00", "Tue 08:00", ("li",)),
        ("Tue 08:00", "Tue 20:00", ("wang",)),
        ("Tue 20:00", "Wed 08:00", ("li",)),
        ("Wed 08:00", "Wed 20:00", ("wang",)),
        ("Wed 20:00", "Thu 08:00", ("li",)),
        ("Thu 08:00", "Thu 20:00", ("wang",)),
        ("Thu 20:00", "Fri 08:00", ("li",)),
        ("Fri 08:00", "Fri 20:00", ("wang",)),
        ("Fri 20:00", "Sat 08:00", ("li",)),
        ("Sat 08:00", "Sat 20:00", ("wang",)),
        ("Sat 20:00", "Sun 08:00", ("zhao",)),
        ("Sun 08:00", "Sun 20:00", ("wang",)),
        ("Sun 20:00", "Mon 08:00", ("zhao",)),
    ]
    assert [d.name for d in duties[:3]] == ["weekend night", "day", "night"]
    assert duties[0].start == local(SUN - timedelta(days=7), 20)
    assert all(d.start.tzinfo is SHANGHAI for d in duties)


def test_duties_are_those_overlapping_the_range_only() -> None:
    duties = list(guards().duties(local(TUE, 8), local(TUE, 20)))
    assert spans(duties) == [("Tue 08:00", "Tue 20:00", ("wang",))]  # [start, end)


# --- a site in another time zone -------------------------------------------------------------
#
# What the code does, decided here: a shift starts and ends at its wall-clock times on the
# site's clocks. A 20:00-08:00 night across a clock change therefore ends at 08:00 local,
# which is 11 hours of real time in spring and 13 in autumn; the morning hand-over stays at
# 08:00 and the rota has neither a gap nor an overlap on those nights.

BST_STARTS = date(2026, 3, 29)  # a Sunday: 01:00 GMT becomes 02:00 BST
BST_ENDS = date(2026, 10, 25)  # a Sunday: 02:00 BST becomes 01:00 GMT


def london_guards() -> Rota:
    return rota(
        shift("08:00", "20:00", "morgan", name="day"),
        shift("20:00", "08:00", "sam", name="night"),
        zone=LONDON,
    )


@pytest.mark.parametrize(
    ("change_day", "hours", "ends_utc"),
    [
        (BST_STARTS, 11, datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),  # 08:00 BST
        (BST_ENDS, 13, datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),  # 08:00 GMT
    ],
)
def test_a_night_across_a_clock_change_ends_at_0800_local(
    change_day: date, hours: int, ends_utc: datetime
) -> None:
    eve = change_day - timedelta(days=1)
    r = london_guards()
    night = next(
        d
        for d in r.duties(local(eve, 21, zone=LONDON), local(eve, 22, zone=LONDON))
        if d.name == "night"
    )
    assert night.start == local(eve, 20, zone=LONDON)
    assert night.end.astimezone(UTC) == ends_utc
    assert (night.end.hour, night.end.minute) == (8, 0)  # wall clock on the site's clocks
    assert night.end.astimezone(UTC) - night.start.astimezone(UTC) == timedelta(hours=hours)


@pytest.mark.parametrize("change_day", [BST_STARTS, BST_ENDS])
def test_the_hand_over_across_a_clock_change_leaves_no_gap_or_overlap(change_day: date) -> None:
    r = london_guards()
    eve = change_day - timedelta(days=1)
    start, end = local(eve, 0, zone=LONDON), local(change_day + timedelta(days=1), 0, zone=LONDON)
    assert r.gaps(start, end) == []
    hand_over = local(change_day, 8, zone=LONDON)
    assert r.on_duty(hand_over - timedelta(minutes=1)) == ("sam",)
    assert r.on_duty(hand_over) == ("morgan",)


def test_on_duty_in_london_from_a_utc_time() -> None:
    r = london_guards()
    # 07:30 UTC on the first BST morning is 08:30 BST: the day guard, though 07:30 UTC
    # would still be night in GMT.
    assert r.on_duty(datetime(2026, 3, 29, 7, 30, tzinfo=UTC)) == ("morgan",)
    assert r.on_duty(datetime(2026, 3, 29, 6, 59, tzinfo=UTC)) == ("sam",)
    # Winter: 07:30 UTC is 07:30 GMT, still night.
    assert r.on_duty(datetime(2026, 1, 6, 7, 30, tzinfo=UTC)) == ("sam",)


# --- the config's own checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("8:00", "20:00", "'8:00' is not a time of day like 08:00 (00:00 to 24:00)"),
        ("08:00", "25:00", "'25:00' is not a time of day like 08:00 (00:00 to 24:00)"),
        ("08:60", "20:00", "'08:60' is not a time of day like 08:00 (00:00 to 24:00)"),
        ("24:30", "08:00", "'24:30' is past 24:00"),
    ],
)
def test_a_shift_refuses_a_bad_time_of_day(start: str, end: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        shift(start, end, "wang")
    assert [e["msg"] for e in refused.value.errors()] == [f"Value error, {message}"]


def test_a_shift_needs_somebody_and_a_known_weekday() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        shift("08:00", "20:00")
    with pytest.raises(ValidationError, match="'mon', 'tue'"):
        shift("08:00", "20:00", "wang", days=["monday"])
