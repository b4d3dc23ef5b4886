"""Water rules: a leak under the shelves of B2-01, and a sweating chilled-water pipe in B2-03."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from rules.base import Subject
from rules.kinds import Level, Outputs, Target
from rules.water import (
    CONDENSATION_INITIAL,
    CONDENSATION_KIND,
    WATER_LEAK_INITIAL,
    WATER_LEAK_KIND,
    CondensationConfig,
    CondensationRule,
    CondensationState,
    WaterLeakConfig,
    WaterLeakRule,
    WaterLeakState,
    evaluate_condensation,
    evaluate_water_leak,
)
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

SITE = "yunxi"


def target(facility: Facility, sensor_id: str) -> Target:
    return rule_target(facility, sensor_id)


def reading(room: str, sensor: str, when: datetime, **values: object) -> Reading:
    payload = ReadingPayload.model_validate(values)
    return Reading(SITE, room, sensor, when, when, payload, raw=json.dumps(values).encode())


def alarms(outputs: Outputs) -> list[AlarmEvent]:
    assert all(isinstance(o, AlarmEvent) for o in outputs)
    return [o for o in outputs if isinstance(o, AlarmEvent)]


def round_trips(state_type: type[object], state: object) -> None:
    adapter = pydantic.TypeAdapter(state_type)
    dumped = adapter.dump_python(state, mode="json")
    assert json.loads(json.dumps(dumped)) == dumped
    assert adapter.validate_python(dumped) == state


# Water leak


@pytest.fixture
def leak_rule(facility: Facility) -> WaterLeakRule:
    config = WaterLeakConfig.model_validate({"id": "water_leak", "type": "water_leak"})
    return config.compile(target(facility, "b201-leak"))


def test_water_leak_compiles_and_registers(facility: Facility, leak_rule: WaterLeakRule) -> None:
    assert leak_rule.verdict.category is Category.WATER
    assert leak_rule.verdict.severity is Severity.CRITICAL
    assert WaterLeakConfig.level is Level.SENSOR
    assert WaterLeakConfig.applies_to == {SensorKind.WATER_LEAK}
    kind = WATER_LEAK_KIND
    assert (kind.type, kind.config, kind.state) == ("water_leak", WaterLeakConfig, WaterLeakState)
    assert kind.initial is WATER_LEAK_INITIAL
    assert kind.evaluate is evaluate_water_leak
    assert kind.tick is None
    round_trips(WaterLeakState, WaterLeakState(raised=True))
    round_trips(WaterLeakState, WATER_LEAK_INITIAL)
    with pytest.raises(pydantic.ValidationError):
        WaterLeakConfig.model_validate({"id": "water_leak", "type": "water_leak", "after": "1m"})


def test_a_leak_at_night_raises_at_once_and_clears_when_dry(
    clock: FakeClock, leak_rule: WaterLeakRule
) -> None:
    subject = Subject(SITE, "B2-01", "b201-leak")
    state = WATER_LEAK_INITIAL

    def send(**values: object) -> list[AlarmEvent]:
        nonlocal state
        now = clock.now()
        r = reading("B2-01", "b201-leak", now, **values)
        state, outputs = evaluate_water_leak(leak_rule, state, r, subject, now)
        return alarms(outputs)

    clock.set(datetime(2026, 7, 14, 19, 2, tzinfo=UTC))  # 03:02 in Shanghai
    assert send(water_leak=False, battery=90.0) == []
    assert state is WATER_LEAK_INITIAL
    (wet,) = send(water_leak=True)
    assert (wet.key, wet.transition, wet.at) == (
        "water_leak:yunxi:b201-leak",
        Transition.RAISE,
        clock.now(),
    )
    assert (wet.category, wet.severity, wet.sensor) == (
        Category.WATER,
        Severity.CRITICAL,
        "b201-leak",
    )
    assert wet.message_zh == "B2-01 漏水：b201-leak 检测到水浸"
    assert wet.message_en == "Water leak in B2-01: b201-leak detects water"
    clock.advance(timedelta(minutes=5))
    assert send(water_leak=True) == []  # the heartbeat of a wet cable: the same alarm
    clock.advance(timedelta(minutes=40))
    (dry,) = send(water_leak=False)
    assert (dry.key, dry.transition) == ("water_leak:yunxi:b201-leak", Transition.CLEAR)
    assert not state.raised


# Condensation

B2_03 = Subject(SITE, "B2-03")


class Room:
    """B2-03's air and pipe probes under one condensation rule."""

    def __init__(self, clock: FakeClock, rule: CondensationRule) -> None:
        self.clock, self.rule, self.state = clock, rule, CONDENSATION_INITIAL

    def send(self, sensor: str, **values: object) -> list[AlarmEvent]:
        now = self.clock.now()
        r = reading("B2-03", sensor, now, **values)
        self.state, outputs = evaluate_condensation(
            self.rule, self.state, r, Subject(SITE, "B2-03", sensor), now
        )
        return alarms(outputs)


