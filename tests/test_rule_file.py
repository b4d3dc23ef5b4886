"""The rule file: scoped overrides of the defaults, refused mistakes, and the example file.

Overrides are checked twice: in what ``compile_rules`` builds for each sensor, and in what
the engine then raises. Invalid files live under ``tests/testdata/invalid/rules/``, one
mistake each, with the expected line and field written out by hand (as tests/test_config.py
does for the facility).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from rules.access import AfterHoursEntryRule, DoorHeldOpenRule, TwoPersonRule
from rules.compile import compile_rules
from rules.config import RuleFile, load_rules
from rules.threshold import ThresholdRule
from sensors.clock import FakeClock
from sensors.events import Severity
from sensors.facility import Facility, SensorKind
from sensors.yamlconfig import ConfigError
from tests.scenarios import SITE, LogLine, Timeline, Values, example_rules, local

INVALID = Path(__file__).resolve().parent / "testdata" / "invalid" / "rules"


def rule_file(tmp_path: Path, facility: Facility, text: str) -> RuleFile:
    path = tmp_path / "rules.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_rules(path, facility)


def by_key(facility: Facility, rules: RuleFile | None) -> dict[str, Any]:
    """Every compiled rule of the site by its state key (``rule:site:sensor-or-room``)."""
    slots = compile_rules(facility, rules).slots
    return {cell.key: rule for slot in slots.values() for rule, _, cell, _ in slot.evaluators}


def rule_ids(facility: Facility, rules: RuleFile | None, sensor: str) -> list[str]:
    slot = compile_rules(facility, rules).slots[(SITE, sensor)]
    return [cell.key.partition(":")[0] for _, _, cell, _ in slot.evaluators]


def limit(facility: Facility, rules: RuleFile | None, key: str) -> ThresholdRule:
    rule = by_key(facility, rules)[key]
    assert isinstance(rule, ThresholdRule)
    return rule


def climate_sensors(facility: Facility) -> list[str]:
    return [s.id for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE]


def timeline(facility: Facility, clock: FakeClock, rules: RuleFile, start: str) -> Timeline:
    clock.set(local(facility, start))
    line = Timeline(facility, clock, rules=rules)
    line.start()
    return line


# --- scoped overrides -------------------------------------------------------------------------


def test_a_room_scoped_humidity_limits_applies_only_to_that_room(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    rules = rule_file(
        tmp_path,
        facility,
        """
        rules:
          - id: humidity_limits
            type: threshold
            scope: {room: B2-03}
            field: humidity
            raise_above: 55
            clear_below: 53
        """,
    )
    b203 = limit(facility, rules, "humidity_limits:yunxi:b203-th1")
    assert (b203.raise_above, b203.clear_below, b203.raise_for) == (55, 53, timedelta(0))
    assert limit(facility, rules, "humidity_limits:yunxi:b203-th2") == b203
    # The neighbours keep their defaults: the paper class's 60 %, B2-02's own 55 %, 10 min.
    b201 = limit(facility, rules, "humidity_limits:yunxi:b201-th1")
    b202 = limit(facility, rules, "humidity_limits:yunxi:b202-th1")
    assert (b201.raise_above, b201.raise_for) == (60, timedelta(minutes=10))
    assert (b202.raise_above, b202.raise_for) == (55, timedelta(minutes=10))

    # 10:00 every paper stack's air reads 57 %RH (their sensors' first readings).
    line = timeline(facility, clock, rules, "2026-01-06 09:59")
    paper: dict[str, Values] = {
        s.id: {"humidity": 57.0}
        for s in facility.all_sensors()
        if s.kind is SensorKind.CLIMATE and facility.rooms[(SITE, s.room)].room_class == "paper"
    }
    line.run(minutes=5, script=lambda _m: paper)
    assert line.record.log(facility) == [
        ("10:00:00", "raise", "humidity_limits:yunxi:b203-th1"),
        ("10:00:00", "raise", "humidity_limits:yunxi:b203-th2"),
    ]


def test_the_most_specific_scope_wins_whatever_the_order_of_the_file(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    rules = rule_file(
        tmp_path,
        facility,
        """
        rules:
          - {id: humidity_limits, type: threshold, scope: {sensor: b201-th1},
             field: humidity, raise_above: 55}
          - {id: humidity_limits, type: threshold, scope: {site: yunxi},
             field: humidity, raise_above: 58}
          - {id: humidity_limits, type: threshold, scope: {room: B2-01},
             field: humidity, raise_above: 56}
          - {id: humidity_limits, type: threshold, scope: {floor: F2},
             field: humidity, raise_above: 57}
        """,
    )
    expected = {  # sensor 55 > room 56 > floor 57 > site 58 > the defaults
        "b201-th1": 55,
        "b201-th2": 56,
        "b202-th1": 57,
        "b202-th2": 57,
        "b203-th1": 57,
        "b203-th2": 57,
        "b204-th1": 57,
        "b204-th2": 57,
        "b301-th1": 58,
        "b301-th2": 58,
        "b302-th": 58,
        "b303-th1": 58,
        "b303-th2": 58,
        "b304-th": 58,
    }
    found = {
        s: limit(facility, rules, f"humidity_limits:yunxi:{s}").raise_above
        for s in climate_sensors(facility)
    }
    assert found == expected
    # An entry replaces the default entry whole: the low side it leaves out is gone.
    assert limit(facility, rules, "humidity_limits:yunxi:b304-th").raise_below == -math.inf

    # 10:00 every climate sensor's first reading is 57.5 %RH: over 55, 56 and 57, not 58.
    line = timeline(facility, clock, rules, "2026-01-06 09:59")
    wet = {s: {"humidity": 57.5} for s in climate_sensors(facility)}
    line.run(minutes=5, script=lambda _m: wet)
    raised = [s for s, value in expected.items() if value < 57.5]
    assert line.record.log(facility) == [
        ("10:00:00", "raise", f"humidity_limits:yunxi:{s}") for s in raised
    ]


def test_the_file_beats_the_defaults_at_the_same_scope_and_a_narrower_entry_beats_it(
    tmp_path: Path, facility: Facility
) -> None:
    rules = rule_file(
        tmp_path,
        facility,
        """
        rules:
          - {id: two_person, type: two_person, enabled: false}
          - {id: two_person, type: two_person, scope: {room: B2-01}, within: 2m}
        """,
    )
    # The defaults enable 双人进库 for special collections (B2-04) and film masters (B3-03);
    # the file turns it off everywhere, then on for B2-01 alone.
    doors = [s.id for s in facility.all_sensors() if s.kind is SensorKind.DOOR]
    with_two_person = [d for d in doors if "two_person" in rule_ids(facility, rules, d)]
    assert with_two_person == ["b201-door"]
    rule = by_key(facility, rules)["two_person:yunxi:b201-door"]
    assert isinstance(rule, TwoPersonRule)
    assert (rule.within, rule.rooms) == (timedelta(minutes=2), frozenset({"B2-01"}))


def test_enabled_false_disables_a_default_for_one_door(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    rules = rule_file(
        tmp_path,
        facility,
        """
        rules:
          # b201-door is propped open all day for the digitisation team.
          - id: door_held_open
            type: door_held_open
            scope: {sensor: b201-door}
            enabled: false
        """,
    )
    assert "door_held_open" not in rule_ids(facility, rules, "b201-door")
    assert "door_held_open" in rule_ids(facility, rules, "b202-door")

    # Tuesday 10:00 (working hours) both doors of B2-01 and B2-02 are opened and left open.
    line = timeline(facility, clock, rules, "2026-01-06 09:59")
    open_doors: dict[str, Values] = {d: {"door": "open"} for d in ("b201-door", "b202-door")}
    line.run(minutes=10, script=lambda _m: open_doors)
    assert line.record.log(facility) == [
        ("10:02:10", "raise", "door_held_open:yunxi:b202-door"),
    ]


def test_a_new_rule_id_adds_a_rule_beside_the_defaults(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    rules = rule_file(
        tmp_path,
        facility,
        """
        rules:
          # The optical discs are kept at 15-20 °C; the conservator wants to hear of 16.
          - id: cold_disc_watch
            type: threshold
            scope: {room: B3-04}
            field: temperature
            raise_below: 16
            clear_above: 16.5
            severity: low
        """,
    )
    ids = rule_ids(facility, rules, "b304-th")
    assert ids == [*rule_ids(facility, None, "b304-th"), "cold_disc_watch"]
    assert "cold_disc_watch" not in rule_ids(facility, rules, "b301-th1")

    line = timeline(facility, clock, rules, "2026-01-06 09:59")
    line.run(minutes=10, script=lambda _m: {"b304-th": {"temperature": 15.5}})
    assert line.record.log(facility) == [("10:00:00", "raise", "cold_disc_watch:yunxi:b304-th")]
    assert line.record.events[0].severity is Severity.LOW


# --- refused rule files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """One problem a file must produce: its line, its dotted field path, part of the message."""

    line: int | None
    field: str
    fragment: str


@dataclass(frozen=True)
class Case:
    name: str
    problem: Expected
    bug: pytest.MarkDecorator | None = None


CASES = [
    Case("unknown_room_in_scope.yaml", Expected(10, "rules.1.scope.room", "no room 'B2-09'")),
    Case(
        "unknown_calendar.yaml",
        Expected(9, "rules.0.calendar", "no calendar named 'reading_room'"),
    ),
    Case(
        "default_id_with_another_type.yaml",
        Expected(
            4,
            "rules.0.type",
            "'humidity_limits' is a default rule of type 'threshold'; "
            "to add a 'rate_of_change' rule, give it another id",
        ),
    ),
    Case(
        "room_rule_scoped_to_sensor.yaml",
        Expected(4, "rules.0.scope.sensor", "'fire' rules apply to whole rooms"),
    ),
    Case(
        "duplicate_id_and_scope.yaml",
        Expected(10, "rules.2.id", "rule 'door_held_open' already has this scope (entry 0)"),
    ),
    Case(
        "unknown_rule_type.yaml",
        Expected(
            3,
            "rules.0.type",
            "Input tag 'door_open_too_long' found using 'type' does not match any of the "
            "expected tags",
        ),
    ),
    Case(
        "unknown_key.yaml",
        Expected(6, "rules.0.raise_abov", "Extra inputs are not permitted (got 61)"),
    ),
    Case(
        "sensor_not_read_by_rule.yaml",
        Expected(
            5, "rules.0.scope.sensor", "'b201-door' is not a sensor this rule reads (climate)"
        ),
    ),
    Case(
        "room_not_on_floor.yaml", Expected(4, "rules.0.scope.room", "room 'B2-01' is not on 'F3'")
    ),
    Case(
        "condensation_surface_in_another_room.yaml",
        Expected(6, "rules.0.surfaces", "b201-th1"),
    ),
]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.name.removesuffix(".yaml"), marks=[c.bug] if c.bug else [])
        for c in CASES
    ],
)
def test_an_invalid_rule_file_is_refused_naming_line_and_field(
    facility: Facility, case: Case
) -> None:
    path = INVALID / case.name
    with pytest.raises(ConfigError) as caught:
        compile_rules(facility, load_rules(path, facility))
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (
        str(path),
        case.problem.line,
        case.problem.field,
    ), str(problem)
    assert case.problem.fragment in problem.message
    assert str(caught.value) == f"{path}:{case.problem.line}: {problem.field}: {problem.message}"


def test_every_invalid_rule_file_has_a_case() -> None:
    assert {p.name for p in INVALID.glob("*.yaml")} == {c.name for c in CASES}


# --- the example rule file --------------------------------------------------------------------


def test_the_example_rule_file_changes_exactly_what_its_comments_say(facility: Facility) -> None:
    before = by_key(facility, None)
    after = by_key(facility, example_rules(facility))
    doors = [s.id for s in facility.all_sensors() if s.kind is SensorKind.DOOR]

    added = sorted(set(after) - set(before))
    assert added == [
        # 双人进库 for every stack on the second floor (B2-04 had it already)
        "film_voc_watch:yunxi:b302-gas",  # the new rule, B3-02 only
        "two_person:yunxi:b201-door",
        "two_person:yunxi:b202-door",
        "two_person:yunxi:b203-door",
    ]
    assert sorted(set(before) - set(after)) == []
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert changed == sorted(
        [
            # The working hours (calendars.default) are every door's after-hours rule.
            *(f"after_hours_entry:yunxi:{d}" for d in doors),
            "door_held_open:yunxi:b303-door",
            "humidity_limits:yunxi:b202-th1",
            "humidity_limits:yunxi:b202-th2",
            "two_person:yunxi:b204-door",
        ]
    )

    # B2-02: the same 45-55 % band as the facility's, with its clear levels, after 5 min.
    for sensor in ("b202-th1", "b202-th2"):
        old, new = (
            before[f"humidity_limits:yunxi:{sensor}"],
            after[f"humidity_limits:yunxi:{sensor}"],
        )
        assert isinstance(new, ThresholdRule)
        assert (new.raise_below, new.clear_above, new.clear_below, new.raise_above) == (
            45,
            47,
            53,
            55,
        )
        assert (old.raise_for, new.raise_for) == (timedelta(minutes=10), timedelta(minutes=5))
    # The second floor: 90 s for the second badge.
    for door in ("b201-door", "b202-door", "b203-door", "b204-door"):
        rule = after[f"two_person:yunxi:{door}"]
        assert isinstance(rule, TwoPersonRule)
        assert rule.within == timedelta(seconds=90)
    # B3-03's door: five minutes for the inventory trolleys.
    held = after["door_held_open:yunxi:b303-door"]
    assert isinstance(held, DoorHeldOpenRule)
    assert held.after == timedelta(minutes=5)
    # B3-02's film: VOC over 0.3 mg/m³ for an hour, low severity, beside the default 0.6.
    voc = after["film_voc_watch:yunxi:b302-gas"]
    assert isinstance(voc, ThresholdRule)
    assert (voc.raise_above, voc.clear_below, voc.raise_for) == (0.3, 0.25, timedelta(hours=1))
    assert voc.verdict.severity is Severity.LOW
    assert after["voc_limit:yunxi:b302-gas"] == before["voc_limit:yunxi:b302-gas"]
    # The calendar: lunch break, National Day, 调休 Sunday.
    calendar = after["after_hours_entry:yunxi:b201-door"]
    assert isinstance(calendar, AfterHoursEntryRule)
    is_open = calendar.calendar.is_open
    assert not is_open(local(facility, "2026-01-06 12:30"))
    assert not is_open(local(facility, "2026-10-01 10:00"))
    assert is_open(local(facility, "2026-09-27 10:00"))


def test_the_example_rule_file_at_work(facility: Facility, clock: FakeClock) -> None:
    # Tuesday 10:00: B2-01 and B2-02 read 56 %RH, B3-02's film cabinet gives off 0.35 mg/m³
    # of VOC, all from their first readings on, for an hour and a quarter.
    line = timeline(facility, clock, example_rules(facility), "2026-01-06 09:59")
    script: dict[str, Values] = {
        **{s: {"humidity": 56.0} for s in ("b201-th1", "b201-th2", "b202-th1", "b202-th2")},
        "b302-gas": {"voc": 0.35},
    }
    line.run(minutes=75, script=lambda _m: script)
    expected: list[LogLine] = [
        # B2-02 over its 55 % for the file's 5 minutes; B2-01 is within its 60 %.
        ("10:05:00", "raise", "humidity_limits:yunxi:b202-th1"),
        ("10:05:00", "raise", "humidity_limits:yunxi:b202-th2"),
        # An hour over 0.3 mg/m³ (the default voc_limit of 0.6 stays quiet).
        ("11:00:00", "raise", "film_voc_watch:yunxi:b302-gas"),
    ]
    assert line.record.log(facility) == expected
