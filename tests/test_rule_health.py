"""Sensor health rules: a frozen sensor, an impossible jump, a wrong clock, a draining backlog."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import pydantic
import pytest

from rules.base import Subject
from rules.health import (
    CLOCK_SKEW_INITIAL,
    CLOCK_SKEW_KIND,
    SPIKE_INITIAL,
    SPIKE_KIND,
    STUCK_INITIAL,
    STUCK_KIND,
    ClockSkewConfig,
    ClockSkewRule,
    ClockSkewState,
    SpikeConfig,
    SpikeRule,
    SpikeState,
    StuckConfig,
    StuckRule,
    StuckState,
    evaluate_clock_skew,
    evaluate_spike,
    evaluate_stuck,
)
from rules.kinds import NO_OUTPUTS, Level, Outputs, RuleConfig, Target
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

SITE, ROOM, SENSOR = "yunxi", "B2-03", "b203-th1"
SUBJECT = Subject(SITE, ROOM, SENSOR)
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)

S = TypeVar("S")
R = TypeVar("R")


def target(facility: Facility, sensor_id: str = SENSOR) -> Target:
    return rule_target(facility, sensor_id)


def round_trips(state_type: type[object], state: object) -> None:
    adapter = pydantic.TypeAdapter(state_type)
    dumped = adapter.dump_python(state, mode="json")
    assert json.loads(json.dumps(dumped)) == dumped
    assert adapter.validate_python(dumped) == state


class Sensor(Generic[R, S]):
    """b203-th1 under one health rule; readings at the fake clock's time unless told."""

    def __init__(
        self,
        clock: FakeClock,
        rule: R,
        state: S,
        evaluate: Callable[[R, S, Reading, Subject, datetime], tuple[S, Outputs]],
    ) -> None:
        self.clock, self.rule, self.state, self._evaluate = clock, rule, state, evaluate
        self.events: list[AlarmEvent] = []

    def send(self, received: datetime | None = None, **values: object) -> list[AlarmEvent]:
        received = received or self.clock.now()
        payload = ReadingPayload.model_validate(values)
        ts = payload.ts or received
        raw = json.dumps(values).encode()
        reading = Reading(SITE, ROOM, SENSOR, ts, received, payload, raw)
        self.state, outputs = self._evaluate(self.rule, self.state, reading, SUBJECT, ts)
        assert all(isinstance(o, AlarmEvent) for o in outputs)
        events = [o for o in outputs if isinstance(o, AlarmEvent)]
        self.events.extend(events)
        return events


def check_trouble(config: RuleConfig, compiled: object) -> None:
    verdict = getattr(compiled, "verdict", None)
    assert verdict is not None
    assert verdict.rule_id == config.id
    assert (verdict.category, verdict.severity) == (Category.TROUBLE, Severity.LOW)
    assert type(config).level is Level.SENSOR


# Stuck


def test_stuck_compiles_and_registers(facility: Facility) -> None:
    config = StuckConfig.model_validate({"id": "stuck_value", "type": "stuck", "window": "4h"})
    compiled = config.compile(target(facility))
    check_trouble(config, compiled)
    assert (compiled.tolerance, compiled.window) == (0.01, timedelta(hours=4))
    assert StuckConfig.applies_to == {SensorKind.CLIMATE, SensorKind.HEAT}
    assert (STUCK_KIND.type, STUCK_KIND.config, STUCK_KIND.state) == (
        "stuck",
        StuckConfig,
        StuckState,
    )
    assert STUCK_KIND.initial is STUCK_INITIAL
    assert STUCK_KIND.evaluate is evaluate_stuck
    round_trips(StuckState, StuckState(START, 20.0, 50.0, raised=True))
    round_trips(StuckState, STUCK_INITIAL)


@pytest.fixture
def stuck(clock: FakeClock, facility: Facility) -> Sensor[StuckRule, StuckState]:
    config = StuckConfig.model_validate({"id": "stuck_value", "type": "stuck"})
    clock.set(START)
    return Sensor(clock, config.compile(target(facility)), STUCK_INITIAL, evaluate_stuck)


def test_six_hours_of_identical_values_raise_and_a_change_clears(
    stuck: Sensor[StuckRule, StuckState],
) -> None:
    for _ in range(6 * 12):  # every 5 minutes for 6 h, minus one step
        assert stuck.send(temperature=20.0, humidity=50.0) == []
        stuck.clock.advance(timedelta(minutes=5))
    (alarm,) = stuck.send(temperature=20.0, humidity=50.005)  # within the tolerance
    assert (alarm.key, alarm.transition, alarm.at) == (
        "stuck_value:yunxi:b203-th1",
        Transition.RAISE,
        START + timedelta(hours=6),
    )
    assert "b203-th1" in alarm.message_zh
    assert "B2-03" in alarm.message_zh
    assert alarm.message_en.startswith("Sensor b203-th1 in B2-03 has reported")
    stuck.clock.advance(timedelta(minutes=5))
    assert stuck.send(temperature=20.0, humidity=50.0) == []
    stuck.clock.advance(timedelta(minutes=5))
    (clear,) = stuck.send(temperature=20.02, humidity=50.0)
    assert clear.transition is Transition.CLEAR


