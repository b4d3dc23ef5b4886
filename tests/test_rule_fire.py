"""The fire rule as an incident timeline: a fire in stack 3 (B2-03), Shanghai wall time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pydantic
import pytest

from rules.base import Subject
from rules.fire import (
    FIRE_INITIAL,
    FIRE_KIND,
    FireConfig,
    FireRule,
    FireState,
    evaluate_fire,
)
from rules.kinds import NO_OUTPUTS, Level, Outputs, Target
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

SHANGHAI = ZoneInfo("Asia/Shanghai")
SITE, ROOM = "yunxi", "B2-03"
FIRE_KEY = "fire:yunxi:B2-03"
CONFIRMED_KEY = "fire_confirmed:yunxi:B2-03"


def at(h: int, m: int, s: int = 0) -> datetime:
    return datetime(2026, 1, 6, h, m, s, tzinfo=SHANGHAI)


def target(facility: Facility, sensor_id: str = "b203-smoke1") -> Target:
    return rule_target(facility, sensor_id)


class Stack:
    """Room B2-03 under one fire rule; every reading is sent at the fake clock's time."""

    def __init__(self, clock: FakeClock, fire: FireRule) -> None:
        self.clock, self.rule, self.state = clock, fire, FIRE_INITIAL
        self.events: list[AlarmEvent] = []

    def send(self, sensor: str, **values: object) -> tuple[AlarmEvent, ...]:
        now = self.clock.now()
        payload = ReadingPayload.model_validate(values)
        reading = Reading(SITE, ROOM, sensor, now, now, payload, raw=json.dumps(values).encode())
        # The engine may hand a room rule the reading's sensor: the keys stay per room.
        self.state, outputs = evaluate_fire(
            self.rule, self.state, reading, Subject(SITE, ROOM, sensor), now
        )
        events = alarms(outputs)
        self.events.extend(events)
        return events


@pytest.fixture
def stack(clock: FakeClock, facility: Facility) -> Stack:
    config = FireConfig.model_validate({"id": "fire", "type": "fire"})
    return Stack(clock, config.compile(target(facility)))


def alarms(outputs: Outputs) -> tuple[AlarmEvent, ...]:
    assert all(isinstance(o, AlarmEvent) for o in outputs)
    return tuple(o for o in outputs if isinstance(o, AlarmEvent))


def test_compiles_from_a_rule_entry_and_registers(facility: Facility) -> None:
    config = FireConfig.model_validate(
        {"id": "fire", "type": "fire", "confirm_window": "90s", "heat_rise": 10}
    )
    compiled = config.compile(target(facility, "b203-heat"))
    assert compiled.confirm_window == timedelta(seconds=90)
    assert (compiled.heat_rise, compiled.heat_absolute) == (10, 57)
    assert compiled.verdict.severity is Severity.CRITICAL
    assert compiled.confirmed.rule_id == "fire_confirmed"
    assert FireConfig.level is Level.ROOM
    assert FireConfig.applies_to == {SensorKind.SMOKE, SensorKind.HEAT, SensorKind.CLIMATE}
    assert (FIRE_KIND.type, FIRE_KIND.config, FIRE_KIND.state) == ("fire", FireConfig, FireState)
    assert FIRE_KIND.initial is FIRE_INITIAL
    assert FIRE_KIND.evaluate is evaluate_fire
    assert FIRE_KIND.tick is None

    with pytest.raises(pydantic.ValidationError):
        FireConfig.model_validate({"id": "fire", "type": "fire", "heat_rise": 0})


def test_a_state_mid_fire_survives_a_restart(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 12))
    stack.send("b203-heat", temperature=20.0)
    clock.set(at(2, 13, 5))
    stack.send("b203-smoke1", smoke=True)
    stack.send("b203-smoke2", smoke=True)
    adapter = pydantic.TypeAdapter(FireState)
    dumped = adapter.dump_python(stack.state, mode="json")
    assert json.loads(json.dumps(dumped)) == dumped
    assert adapter.validate_python(dumped) == stack.state
    assert stack.state.confirmed
    assert adapter.validate_python(adapter.dump_python(FIRE_INITIAL, mode="json")) == FIRE_INITIAL


def test_a_fire_in_stack_3(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 13, 5))
    (fire,) = stack.send("b203-smoke1", smoke=True)
    assert (fire.key, fire.transition, fire.at) == (FIRE_KEY, Transition.RAISE, at(2, 13, 5))
    assert (fire.category, fire.severity, fire.room, fire.sensor) == (
        Category.FIRE,
        Severity.CRITICAL,
        ROOM,
        "b203-smoke1",
    )
    assert fire.message_zh == "B2-03 火警：烟感探测器 b203-smoke1 报警"
    assert fire.message_en == "Fire alarm in B2-03: smoke detector b203-smoke1"

    clock.set(at(2, 13, 40))
    (confirmed,) = stack.send("b203-smoke2", smoke=True)
    assert (confirmed.key, confirmed.rule, confirmed.at) == (
        CONFIRMED_KEY,
        "fire_confirmed",
        at(2, 13, 40),
    )
    assert (confirmed.severity, confirmed.sensor) == (Severity.CRITICAL, None)
    assert confirmed.message_zh == "B2-03 火警确认：两个独立探测器报警（b203-smoke1、b203-smoke2）"
    assert confirmed.message_en == (
        "Fire confirmed in B2-03: two independent detectors (b203-smoke1, b203-smoke2)"
    )

    # Heartbeats of detectors in alarm change nothing.
    clock.set(at(2, 18, 5))
    before = stack.state
    assert stack.send("b203-smoke1", smoke=True) == ()
    assert stack.state is before

    # One detector back to normal is not the room back to normal.
    clock.set(at(2, 40))
    assert stack.send("b203-smoke1", smoke=False) == ()
    clock.set(at(2, 41))
    cleared = stack.send("b203-smoke2", smoke=False)
    assert {(e.key, e.transition) for e in cleared} == {
        (FIRE_KEY, Transition.CLEAR),
        (CONFIRMED_KEY, Transition.CLEAR),
    }
    assert all(e.at == at(2, 41) for e in cleared)
    assert not stack.state.raised
    assert not stack.state.confirmed
    assert stack.state.detectors == ()


