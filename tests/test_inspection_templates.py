"""Inspection templates: the shipped example loads and covers every cadence; invalid files
are refused with file, line and field (one small file per case, after Alertmanager's
config tests); cron lines read as crontab reads them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inspections.cron import cron_trigger
from inspections.models import Cadence, ItemKind, PhotoRule, Scope
from inspections.templates import EXAMPLE_TEMPLATES, default_templates, load_templates
from sensors.events import Severity
from sensors.facility import Facility
from sensors.yamlconfig import ConfigError
from tests.test_inspection_common import templates

INVALID = Path(__file__).resolve().parent / "testdata" / "inspections"
EXTRA = "Extra inputs are not permitted"

# file → every problem it must produce: (line, field, part of the message)
CASES: dict[str, list[tuple[int, str, str]]] = {
    "unknown_room_class.yaml": [
        (7, "templates.0.room_classes", "unknown room class 'vault' (known: av_tape, film_copy")
    ],
    "weekly_without_weekday.yaml": [(2, "templates.0.weekday", "a weekly template needs weekday")],
    "weekday_on_daily.yaml": [
        (5, "templates.0.weekday", "weekday does not apply to a daily template")
    ],
    "reading_without_field.yaml": [
        (11, "templates.0.items.1", "a reading item needs a field (temperature, humidity")
    ],
    "duplicate_item_key.yaml": [(11, "templates.0.items.1.key", "duplicate item key 'doors'")],
    "duplicate_template_id.yaml": [(11, "templates.1.id", "duplicate template id 'patrol'")],
    "floor_reading_without_limits.yaml": [
        (11, "templates.0.items.0", "a floor-scoped humidity reading needs both min and max")
    ],
    "bad_cron.yaml": [(5, "templates.0.cron", "is not a five-field cron expression")],
    "cron_day_and_weekday.yaml": [
        (5, "templates.0.cron", "restrict the day of the month or the weekday, not both")
    ],
    "unknown_floor.yaml": [(7, "templates.0.floors", "unknown floor 'F9'")],
    "bad_window_time.yaml": [
        (6, "templates.0.windows.0.start", "'8:30' is not a time of day like 08:00")
    ],
    "misspelt_key.yaml": [(8, "templates.0.remind_befor", f"{EXTRA} (got '30m')")],
    "window_too_long.yaml": [(7, "templates.0.windows.1", "a daily window may last at most 1d")],
    "matches_no_room.yaml": [
        (2, "templates.0", "the template's sites, floors and room classes match no room")
    ],
    "photo_item_optional.yaml": [
        (10, "templates.0.items.0", "a photo item always needs its photo")
    ],
}


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda n: n.removesuffix(".yaml"))
def test_invalid_file_names_file_line_and_field(name: str, facility: Facility) -> None:
    path = INVALID / name
    with pytest.raises(ConfigError) as caught:
        load_templates(path, facility)
    found = caught.value.problems
    summary = "\n".join(str(p) for p in found)
    assert [(p.line, p.field) for p in found] == [(ln, f) for ln, f, _ in CASES[name]], summary
    for problem, (_, _, fragment) in zip(found, CASES[name], strict=True):
        assert problem.file == str(path)
        assert fragment in problem.message, summary


def test_every_invalid_file_has_a_case() -> None:
    assert {p.name for p in INVALID.glob("*.yaml")} == set(CASES)


def test_example_file_loads_with_every_cadence_in_both_languages(facility: Facility) -> None:
    loaded = load_templates(EXAMPLE_TEMPLATES, facility)
    assert loaded == default_templates(facility)
    assert {t.cadence for t in loaded} == set(Cadence)
    by_id = {t.id: t for t in loaded}
    assert set(by_id) == {
        "daily-patrol",
        "weekly-check",
        "monthly-sweep",
        "quarterly-assessment",
        "night-round",
    }
    for template in loaded:
        assert template.title_zh
        assert template.title_en
        assert template.title_zh != template.title_en
        for item in template.items:
            assert item.label_zh
            assert item.label_en
            assert item.label_zh != item.label_en, item.key
    patrol = by_id["daily-patrol"]
    assert [w.label for w in patrol.windows] == ["08:30–10:00", "16:30–17:30"]
    assert patrol.scope is Scope.ROOM
    assert patrol.role == "guard"
    readings = {i.field for i in patrol.items if i.kind is ItemKind.READING}
    assert readings == {"temperature", "humidity"}
    # None here: the room class's limits, filled in when a room's task is made.
    assert all(i.minimum is None for i in patrol.items if i.kind is ItemKind.READING)
    keys = {i.key for i in patrol.items}
    assert {"no-leaks", "doors-windows", "lights-power-off", "dehumidifier"} <= keys
    weekly = by_id["weekly-check"]
    extinguishers = next(i for i in weekly.items if i.key == "extinguishers")
    assert extinguishers.photo is PhotoRule.REQUIRED
    assert {"detectors", "pest-traps"} <= {i.key for i in weekly.items}
    monthly = by_id["monthly-sweep"]
    assert monthly.scope is Scope.FLOOR
    assert monthly.windows[0].end_days_later == 2
    quarterly = by_id["quarterly-assessment"]
    assert quarterly.scope is Scope.SITE
    assert (quarterly.month_of_quarter, quarterly.day) == (3, 25)
    assert {"emergency-plan", "hazard-follow-up", "responsibility"} <= {
        i.key for i in quarterly.items
    }
    record = next(i for i in quarterly.items if i.kind is ItemKind.PHOTO)
    assert record.photo is PhotoRule.REQUIRED  # a photo item needs its photo by default
    assert by_id["night-round"].duration == timedelta(hours=1)


def test_test_templates_compile_with_defaults(facility: Facility) -> None:
    patrol, weekly = templates(facility)
    assert patrol.remind_before == timedelta(minutes=30)
    assert patrol.overdue_severity is Severity.MEDIUM
    assert patrol.rooms(facility, "yunxi") == ["B2-04"]
    humidity = patrol.items[0]
    assert (humidity.unit, humidity.minimum, humidity.maximum) == ("%RH", None, None)
    assert weekly.weekday == 2  # Wednesday
    assert weekly.overdue_severity is Severity.HIGH
    assert weekly.rooms(facility, "yunxi") == ["B3-01", "B3-02", "B3-03", "B3-04"]


def _fires(expression: str, start: datetime, count: int) -> list[str]:
    trigger = cron_trigger(expression, "Asia/Shanghai")
    found, cursor = [], start
    for _ in range(count):
        fire = trigger.get_next_fire_time(None, cursor)
        found.append(f"{fire:%a %H:%M}")
        cursor = fire + timedelta(seconds=1)
    return found


def test_cron_weekdays_count_from_sunday_as_crontab_does() -> None:
    friday = datetime(2026, 1, 9, 0, 0, tzinfo=UTC)  # Friday 08:00 in Shanghai
    # APScheduler's own from_crontab would read 1-5 as Tuesday to Saturday.
    assert _fires("30 8 * * 1-5", friday, 3) == ["Fri 08:30", "Mon 08:30", "Tue 08:30"]
    assert _fires("0 22 * * 0,6", friday, 3) == ["Sat 22:00", "Sun 22:00", "Sat 22:00"]
    assert _fires("0 9 * * 7", friday, 1) == ["Sun 09:00"]
    assert _fires("0 9 * * sat-sun", friday, 2) == ["Sat 09:00", "Sun 09:00"]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 9 * *", "not a five-field cron expression"),
        ("0 9 * * 8", "weekday '8' is past 7"),
        ("0 9 * * mon;tue", "weekday 'mon;tue' is not a day"),
        ("0 9 * * 5-1", "runs backwards"),
        ("0 9 * * funday", "is not a day"),
        ("0 25 * * *", "'0 25 * * *'"),
    ],
)
def test_bad_cron_is_refused(expression: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        cron_trigger(expression, "UTC")