def test_a_jittering_sensor_is_never_stuck(stuck: Sensor[StuckRule, StuckState]) -> None:
    for i in range(8 * 12):
        assert stuck.send(temperature=20.0 + (i % 3) * 0.1, humidity=50.0) == []
        stuck.clock.advance(timedelta(minutes=5))


def test_a_jittering_sensor_changes_its_state_only_every_refresh(
    stuck: Sensor[StuckRule, StuckState],
) -> None:
    # Movement is noted at most every window/36 (10 min): a reading a minute for an hour
    # of jitter changes the state six times, not sixty (no allocation per reading).
    assert stuck.rule.refresh == timedelta(minutes=10)
    states = set()
    for i in range(60):
        stuck.send(temperature=20.0 + (i % 2) * 0.1, humidity=50.0)
        states.add(id(stuck.state))
        stuck.clock.advance(timedelta(minutes=1))
    assert len(states) <= 7
    assert stuck.events == []


def test_a_sensor_that_freezes_after_jitter_is_caught_within_the_window_and_refresh(
    stuck: Sensor[StuckRule, StuckState],
) -> None:
    # 2 h of jitter a minute apart, then the sensor freezes at 21.3 °C for good.
    for i in range(120):
        stuck.send(temperature=20.0 + (i % 2) * 0.1, humidity=50.0)
        stuck.clock.advance(timedelta(minutes=1))
    frozen_at = stuck.clock.now()
    raised_at = None
    for _ in range(7 * 60):
        if stuck.send(temperature=21.3, humidity=50.0):
            raised_at = stuck.clock.now()
            break
        stuck.clock.advance(timedelta(minutes=1))
    assert raised_at is not None
    # Never before a whole window of stillness, never later than one refresh after it.
    assert frozen_at + timedelta(hours=6) <= raised_at <= frozen_at + timedelta(hours=6, minutes=10)


# Spike


def test_spike_compiles_and_registers(facility: Facility) -> None:
    config = SpikeConfig.model_validate({"id": "spike", "type": "spike", "within": "10m"})
    compiled = config.compile(target(facility, "b203-heat"))
    check_trouble(config, compiled)
    assert (compiled.max_jump_temperature, compiled.max_jump_humidity) == (5, 20)
    assert compiled.within == timedelta(minutes=10)
    assert (SPIKE_KIND.type, SPIKE_KIND.config, SPIKE_KIND.state) == (
        "spike",
        SpikeConfig,
        SpikeState,
    )
    assert SPIKE_KIND.initial is SPIKE_INITIAL
    assert SPIKE_KIND.evaluate is evaluate_spike
    round_trips(SpikeState, SpikeState(START, 20.0, None, raised=True))


@pytest.fixture
def spike(clock: FakeClock, facility: Facility) -> Sensor[SpikeRule, SpikeState]:
    config = SpikeConfig.model_validate({"id": "spike", "type": "spike"})
    clock.set(START)
    return Sensor(clock, config.compile(target(facility)), SPIKE_INITIAL, evaluate_spike)


def test_an_impossible_jump_raises_and_a_plausible_reading_clears(
    spike: Sensor[SpikeRule, SpikeState],
) -> None:
    assert spike.send(temperature=20.0, humidity=50.0) == []
    spike.clock.advance(60)
    (alarm,) = spike.send(temperature=20.1, humidity=85.0)  # +35 % RH in a minute
    assert (alarm.key, alarm.transition) == ("spike:yunxi:b203-th1", Transition.RAISE)
    assert "物理上不可能" in alarm.message_zh
    assert "B2-03" in alarm.message_zh
    assert "physically impossible" in alarm.message_en
    spike.clock.advance(60)
    assert spike.send(temperature=20.0, humidity=50.0) == []  # jumps back: still not plausible
    spike.clock.advance(60)
    (clear,) = spike.send(temperature=20.1, humidity=50.5)
    assert clear.transition is Transition.CLEAR


def test_a_big_change_over_a_long_gap_is_not_a_spike(spike: Sensor[SpikeRule, SpikeState]) -> None:
    spike.send(temperature=20.0, humidity=50.0)
    spike.clock.advance(timedelta(minutes=5))
    assert spike.send(temperature=26.0, humidity=50.0) == []
    spike.clock.advance(timedelta(minutes=1))
    assert spike.send(temperature=31.5, humidity=50.0) != []  # 5.5 °C in a minute


# Clock skew


