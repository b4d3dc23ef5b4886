"""``type: fluctuation``: day–night swings (JGJ 25-2010 §5.2.3) as incident timelines."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from rules import fluctuation
from rules.base import Subject
from rules.fluctuation import (
    BUCKETS,
    INITIAL,
    KIND,
    FluctuationConfig,
    FluctuationRule,
    FluctuationState,
)
from rules.kinds import NO_OUTPUTS, Target
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Severity, Transition
from sensors.facility import Facility
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

B2_01 = Subject("yunxi", "B2-01", "b201-th1")


@pytest.fixture
def target(facility: Facility) -> Target:
    """Climate sensor b201-th1 in B2-01, a paper stack (±2 °C, ±5 %RH a day)."""
    return rule_target(facility, "b201-th1")


def compile_entry(target: Target, **entry: Any) -> FluctuationRule:
    config = FluctuationConfig.model_validate({"id": "swing", "type": "fluctuation", **entry})
    return config.compile(target)


class Timeline:
    """One sensor's readings through one rule on a FakeClock."""

    def __init__(self, rule: FluctuationRule, clock: FakeClock) -> None:
        self.rule, self.clock = rule, clock
        self.start = clock.now()
        self.state = INITIAL
        self.readings = 0
        self.changes = 0
        self.most_buckets = 0
        self.events: list[AlarmEvent] = []

    def report(self, **values: Any) -> None:
        now = self.clock.now()
        reading = Reading(
            "yunxi", "B2-01", "b201-th1", now, now, ReadingPayload.model_validate(values), b"{}"
        )
        state, out = fluctuation.evaluate(self.rule, self.state, reading, B2_01, now)
        self.readings += 1
        self.changes += state is not self.state
        self.most_buckets = max(self.most_buckets, len(state.mins) + 1)
        self.state = state
        for event in out:
            assert isinstance(event, AlarmEvent)
            self.events.append(event)

    def hold(self, hours: float, *, every: int = 5, **values: Any) -> None:
        """Report ``values`` every ``every`` minutes for ``hours``."""
        for _ in range(round(hours * 60 / every)):
            self.report(**values)
            self.clock.advance(timedelta(minutes=every))

    def timeline(self) -> list[tuple[Transition, float]]:
        """(transition, hours since the start) of every event."""
        return [(e.transition, (e.at - self.start).total_seconds() / 3600) for e in self.events]


def test_the_default_limit_is_twice_the_room_class_swing_and_the_state_round_trips(
    target: Target, clock: FakeClock
) -> None:
    config = FluctuationConfig.model_validate(
        {"id": "temperature_swing", "type": "fluctuation", "field": "temperature"}
    )
    compiled = config.compile(target)
    # B2-01 is a paper stack: ±2 °C a day (JGJ 25-2010 §5.2.3) is a 4 °C peak-to-peak limit.
    assert (compiled.max_swing, compiled.clear_below) == (4.0, 3.8)
    assert (compiled.window, compiled.bucket) == (timedelta(hours=24), timedelta(minutes=15))
    assert compiled.verdict.severity is Severity.MEDIUM
    humidity = compile_entry(target, field="humidity")
    assert (humidity.max_swing, humidity.clear_below) == (10.0, 9.0)
    assert KIND.type == "fluctuation"
    assert KIND.config is FluctuationConfig
    assert KIND.state is FluctuationState
    assert KIND.initial is INITIAL

    line = Timeline(compiled, clock)
    line.hold(1, temperature=20.0)
    line.hold(0.5, temperature=20.6)
    adapter = TypeAdapter(FluctuationState)
    saved = adapter.dump_python(line.state, mode="json")
    assert saved["mins"][:4] == [20.0, 20.0, 20.0, 20.0]  # 00:00–01:00
    assert saved["maxs"][4] == 20.6
    assert adapter.validate_python(saved) == line.state


