"""``type: threshold`` as incident timelines: hysteresis, raise and clear delays, both sides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from rules import threshold
from rules.base import Subject
from rules.kinds import NO_OUTPUTS, Target
from rules.threshold import INITIAL, KIND, ThresholdConfig, ThresholdRule, ThresholdState
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

B2_01 = Subject("yunxi", "B2-01", "b201-th1")
B2_01_DOOR = Subject("yunxi", "B2-01", "b201-door")
TICK = timedelta(seconds=30)


@pytest.fixture
def target(facility: Facility) -> Target:
    """The compile target of the issue: climate sensor b201-th1 in paper stack B2-01."""
    return rule_target(facility, "b201-th1")


def compile_entry(target: Target, **entry: Any) -> ThresholdRule:
    config = ThresholdConfig.model_validate({"id": "t", "type": "threshold", **entry})
    return config.compile(target)


class Timeline:
    """One rule on one sensor: readings and the engine's 30-second ticks on a FakeClock."""

    def __init__(self, rule: ThresholdRule, clock: FakeClock, subject: Subject = B2_01) -> None:
        self.rule, self.clock, self.subject = rule, clock, subject
        self.start = clock.now()
        self.state = INITIAL
        self.changes = 0
        self.events: list[tuple[str, AlarmEvent]] = []

    def report(self, **values: Any) -> None:
        now = self.clock.now()
        payload = ReadingPayload.model_validate(values)
        reading = Reading(
            self.subject.site, self.subject.room, self.subject.sensor, now, now, payload, b"{}"
        )
        self._keep(
            "reading", *threshold.evaluate(self.rule, self.state, reading, self.subject, now)
        )

    def tick(self) -> None:
        self._keep("tick", *threshold.tick(self.rule, self.state, self.subject, self.clock.now()))

    def hold(self, minutes: int, *, every: int = 1, **values: Any) -> None:
        """Report ``values`` every ``every`` minutes for ``minutes``; the timer ticks first."""
        for step in range(minutes * 2):
            self.tick()
            if step % (every * 2) == 0:
                self.report(**values)
            self.clock.advance(TICK)

    def timeline(self) -> list[tuple[str, Transition, float]]:
        """(source, transition, minutes since the start) of every event."""
        return [
            (source, e.transition, (e.at - self.start).total_seconds() / 60)
            for source, e in self.events
        ]

    def _keep(self, source: str, state: ThresholdState, out: tuple[Any, ...]) -> None:
        if state is not self.state:
            self.changes += 1
        self.state = state
        self.events += [(source, event) for event in out]


# --- config ------------------------------------------------------------------------------


def test_a_rule_file_entry_compiles_for_a_sensor_and_its_state_survives_a_restart(
    target: Target, clock: FakeClock
) -> None:
    config = ThresholdConfig.model_validate(
        {
            "id": "temperature_limits",
            "type": "threshold",
            "field": "temperature",
            "raise_above": 24,
            "clear_below": 23.5,
            "raise_below": 14,
            "for": "10m",
        }
    )
    compiled = config.compile(target)
    assert (compiled.raise_above, compiled.clear_below) == (24, 23.5)
    assert (compiled.raise_below, compiled.clear_above) == (14, 14)  # clear level defaults
    assert (compiled.raise_for, compiled.clear_for) == (timedelta(minutes=10), timedelta(0))
    assert compiled.verdict.category is Category.CLIMATE
    assert compiled.verdict.severity is Severity.MEDIUM
    assert config.unit == compiled.unit == "°C"
    assert config.applies_to == {SensorKind.CLIMATE, SensorKind.HEAT}
    assert KIND.type == "threshold"
    assert KIND.config is ThresholdConfig
    assert KIND.state is ThresholdState
    assert KIND.initial is INITIAL
    assert KIND.tick is threshold.tick

    # 00:00 the stack warms past 24 °C: the 10-minute delay starts. Lantai restarts at 00:06.
    line = Timeline(compiled, clock)
    line.hold(6, temperature=24.6)
    adapter = TypeAdapter(ThresholdState)
    saved = adapter.dump_python(line.state, mode="json")
    assert saved["pending_since"] == "2026-01-05T00:00:00Z"
    line.state = adapter.validate_python(saved)
    assert line.state == ThresholdState(side="high", pending_since=line.start, last_value=24.6)
    line.hold(5, temperature=24.6)
    assert line.timeline() == [("tick", Transition.RAISE, 10.0)]  # the delay was not lost


