"""``type: rate_of_change``: a stopped dehumidifier and other too-fast changes, as timelines."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from rules import rate
from rules.base import Subject
from rules.kinds import NO_OUTPUTS, Target
from rules.rate import INITIAL, KIND, RateConfig, RateRule, RateState
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

B2_01 = Subject("yunxi", "B2-01", "b201-th1")
# rules/defaults.py's entry, as a rule file would write it.
HUMIDITY_RISE = {
    "id": "humidity_rise",
    "type": "rate_of_change",
    "field": "humidity",
    "max_rise": 3,
}


@pytest.fixture
def target(facility: Facility) -> Target:
    return rule_target(facility, "b201-th1")


@pytest.fixture
def humidity_rise(target: Target) -> RateRule:
    return RateConfig.model_validate(HUMIDITY_RISE).compile(target)


class Timeline:
    """One climate sensor reporting every minute through one rule, on a FakeClock."""

    def __init__(self, rule: RateRule, clock: FakeClock) -> None:
        self.rule, self.clock = rule, clock
        self.start = clock.now()
        self.state = INITIAL
        self.readings = 0
        self.changes = 0
        self.events: list[AlarmEvent] = []

    def report(self, **values: Any) -> None:
        now = self.clock.now()
        reading = Reading(
            "yunxi", "B2-01", "b201-th1", now, now, ReadingPayload.model_validate(values), b"{}"
        )
        state, out = rate.evaluate(self.rule, self.state, reading, B2_01, now)
        self.readings += 1
        self.changes += state is not self.state
        self.state = state
        for event in out:
            assert isinstance(event, AlarmEvent)
            self.events.append(event)
        self.clock.advance(timedelta(minutes=1))

    def hold(self, minutes: int, **values: Any) -> None:
        for _ in range(minutes):
            self.report(**values)

    def ramp(self, minutes: int, field: str, start: float, per_minute: float) -> None:
        for minute in range(minutes):
            self.report(**{field: round(start + per_minute * minute, 1)})

    def timeline(self) -> list[tuple[Transition, str]]:
        """(transition, HH:MM since the start) of every event."""
        return [(e.transition, _hhmm(e.at - self.start)) for e in self.events]


def _hhmm(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def test_the_default_entry_compiles_and_its_ring_round_trips(
    target: Target, humidity_rise: RateRule, clock: FakeClock
) -> None:
    config = RateConfig.model_validate(HUMIDITY_RISE)
    assert config.compile(target) == humidity_rise
    assert (humidity_rise.max_rise, humidity_rise.clear_rise) == (3, 1.5)
    assert humidity_rise.max_fall == math.inf  # falls are not judged
    assert (humidity_rise.window, humidity_rise.min_span) == (
        timedelta(hours=1),
        timedelta(minutes=30),
    )
    assert humidity_rise.verdict.category is Category.CLIMATE
    assert humidity_rise.verdict.severity is Severity.MEDIUM
    assert KIND.type == "rate_of_change"
    assert KIND.config is RateConfig
    assert KIND.state is RateState
    assert KIND.initial is INITIAL

    line = Timeline(humidity_rise, clock)
    line.hold(12, humidity=50.0)
    assert list(line.state.times) == [
        line.start,
        line.start + timedelta(minutes=5),
        line.start + timedelta(minutes=10),
    ]
    adapter = TypeAdapter(RateState)
    saved = adapter.dump_python(line.state, mode="json")
    assert saved["times"][0] == "2026-01-05T00:00:00Z"
    assert saved["values"] == [50.0, 50.0, 50.0]
    assert adapter.validate_python(saved) == line.state


def test_a_stopped_dehumidifier_raises_within_the_hour_and_clears_when_rh_levels_off(
    humidity_rise: RateRule, clock: FakeClock
) -> None:
    line = Timeline(humidity_rise, clock)
    line.hold(120, humidity=50.0)
    line.ramp(40, "humidity", 50.0, 0.1)  # 02:00 the dehumidifier stops: +1 % per 10 min
    line.hold(90, humidity=54.0)  # 02:40 someone restarts it; RH holds
    assert line.timeline() == [(Transition.RAISE, "02:35"), (Transition.CLEAR, "03:30")]
    raised, cleared = line.events
    assert raised.key == cleared.key == "humidity_rise:yunxi:b201-th1"
    assert raised.value == 3.5
    assert raised.message_zh == "B2-01 相对湿度上升 3.5 %/h，超过 3 %/h（除湿机可能停机）"
    assert raised.message_en == (
        "Relative humidity in B2-01 rising 3.5 %/h, over 3 %/h (dehumidifier stopped?)"
    )
    assert cleared.value == 1.0  # under half the limit


def test_a_steady_stack_with_sensor_noise_stays_quiet(
    humidity_rise: RateRule, clock: FakeClock
) -> None:
    line = Timeline(humidity_rise, clock)
    for minute in range(6 * 60):
        line.report(humidity=round(52 + 0.3 * math.sin(minute / 3), 1))
    assert line.events == []
    assert line.changes == 6 * 60 // 5  # one state per 5-minute bucket, no more
    assert (
        len(line.state.times) == len(line.state.values) == 13
    )  # an hour of buckets, both ends included


def test_a_ten_minute_blip_raises_nothing(humidity_rise: RateRule, clock: FakeClock) -> None:
    line = Timeline(humidity_rise, clock)
    # 00:00 the sensor comes online; a guard breathes on it at 00:05. Judged alone the
    # blip is 18 %/h, but the history is shorter than min_span (30 min): no verdict.
    line.hold(5, humidity=50.0)
    line.hold(10, humidity=53.0)
    line.hold(60, humidity=50.0)
    # 01:15 a door is held open for ten minutes: 2 % over the hour's history is 2 %/h.
    line.hold(10, humidity=52.0)
    line.hold(60, humidity=50.0)
    assert line.events == []


def test_a_cooling_stack_raises_a_fall_with_its_own_message(
    target: Target, clock: FakeClock
) -> None:
    config = RateConfig.model_validate(
        {"id": "t_drop", "type": "rate_of_change", "field": "temperature", "max_fall": 1.5}
    )
    line = Timeline(config.compile(target), clock)
    line.hold(60, temperature=20.0)
    line.ramp(60, "temperature", 20.0, -0.04)  # 01:00 −2.4 °C/h: the heating failed
    line.ramp(60, "temperature", 17.6, 0.04)  # 02:00 fixed; warming is not judged (no max_rise)
    assert line.timeline() == [(Transition.RAISE, "01:40"), (Transition.CLEAR, "02:25")]
    assert line.events[0].message_zh == (
        "B2-01 温度下降 1.6 °C/h，超过 1.5 °C/h（空调或供暖可能异常）"
    )
    assert line.events[0].message_en == (
        "Temperature in B2-01 falling 1.6 °C/h, over 1.5 °C/h (air conditioning or heating fault?)"
    )


def test_readings_inside_the_open_bucket_or_without_the_field_change_nothing(
    humidity_rise: RateRule, clock: FakeClock
) -> None:
    line = Timeline(humidity_rise, clock)
    line.hold(1, humidity=50.0)
    now = clock.now()  # 00:01, inside the 00:00 bucket
    for payload in (ReadingPayload(humidity=70.0), ReadingPayload(temperature=20.0)):
        reading = Reading("yunxi", "B2-01", "b201-th1", now, now, payload, b"{}")
        assert rate.evaluate(humidity_rise, line.state, reading, B2_01, now) == (
            line.state,
            NO_OUTPUTS,
        )
        assert rate.evaluate(humidity_rise, line.state, reading, B2_01, now)[0] is line.state


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "needs max_rise, max_fall or both"),
        ({"max_rise": 3, "min_span": "2h"}, "min_span must not be longer than window"),
        ({"max_rise": 3, "window": "5m", "min_span": "5m"}, "between 10m and 6h"),
        ({"max_rise": 3, "window": "12h"}, "between 10m and 6h"),
        ({"max_rise": 3, "clear_ratio": 1}, "less than 1"),
        ({"max_rise": 0}, "greater than 0"),
        ({"max_rise": 3, "field": "battery"}, "Input should be 'temperature' or 'humidity'"),
    ],
)
def test_a_bad_entry_is_refused_with_a_reason(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RateConfig.model_validate(
            {"id": "r", "type": "rate_of_change", "field": "humidity", **entry}
        )