def test_a_paper_stack_warming_from_18_to_23_degrees_in_a_day_raises(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(compile_entry(target, field="temperature"), clock)
    line.hold(6, temperature=18.0)  # 00:00 a cool night
    for warmer in (19.0, 20.0, 21.0, 22.0):  # 06:00 sun on the west wall, chiller off
        line.hold(2, temperature=warmer)
    assert line.events == []  # 22 − 18 = 4 °C is still within ±2 °C
    line.hold(4, temperature=23.0)  # 14:00
    line.hold(6, temperature=18.5)  # 18:00 the chiller is back
    assert line.timeline() == [(Transition.RAISE, 14.0)]
    (raised,) = line.events
    assert raised.key == "swing:yunxi:b201-th1"
    assert raised.value == 5.0
    assert raised.message_zh == (
        "B2-01 温度 24 小时内波动 5 °C，超过 4 °C（最低 18 °C，最高 23 °C）"
    )
    assert raised.message_en == (
        "Temperature in B2-01: swing 5 °C > 4 °C within 24 h (min 18 °C, max 23 °C)"
    )


def test_a_steady_room_with_half_a_degree_of_noise_stays_quiet(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(compile_entry(target, field="temperature"), clock)
    for minute in range(2 * 24 * 60):
        line.report(temperature=20.0 + 0.5 * math.sin(minute / 7))
        line.clock.advance(timedelta(minutes=1))
    assert line.events == []


def test_an_afternoon_excursion_leaves_the_window_a_day_later_and_clears(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(compile_entry(target, field="temperature"), clock)
    line.hold(2, temperature=20.0)
    line.hold(1, temperature=25.0)  # 02:00–03:00 the chiller trips
    line.hold(30, temperature=20.0)
    raised, cleared = line.timeline()
    assert raised == (Transition.RAISE, 2.0)
    # Cleared when the last excursion bucket (02:45) left the 24-hour window.
    assert cleared == (Transition.CLEAR, 24 + 2.75)
    assert line.events[1].value == 0.0


def test_hours_without_readings_still_age_out_on_time(target: Target, clock: FakeClock) -> None:
    line = Timeline(compile_entry(target, field="temperature"), clock)
    line.hold(2, temperature=20.0)
    line.hold(1, temperature=25.0)  # 02:00–03:00 the chiller trips
    line.hold(7, temperature=20.0)
    clock.advance(timedelta(hours=2))  # 10:00–12:00 the gateway is down
    line.hold(12, temperature=20.0)
    assert None in line.state.mins  # the silent buckets hold their place, empty
    line.hold(6, temperature=20.0)
    assert [t for t, _ in line.timeline()] == [Transition.RAISE, Transition.CLEAR]
    assert line.timeline()[1] == (Transition.CLEAR, 24 + 2.75)  # as without the gap
    clock.advance(timedelta(days=3))  # the sensor is unplugged for a move
    line.hold(0.25, temperature=20.0)
    assert line.state.mins == ()  # nothing older than the window is kept


def test_a_week_of_readings_keeps_one_day_of_buckets(target: Target, clock: FakeClock) -> None:
    line = Timeline(compile_entry(target, field="humidity"), clock)
    for minute in range(7 * 24 * 60):
        # A gentle daily cycle of ±3 %RH: within ±5 %, never an alarm.
        line.report(humidity=round(52 + 3 * math.sin(2 * math.pi * minute / 1440), 1))
        line.clock.advance(timedelta(minutes=1))
    assert line.events == []
    assert line.most_buckets == BUCKETS
    assert len(line.state.mins) == len(line.state.maxs) == BUCKETS - 1
    # Most readings change nothing: the state moves on rollovers and new extremes only.
    assert line.changes < line.readings / 4


def test_a_tighter_swing_for_one_stack_overrides_the_room_class(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(compile_entry(target, field="temperature", max_swing=2, window="12h"), clock)
    line.hold(3, temperature=20.0)
    line.hold(1, temperature=23.0)
    line.hold(1, temperature=20.0)
    assert line.timeline() == [(Transition.RAISE, 3.0)]
    assert "swing 3 °C > 2 °C within 12 h" in line.events[0].message_en


def test_readings_without_the_field_or_older_than_the_window_change_nothing(
    target: Target, clock: FakeClock
) -> None:
    line = Timeline(compile_entry(target, field="temperature"), clock)
    line.hold(1, temperature=20.0)
    now = clock.now()
    humidity_only = Reading(
        "yunxi", "B2-01", "b201-th1", now, now, ReadingPayload(humidity=50.0), b"{}"
    )
    assert fluctuation.evaluate(line.rule, line.state, humidity_only, B2_01, now)[0] is line.state
    old = now - timedelta(days=2)
    late = Reading("yunxi", "B2-01", "b201-th1", old, now, ReadingPayload(temperature=30.0), b"{}")
    assert fluctuation.evaluate(line.rule, line.state, late, B2_01, old) == (line.state, NO_OUTPUTS)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"field": "temperature", "window": "30m"}, "at least 1h"),
        ({"field": "temperature", "max_swing": 0.2}, r"clear_margin \(0.2\) must be below"),
        ({"field": "humidity", "max_swing": 5, "clear_margin": 5}, "could never clear"),
        ({"field": "temperature", "max_swing": -1}, "greater than 0"),
        ({"field": "lux"}, "Input should be 'temperature' or 'humidity'"),
    ],
)
def test_a_bad_entry_is_refused_with_a_reason(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FluctuationConfig.model_validate({"id": "swing", "type": "fluctuation", **entry})