@pytest.fixture
def b203(clock: FakeClock, facility: Facility) -> Room:
    config = CondensationConfig.model_validate({"id": "condensation", "type": "condensation"})
    clock.set(datetime(2026, 7, 14, 6, 0, tzinfo=UTC))
    return Room(clock, config.compile(target(facility, "b203-th1")))


def test_condensation_compiles_and_registers(facility: Facility) -> None:
    config = CondensationConfig.model_validate(
        {"id": "condensation", "type": "condensation", "margin": 3, "surfaces": ["b203-heat"]}
    )
    compiled = config.compile(target(facility, "b203-th1"))
    assert (compiled.margin, compiled.hysteresis) == (3, 1)
    assert compiled.surfaces == frozenset({"b203-heat"})
    assert compiled.verdict.category is Category.CLIMATE
    assert compiled.verdict.severity is Severity.MEDIUM
    assert CondensationConfig.level is Level.ROOM
    assert CondensationConfig.applies_to == {SensorKind.CLIMATE, SensorKind.HEAT}
    kind = CONDENSATION_KIND
    assert (kind.type, kind.config, kind.state) == (
        "condensation",
        CondensationConfig,
        CondensationState,
    )
    assert kind.initial is CONDENSATION_INITIAL
    assert kind.evaluate is evaluate_condensation
    round_trips(CondensationState, CondensationState(15.76, "b203-th1", (("b203-heat", 17.0),)))
    round_trips(CondensationState, CONDENSATION_INITIAL)

    stray = CondensationConfig.model_validate(
        {"id": "condensation", "type": "condensation", "surfaces": ["b201-th1"]}
    )
    with pytest.raises(ValueError, match="b201-th1"):
        stray.compile(target(facility, "b203-th1"))
    with pytest.raises(pydantic.ValidationError):
        CondensationConfig.model_validate(
            {"id": "condensation", "type": "condensation", "surfaces": ["no/such"]}
        )


def test_a_chilled_water_pipe_below_the_margin_raises(b203: Room) -> None:
    assert b203.send("b203-heat", temperature=17.0) == []  # the pipe, before any air reading
    b203.clock.advance(30)
    (alarm,) = b203.send("b203-th1", temperature=24.0, humidity=60.0)  # dew point 15.76 °C
    assert (alarm.key, alarm.transition, alarm.sensor) == (
        "condensation:yunxi:B2-03",
        Transition.RAISE,
        None,
    )
    assert (alarm.category, alarm.severity) == (Category.CLIMATE, Severity.MEDIUM)
    assert alarm.value == pytest.approx(1.24, abs=0.01)
    assert alarm.message_zh.startswith("B2-03 结露风险：b203-heat 表面温度 17.0 °C，露点 15.8 °C")
    assert alarm.message_en.startswith(
        "Condensation risk in B2-03: b203-heat at 17.0 °C, dew point 15.8 °C"
    )
    # Warming to 18.5 °C (2.74 °C apart) is inside the hysteresis: still raised.
    b203.clock.advance(60)
    assert b203.send("b203-heat", temperature=18.5) == []
    assert b203.state.raised
    b203.clock.advance(60)
    (clear,) = b203.send("b203-heat", temperature=19.0)  # 3.24 °C > 2 + 1
    assert (clear.key, clear.transition) == ("condensation:yunxi:B2-03", Transition.CLEAR)


def test_cool_dry_air_over_a_cold_pipe_is_fine(b203: Room) -> None:
    b203.send("b203-heat", temperature=10.0)
    assert b203.send("b203-th1", temperature=14.0, humidity=45.0) == []  # dew point 2.25 °C
    assert b203.state.dew_point == pytest.approx(2.25, abs=0.01)
    assert not b203.state.raised


def test_the_coldest_surface_counts_and_named_surfaces_limit_the_probes(
    clock: FakeClock, facility: Facility
) -> None:
    config = CondensationConfig.model_validate(
        {"id": "condensation", "type": "condensation", "surfaces": ["b203-heat"]}
    )
    room = Room(clock, config.compile(target(facility, "b203-th1")))
    assert room.send("b203-th2", temperature=12.0) == []  # not a named surface: ignored
    assert room.state is CONDENSATION_INITIAL
    room.send("b203-heat", temperature=22.0)
    assert room.send("b203-th1", temperature=24.0, humidity=60.0) == []
    (alarm,) = room.send("b203-heat", temperature=16.5)
    assert alarm.transition is Transition.RAISE


def test_unchanged_readings_keep_the_state(b203: Room) -> None:
    b203.send("b203-heat", temperature=20.0)
    b203.send("b203-th1", temperature=22.0, humidity=50.0)
    state = b203.state
    assert b203.send("b203-heat", temperature=20.0) == []
    assert b203.send("b203-th1", temperature=22.0, humidity=50.0) == []
    assert b203.state is state