def test_for_and_for_underscore_are_the_same_field() -> None:
    base = {"id": "t", "type": "threshold", "field": "uv", "raise_above": 75}
    by_alias = ThresholdConfig.model_validate({**base, "for": "2m"})
    by_name = ThresholdConfig.model_validate({**base, "for_": "2m"})
    assert by_alias.for_ == by_name.for_ == timedelta(minutes=2)
    assert by_alias.applies_to == {SensorKind.LIGHT}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "needs raise_above"),
        ({"raise_above": 24, "clear_below": 24.5}, r"clear_below \(24.5\) must not be above"),
        ({"raise_below": 14, "clear_above": 13.5}, r"clear_above \(13.5\) must not be below"),
        ({"raise_below": 14, "clear_below": 13}, "clear_below is the high side's"),
        ({"raise_above": 24, "clear_above": 25}, "clear_above is the low side's"),
        (
            {"raise_above": 24, "clear_below": 15, "raise_below": 14, "clear_above": 16},
            "could never clear: the low side clears at 16 or above and the high side at 15",
        ),
        ({"raise_above": 24, "raise_below": 24}, "could never clear"),
        ({"raise_above": 24, "for": "-5m"}, "not a duration"),
        ({"raise_above": 24, "fro": "5m"}, "Extra inputs are not permitted"),
        ({"raise_above": float("nan")}, "finite number"),
        ({"raise_above": 24, "field": "smoke"}, "Input should be 'temperature'"),
    ],
)
def test_a_bad_entry_is_refused_with_a_reason(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ThresholdConfig.model_validate(
            {"id": "t", "type": "threshold", "field": "temperature", **entry}
        )


# --- timelines ---------------------------------------------------------------------------


def test_an_hour_of_flapping_at_24_degrees_raises_one_alarm(
    target: Target, clock: FakeClock
) -> None:
    # peers.md pain point 1: a value hovering at the limit sent "~60 alerts in 4 hours".
    line = Timeline(
        compile_entry(target, field="temperature", raise_above=24, clear_below=23.5), clock
    )
    for minute in range(60):
        line.hold(1, temperature=24.1 if minute % 2 == 0 else 23.9)
    assert line.timeline() == [("reading", Transition.RAISE, 0.0)]
    assert line.changes == 1  # 59 readings and 119 ticks left the state object alone
    ((_, raised),) = line.events
    assert raised.key == "t:yunxi:b201-th1"
    assert raised.message_zh == "B2-01 温度 24.1 °C，高于上限 24 °C"
    assert raised.message_en == "Temperature 24.1 °C in B2-01, above the limit of 24 °C"
    assert raised.value == 24.1

    line.hold(1, temperature=23.5)  # 01:00 the air conditioning catches up
    (source, cleared) = line.events[-1]
    assert (source, cleared.transition, cleared.key) == ("reading", Transition.CLEAR, raised.key)
    assert line.state is INITIAL


def test_a_nine_minute_excursion_under_a_ten_minute_delay_raises_nothing(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(
        compile_entry(target, field="temperature", raise_above=24, **{"for": "10m"}), clock
    )
    line.hold(30, temperature=22.0)
    line.hold(9, temperature=24.5)  # the door is propped open for a trolley
    line.hold(30, temperature=23.0)
    assert line.events == []
    assert line.state is INITIAL


def test_an_excursion_past_ten_minutes_is_raised_by_the_timer_at_minute_ten(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(
        compile_entry(target, field="temperature", raise_above=24, **{"for": "10m"}), clock
    )
    # 00:00, 00:05, 00:10: a sensor reporting every 5 minutes sees 24.5, 24.6, 24.7 °C;
    # the timer, not the 00:10 reading, raises at 00:10.
    for value in (24.5, 24.6, 24.7):
        line.hold(5, every=5, temperature=value)
    assert line.timeline()[0] == ("tick", Transition.RAISE, 10.0)
    (_, raised), *_ = line.events
    assert raised.value == 24.6  # the last reading before the timer fired
    assert raised.message_zh == "B2-01 温度 24.6 °C，高于上限 24 °C，已持续 10 分钟"
    assert raised.message_en == "Temperature 24.6 °C in B2-01, above the limit of 24 °C for 10 min"
    line.hold(10, every=5, temperature=23.0)  # 00:15 back inside
    assert line.timeline() == [
        ("tick", Transition.RAISE, 10.0),
        ("reading", Transition.CLEAR, 15.0),
    ]


def test_a_clear_delay_waits_for_the_room_to_stay_cool(target: Target, clock: FakeClock) -> None:
    line = Timeline(
        compile_entry(
            target, field="temperature", raise_above=24, clear_below=23.5, clear_for="15m"
        ),
        clock,
    )
    line.hold(1, temperature=25.0)  # 00:00 raise
    line.hold(10, temperature=23.0)  # 00:01 cool enough: the clear delay starts
    line.hold(1, temperature=23.8)  # 00:11 warm again, inside the hysteresis: delay reset
    assert [t for _, t, _ in line.timeline()] == [Transition.RAISE]
    line.hold(20, temperature=23.0)  # 00:12 cool again: clears at 00:27, by the timer
    assert line.timeline() == [("reading", Transition.RAISE, 0.0), ("tick", Transition.CLEAR, 27.0)]
    assert line.events[-1][1].value == 23.0


def test_a_dry_stack_raises_on_the_low_side_and_clears_two_points_up(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(compile_entry(target, field="humidity", raise_below=45, clear_above=47), clock)
    line.hold(5, humidity=50.0)
    line.hold(5, humidity=44.0)  # 00:05 the humidifier runs dry
    line.hold(5, humidity=46.9)  # 00:10 recovering, not yet by the margin
    line.hold(5, humidity=47.0)  # 00:15 recovered
    assert line.timeline() == [
        ("reading", Transition.RAISE, 5.0),
        ("reading", Transition.CLEAR, 15.0),
    ]
    raised = line.events[0][1]
    assert raised.message_zh == "B2-01 相对湿度 44 %RH，低于下限 45 %RH"
    assert raised.message_en == "Relative humidity 44 %RH in B2-01, below the limit of 45 %RH"


def test_a_jump_from_too_warm_to_too_cold_updates_the_one_alarm(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(
        compile_entry(
            target, field="temperature", raise_above=24, raise_below=14, clear_above=14.5
        ),
        clock,
    )
    line.hold(1, temperature=25.0)
    line.hold(1, temperature=13.0)  # the air conditioning overshoots
    line.hold(1, temperature=14.2)
    line.hold(1, temperature=14.5)
    assert line.timeline() == [
        ("reading", Transition.RAISE, 0.0),
        ("reading", Transition.RAISE, 1.0),
        ("reading", Transition.CLEAR, 3.0),
    ]
    assert len({e.key for _, e in line.events}) == 1
    assert "低于下限 14 °C" in line.events[1][1].message_zh


def test_a_door_contact_with_a_low_battery_raises_a_trouble_alarm(
    target: Target, clock: FakeClock
) -> None:
    config = ThresholdConfig.model_validate(
        {
            "id": "battery_low",
            "type": "threshold",
            "field": "battery",
            "raise_below": 20,
            "clear_above": 25,
        }
    )
    assert SensorKind.DOOR in config.applies_to
    line = Timeline(config.compile(target), clock, B2_01_DOOR)
    line.hold(60, every=5, battery=21.0, door="closed")
    line.hold(60, every=5, battery=19.5, door="closed")  # 01:00
    line.hold(60, every=5, battery=24.0, door="closed")  # 02:00 warmer, a little better
    line.hold(60, every=5, battery=100.0)  # 03:00 new battery
    assert line.timeline() == [
        ("reading", Transition.RAISE, 60.0),
        ("reading", Transition.CLEAR, 180.0),
    ]
    raised = line.events[0][1]
    assert (raised.category, raised.severity) == (Category.TROUBLE, Severity.LOW)
    assert raised.sensor == "b201-door"
    assert raised.message_zh == "B2-01 传感器 b201-door 电池电量 19.5 %，低于下限 20 %"
    assert (
        raised.message_en == "Battery 19.5 % in sensor b201-door in B2-01, below the limit of 20 %"
    )


def test_readings_without_the_field_leave_the_state_alone(target: Target, clock: FakeClock) -> None:
    compiled = compile_entry(target, field="temperature", raise_above=24, **{"for": "5m"})
    now = clock.now()
    pending = ThresholdState(side="high", pending_since=now, last_value=25.0)
    door = Reading("yunxi", "B2-01", "b201-door", now, now, ReadingPayload(door="open"), b"{}")
    for state in (INITIAL, pending):
        assert threshold.evaluate(compiled, state, door, B2_01, now) == (state, NO_OUTPUTS)
        assert threshold.evaluate(compiled, state, door, B2_01, now)[0] is state
    assert threshold.tick(compiled, INITIAL, B2_01, now)[0] is INITIAL