def test_clock_skew_compiles_and_registers(facility: Facility) -> None:
    config = ClockSkewConfig.model_validate({"id": "clock_skew", "type": "clock_skew"})
    compiled = config.compile(target(facility, "b203-smoke1"))
    check_trouble(config, compiled)
    assert (compiled.max_skew, compiled.steady_lag, compiled.steady_readings) == (300, 30, 3)
    assert ClockSkewConfig.applies_to == frozenset(SensorKind)
    assert (CLOCK_SKEW_KIND.type, CLOCK_SKEW_KIND.config, CLOCK_SKEW_KIND.state) == (
        "clock_skew",
        ClockSkewConfig,
        ClockSkewState,
    )
    assert CLOCK_SKEW_KIND.initial is CLOCK_SKEW_INITIAL
    assert CLOCK_SKEW_KIND.evaluate is evaluate_clock_skew
    round_trips(ClockSkewState, ClockSkewState((600.0, 601.5)))


@pytest.fixture
def skew(clock: FakeClock, facility: Facility) -> Sensor[ClockSkewRule, ClockSkewState]:
    config = ClockSkewConfig.model_validate({"id": "clock_skew", "type": "clock_skew"})
    clock.set(START)
    rule = config.compile(target(facility))
    return Sensor(clock, rule, CLOCK_SKEW_INITIAL, evaluate_clock_skew)


def stamp(when: datetime) -> str:
    return when.isoformat()


def test_a_clock_ahead_raises_at_once_dated_by_our_clock(
    skew: Sensor[ClockSkewRule, ClockSkewState],
) -> None:
    now = skew.clock.now()
    (alarm,) = skew.send(temperature=20.0, ts=stamp(now + timedelta(minutes=7)))
    assert (alarm.key, alarm.transition, alarm.at) == (
        "clock_skew:yunxi:b203-th1",
        Transition.RAISE,
        now,
    )
    assert alarm.value == 420
    assert alarm.message_en == "Sensor b203-th1 in B2-03: clock about 7 min ahead"
    skew.clock.advance(60)
    # Three minutes ahead: better, but not yet right.
    assert skew.send(temperature=20.0, ts=stamp(skew.clock.now() + timedelta(minutes=3))) == []
    skew.clock.advance(60)
    (clear,) = skew.send(temperature=20.0, ts=stamp(skew.clock.now() + timedelta(seconds=20)))
    assert (clear.transition, clear.at) == (Transition.CLEAR, skew.clock.now())


def test_a_clock_constantly_behind_raises_at_the_third_reading(
    skew: Sensor[ClockSkewRule, ClockSkewState],
) -> None:
    for lag_seconds in (600, 610):
        assert (
            skew.send(temperature=20.0, ts=stamp(skew.clock.now() - timedelta(seconds=lag_seconds)))
            == []
        )
        skew.clock.advance(60)
    (alarm,) = skew.send(temperature=20.0, ts=stamp(skew.clock.now() - timedelta(seconds=595)))
    assert alarm.transition is Transition.RAISE
    assert alarm.message_zh == "B2-03 传感器 b203-th1 时钟慢了约 10 分钟"


def test_a_draining_backlog_raises_no_skew_alarm(
    skew: Sensor[ClockSkewRule, ClockSkewState],
) -> None:
    # The gateway was offline for an hour; it now sends a reading a second, each measured
    # a minute after the one before: the lag shrinks by 59 s each time.
    outage_start = skew.clock.now() - timedelta(hours=1)
    for i in range(60):
        measured = outage_start + timedelta(minutes=i)
        assert skew.send(temperature=20.0, ts=stamp(measured)) == []
        skew.clock.advance(1)
    assert skew.events == []
    # Live again: the run of lags is forgotten.
    skew.send(temperature=20.0, ts=stamp(skew.clock.now()))
    assert skew.state is CLOCK_SKEW_INITIAL


def test_a_fast_sensors_backlog_raises_no_skew_alarm(
    skew: Sensor[ClockSkewRule, ClockSkewState],
) -> None:
    # A sensor measuring every second was cut off for ten minutes; the broker then hands
    # its queue over in a burst, 10 ms apart: the lag shrinks by 0.99 s a reading, within
    # 30 s but not within half the readings' one-second spacing, so it is a backlog.
    outage_start = skew.clock.now() - timedelta(minutes=10)
    for i in range(300):
        assert skew.send(temperature=20.0, ts=stamp(outage_start + timedelta(seconds=i))) == []
        skew.clock.advance(0.01)
    assert skew.events == []


def test_readings_without_their_own_time_are_not_judged(
    skew: Sensor[ClockSkewRule, ClockSkewState],
) -> None:
    received = skew.clock.now()
    payload = ReadingPayload.model_validate({"smoke": False})
    # Without a ts the reading's time is the receive time, whatever that was.
    late = Reading(SITE, ROOM, SENSOR, received, received, payload, raw=b'{"smoke": false}')
    state, outputs = evaluate_clock_skew(skew.rule, skew.state, late, SUBJECT, received)
    assert state is CLOCK_SKEW_INITIAL
    assert outputs is NO_OUTPUTS
