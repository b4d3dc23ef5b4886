"""When tasks fall due: pure occurrences in the site's time zone (Shanghai, and a Berlin
site for the nights the clocks change), month ends, quarters and cron lines; and the
APScheduler trigger that wakes the service at every creation time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from inspections.models import Scope
from inspections.schedule import occurrences, places, wake_trigger
from inspections.templates import Template
from sensors.facility import Facility, FacilityConfig
from sensors.yamlconfig import parse_yaml_model
from tests.test_inspection_common import SHANGHAI, local, templates

BERLIN = ZoneInfo("Europe/Berlin")

BERLIN_SITE = """\
sites:
  - id: ber
    name: {zh: 柏林馆, en: Berlin}
    timezone: Europe/Berlin
    buildings:
      - id: main
        name: {zh: 主馆, en: Main}
        floors:
          - id: K1
            name: {zh: 地下一层, en: Basement}
            rooms:
              - {id: R1, name: {zh: 一号库, en: Stack 1}, class: paper}
"""

ONE_ITEM = """
    role: guard
    items:
      - key: doors
        label: {zh: 门窗上锁, en: Doors locked}
"""


def _one(facility: Facility, head: str) -> Template:
    [template] = templates(facility, "templates:\n" + head + ONE_ITEM)
    return template


def _berlin() -> Facility:
    return Facility.compile(parse_yaml_model(BERLIN_SITE, FacilityConfig))


def test_a_week_of_daily_and_weekly_occurrences_in_shanghai(facility: Facility) -> None:
    patrol, weekly = templates(facility)
    # From Sunday 23:00 to the next Sunday 23:00, local time.
    after, until = local(4, 23), local(11, 23)
    daily = occurrences(patrol, facility, "yunxi", after, until)
    assert len(daily) == 7 * 2  # one room, two windows a day
    monday_am, monday_pm = daily[0], daily[1]
    assert monday_am.key == "patrol:yunxi:B2-04:2026-01-05T08:30"
    assert monday_pm.key == "patrol:yunxi:B2-04:2026-01-05T16:30"
    # Created at the start of the local day; windows on the local wall clock, in UTC.
    assert monday_am.due_at == local(5, 0) == datetime(2026, 1, 4, 16, 0, tzinfo=UTC)
    assert (monday_am.window_start, monday_am.window_end) == (local(5, 8, 30), local(5, 10))
    assert (monday_pm.window_start, monday_pm.window_end) == (local(5, 16, 30), local(5, 17, 30))
    assert [o.local_date for o in daily[::2]] == [date(2026, 1, d) for d in range(5, 12)]
    assert {o.place.room for o in daily} == {"B2-04"}
    floors = occurrences(weekly, facility, "yunxi", after, until)
    [wednesday] = floors
    assert wednesday.key == "weekly:yunxi:main/F3:2026-01-07T09:00"
    assert wednesday.place.scope is Scope.FLOOR
    assert (wednesday.place.room, wednesday.place.floor) == (None, "F3")
    assert (wednesday.place.name_zh, wednesday.place.name_en) == ("三层库区", "Third floor stacks")
    assert wednesday.due_at == local(7, 0)
    assert (wednesday.window_start, wednesday.window_end) == (local(7, 9), local(7, 17))


def test_the_interval_is_open_at_the_start_and_closed_at_the_end(facility: Facility) -> None:
    patrol, _ = templates(facility)
    midnight = local(6, 0)
    assert occurrences(patrol, facility, "yunxi", midnight, local(6, 12)) == []
    at_midnight = occurrences(patrol, facility, "yunxi", midnight - timedelta(seconds=1), midnight)
    assert [o.local_date for o in at_midnight] == [date(2026, 1, 6)] * 2


def test_room_floor_and_site_scopes(facility: Facility) -> None:
    room = _one(
        facility,
        "  - id: t\n    title: {zh: 巡, en: P}\n    cadence: daily\n"
        '    windows: [{start: "09:00", end: "10:00"}]',
    )
    floor = _one(
        facility,
        "  - id: t\n    title: {zh: 巡, en: P}\n    cadence: daily\n"
        '    windows: [{start: "09:00", end: "10:00"}]\n    scope: floor\n'
        "    room_classes: [special]",
    )
    site = _one(
        facility,
        "  - id: t\n    title: {zh: 巡, en: P}\n    cadence: daily\n"
        '    windows: [{start: "09:00", end: "10:00"}]\n    scope: site',
    )
    assert len(places(room, facility, "yunxi")) == 8
    assert [p.id for p in places(floor, facility, "yunxi")] == ["main/F2"]  # only F2 has one
    [whole] = places(site, facility, "yunxi")
    assert (whole.id, whole.room, whole.floor, whole.name_zh) == (
        "yunxi",
        None,
        None,
        "云溪市档案馆",
    )


def test_windows_keep_their_wall_clock_times_when_the_clocks_change() -> None:
    berlin = _berlin()
    patrol = _one(
        berlin,
        "  - id: patrol\n    title: {zh: 巡, en: P}\n    cadence: daily\n    windows:\n"
        '      - {start: "02:30", end: "04:00"}\n      - {start: "08:30", end: "10:00"}',
    )
    # Sunday 29 March 2026: clocks go from 02:00 CET to 03:00 CEST.
    found = occurrences(
        patrol,
        berlin,
        "ber",
        datetime(2026, 3, 27, 12, tzinfo=UTC),
        datetime(2026, 3, 30, tzinfo=UTC),
    )
    by_key = {o.key.rsplit(":", 2)[-2] + ":" + o.key.rsplit(":", 1)[-1]: o for o in found}
    saturday = by_key["2026-03-28T08:30"]
    sunday = by_key["2026-03-29T08:30"]
    assert saturday.window_start == datetime(2026, 3, 28, 7, 30, tzinfo=UTC)  # +01:00
    assert sunday.window_start == datetime(2026, 3, 29, 6, 30, tzinfo=UTC)  # +02:00
    assert sunday.window_start.astimezone(BERLIN).hour == 8
    assert sunday.due_at == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # midnight, still CET
    # 02:30 does not exist that night: it is read at the old offset, the moment of the jump.
    skipped = by_key["2026-03-29T02:30"]
    assert skipped.window_start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert skipped.window_start.astimezone(BERLIN).strftime("%H:%M") == "03:30"
    assert skipped.window_end == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST
    # Autumn: 25 October, the day is 25 hours long; 08:30 is still 08:30.
    autumn = occurrences(
        patrol,
        berlin,
        "ber",
        datetime(2026, 10, 23, 12, tzinfo=UTC),
        datetime(2026, 10, 25, 12, tzinfo=UTC),
    )
    mornings = [o for o in autumn if o.key.endswith("T08:30")]
    assert [o.window_start.astimezone(BERLIN).strftime("%H:%M %z") for o in mornings] == [
        "08:30 +0200",
        "08:30 +0100",
    ]


def test_month_ends_and_quarters(facility: Facility) -> None:
    monthly = _one(
        facility,
        "  - id: m\n    title: {zh: 月, en: M}\n    cadence: monthly\n    day: 31\n"
        '    windows: [{start: "09:00", end: "17:00"}]\n    scope: site',
    )
    year = (local(1, 0) - timedelta(seconds=1), local(1, 0, month=12) + timedelta(days=31))
    days = [o.local_date for o in occurrences(monthly, facility, "yunxi", *year)]
    assert [d.day for d in days] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    quarterly = _one(
        facility,
        "  - id: q\n    title: {zh: 季, en: Q}\n    cadence: quarterly\n    day: 31\n"
        "    month_of_quarter: 3\n"
        '    windows: [{start: "09:00", end: "17:00", end_days_later: 4}]\n    scope: site',
    )
    found = occurrences(quarterly, facility, "yunxi", *year)
    assert [o.local_date for o in found] == [
        date(2026, 3, 31),
        date(2026, 6, 30),
        date(2026, 9, 30),
        date(2026, 12, 31),
    ]
    assert found[0].window_end == datetime(2026, 4, 4, 17, tzinfo=SHANGHAI)


def test_cron_creates_each_task_when_its_window_opens(facility: Facility) -> None:
    night = _one(
        facility,
        "  - id: night\n    title: {zh: 夜, en: N}\n    cadence: cron\n"
        '    cron: "0 22 * * 1-5"\n    duration: 90m\n    scope: site',
    )
    found = occurrences(night, facility, "yunxi", local(9, 12), local(13, 12))  # Fri–Tue
    assert [o.key for o in found] == [
        "night:yunxi:yunxi:2026-01-09T22:00",
        "night:yunxi:yunxi:2026-01-12T22:00",
    ]
    friday = found[0]
    assert friday.due_at == friday.window_start == local(9, 22)
    assert friday.window_end == local(9, 23, 30)
    assert friday.local_date == date(2026, 1, 9)


def test_the_wake_trigger_fires_at_every_creation_time(facility: Facility) -> None:
    heads = [
        '    cadence: daily\n    windows: [{start: "09:00", end: "10:00"}]',
        '    cadence: weekly\n    weekday: sun\n    windows: [{start: "09:00", end: "10:00"}]',
        '    cadence: monthly\n    day: 30\n    windows: [{start: "09:00", end: "10:00"}]',
        (
            "    cadence: quarterly\n    day: 29\n    month_of_quarter: 2\n"
            '    windows: [{start: "09:00", end: "10:00"}]'
        ),
        '    cadence: cron\n    cron: "15 7 * * 3"\n    duration: 1h',
    ]
    start, end = local(1, 0) - timedelta(seconds=1), local(31, 0, month=12)
    for head in heads:
        template = _one(
            facility, "  - id: t\n    title: {zh: 巡, en: P}\n" + head + "\n    scope: site"
        )
        trigger = wake_trigger(template, SHANGHAI)
        fires: set[datetime] = set()
        cursor = start
        while (fire := trigger.get_next_fire_time(None, cursor)) is not None and fire <= end:
            fires.add(fire.astimezone(UTC))
            cursor = fire + timedelta(seconds=1)
        dues = {o.due_at for o in occurrences(template, facility, "yunxi", start, end)}
        assert dues, head
        assert dues <= fires, head
        # It only wakes the service: a few extra wake-ups at most (a month's last day).
        assert len(fires - dues) <= 12, head