def test_smoke_and_a_heat_rise_confirm(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 13))
    assert stack.send("b203-heat", temperature=20.0) == ()
    clock.set(at(2, 13, 10))
    (fire,) = stack.send("b203-smoke1", smoke=True)
    assert fire.key == FIRE_KEY
    clock.set(at(2, 13, 45))
    assert stack.send("b203-heat", temperature=25.0) == ()
    clock.set(at(2, 14, 30))  # 20 → 31 °C in 90 s
    (confirmed,) = stack.send("b203-heat", temperature=31.0)
    assert confirmed.key == CONFIRMED_KEY
    assert confirmed.message_zh == "B2-03 火警确认：烟感报警且温度骤升（b203-smoke1、b203-heat）"
    assert confirmed.message_en == (
        "Fire confirmed in B2-03: smoke and a heat rise (b203-smoke1, b203-heat)"
    )


def test_a_heat_rise_just_before_the_smoke_confirms(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 13))
    stack.send("b203-th1", temperature=21.0, humidity=50.0)
    clock.set(at(2, 14))
    assert stack.send("b203-th1", temperature=30.0, humidity=38.0) == ()  # no smoke yet
    clock.set(at(2, 15))
    events = stack.send("b203-smoke2", smoke=True)
    assert [e.key for e in events] == [FIRE_KEY, CONFIRMED_KEY]


def test_a_heat_detector_at_57_degrees_confirms_a_standing_smoke_alarm(
    clock: FakeClock, stack: Stack
) -> None:
    clock.set(at(2, 0))
    stack.send("b203-smoke1", smoke=True)
    for minute in range(1, 20):  # a slow rise: never 8 °C within 2 minutes
        clock.set(at(2, minute))
        assert stack.send("b203-heat", temperature=37.0 + minute) == ()
    clock.set(at(2, 20))
    (confirmed,) = stack.send("b203-heat", temperature=57.0)
    assert confirmed.key == CONFIRMED_KEY


def test_two_detectors_five_minutes_apart_are_not_confirmed(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 13, 5))
    stack.send("b203-smoke1", smoke=True)
    clock.set(at(2, 18, 5))
    assert stack.send("b203-smoke2", smoke=True) == ()
    assert stack.state.raised
    assert not stack.state.confirmed
    assert [e.key for e in stack.events] == [FIRE_KEY]


def test_the_same_detector_twice_is_not_confirmed(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 13, 5))
    stack.send("b203-smoke1", smoke=True)
    clock.set(at(2, 13, 20))
    assert stack.send("b203-smoke1", smoke=True) == ()
    clock.set(at(2, 13, 30))
    (cleared,) = stack.send("b203-smoke1", smoke=False)
    assert (cleared.key, cleared.transition) == (FIRE_KEY, Transition.CLEAR)
    clock.set(at(2, 13, 50))  # trips again: a new fire alarm, still one device
    (again,) = stack.send("b203-smoke1", smoke=True)
    assert (again.key, again.transition) == (FIRE_KEY, Transition.RAISE)
    assert not stack.state.confirmed


def test_a_combined_smoke_and_heat_detector_is_one_device(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 13))
    stack.send("b203-smoke1", smoke=False, temperature=20.0)
    clock.set(at(2, 14))
    (fire,) = stack.send("b203-smoke1", smoke=True, temperature=60.0)
    assert fire.key == FIRE_KEY
    assert not stack.state.confirmed
    # Its heat element does count beside another detector in alarm.
    clock.set(at(2, 20))
    assert stack.send("b203-smoke2", smoke=True) == ()  # six minutes later: not paired
    assert stack.send("b203-smoke1", smoke=False, temperature=25.0) == ()
    clock.set(at(2, 21))
    (confirmed,) = stack.send("b203-smoke1", smoke=False, temperature=58.0)
    assert confirmed.message_en == (
        "Fire confirmed in B2-03: smoke and a heat rise (b203-smoke2, b203-smoke1)"
    )


def test_quiet_readings_leave_the_state_alone(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 0))
    stack.send("b203-th1", temperature=20.0, humidity=50.0)
    baseline = stack.state
    for seconds in (30, 60, 90, 120):
        clock.set(at(2, 0) + timedelta(seconds=seconds))
        assert stack.send("b203-th1", temperature=20.1, humidity=50.2) == ()
        assert stack.state is baseline
        assert stack.send("b203-smoke1", smoke=False) == ()
        assert stack.state is baseline
    # Past the window the baseline is renewed, still without an event.
    clock.set(at(2, 3))
    assert stack.send("b203-th1", temperature=20.2, humidity=50.0) == ()
    assert stack.state.baselines == (("b203-th1", at(2, 3), 20.2),)


def test_a_battery_report_is_not_a_fire_signal(clock: FakeClock, stack: Stack) -> None:
    clock.set(at(2, 0))
    now = clock.now()
    payload = ReadingPayload.model_validate({"battery": 80.0})
    reading = Reading(SITE, ROOM, "b203-smoke1", now, now, payload, raw=b'{"battery": 80.0}')
    state, outputs = evaluate_fire(stack.rule, FIRE_INITIAL, reading, Subject(SITE, ROOM), now)
    assert state is FIRE_INITIAL
    assert outputs is NO_OUTPUTS
