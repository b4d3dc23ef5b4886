"""The rules as incident timelines on a fake clock: climate limits, smoke, silent sensors."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.models import AlarmState
from alerts.service import AlarmService
from alerts.store import AlarmStore, create_state_engine
from rules.engine import RulesEngine
from rules.evaluate import Subject, evaluate_threshold
from rules.model import SensorRules, ThresholdRule, compile_rules
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, AlarmSink, Category, Severity, Transition
from sensors.facility import Facility, SensorInfo, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate
from tests.scenarios import (
    SITE,
    TICK,
    RecordingSink,
    Timeline,
    large_facility,
    normal_values,
    reading,
)

B2_01 = Subject(SITE, "B2-01", "b201-th1")


def rules_for(facility: Facility, sensor: str) -> SensorRules:
    return compile_rules(facility)[(SITE, sensor)]


def threshold(facility: Facility, sensor: str, field: str) -> ThresholdRule:
    (rule,) = (r for r in rules_for(facility, sensor).thresholds if r.field == field)
    return rule


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def timeline(facility: Facility, clock: FakeClock, sink: RecordingSink) -> Timeline:
    line = Timeline(facility, clock, sink)
    line.start()
    return line


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AlarmService]:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    store = AlarmStore(engine)
    store.start()
    yield AlarmService(store, [])
    engine.dispose()


# --- compiled rules -------------------------------------------------------------------------


def test_paper_stack_limits_come_from_its_room_class_with_clear_margins(
    facility: Facility,
) -> None:
    temperature = threshold(facility, "b201-th1", "temperature")
    humidity = threshold(facility, "b201-th1", "humidity")
    assert (temperature.low, temperature.high, temperature.margin) == (14, 24, 0.5)
    assert (humidity.low, humidity.high, humidity.margin) == (45, 60, 2.0)
    # B2-02 overrides its class's RH band (an outside wall): 45-55 instead of 45-60.
    tighter = threshold(facility, "b202-th1", "humidity")
    assert (tighter.low, tighter.high) == (45, 55)


def test_smoke_detectors_get_the_fire_rule_and_silence_is_three_intervals(
    facility: Facility,
) -> None:
    climate = rules_for(facility, "b201-th1")
    smoke = rules_for(facility, "b201-smoke1")
    assert climate.smoke is None
    assert climate.silence.after == timedelta(minutes=3)
    assert smoke.smoke is not None
    assert smoke.thresholds == ()
    assert smoke.silence.after == timedelta(minutes=15)


# --- pure threshold evaluation --------------------------------------------------------------


def test_a_temperature_above_the_limit_raises_with_room_value_and_limit(
    facility: Facility, clock: FakeClock
) -> None:
    rule = threshold(facility, "b201-th1", "temperature")
    active, events = evaluate_threshold(rule, False, 24.6, B2_01, clock.now())
    assert active is True
    (event,) = events
    assert event.transition is Transition.RAISE
    assert event.key == "temperature_limits:yunxi:b201-th1"
    assert (event.category, event.severity) == (Category.CLIMATE, Severity.MEDIUM)
    assert (event.site, event.room, event.sensor) == ("yunxi", "B2-01", "b201-th1")
    assert event.at == clock.now()
    assert event.value == 24.6
    assert event.message_zh == "B2-01 温度 24.6°C，高于上限 24°C"
    assert event.message_en == "Temperature 24.6°C in B2-01, above the limit of 24°C"


def test_a_humidity_below_the_limit_raises_with_the_lower_limit(
    facility: Facility, clock: FakeClock
) -> None:
    rule = threshold(facility, "b201-th1", "humidity")
    active, (event,) = evaluate_threshold(rule, False, 41.5, B2_01, clock.now())
    assert active is True
    assert event.key == "humidity_limits:yunxi:b201-th1"
    assert "B2-01" in event.message_zh
    assert "41.5%RH" in event.message_zh
    assert "低于下限 45%RH" in event.message_zh
    assert "B2-01" in event.message_en
    assert "41.5%RH" in event.message_en
    assert "below the limit of 45%RH" in event.message_en


@pytest.mark.parametrize("value", [14.0, 19.0, 24.0])
def test_values_inside_the_band_limits_included_raise_nothing(
    facility: Facility, clock: FakeClock, value: float
) -> None:
    rule = threshold(facility, "b201-th1", "temperature")
    assert evaluate_threshold(rule, False, value, B2_01, clock.now()) == (False, ())


def test_an_hour_of_flapping_at_the_limit_raises_one_alarm_and_clears_at_the_margin(
    facility: Facility, clock: FakeClock
) -> None:
    # peers.md pain point 1: a value hovering at the limit sent "~60 alerts in 4 hours".
    rule = threshold(facility, "b201-th1", "temperature")
    active = False
    events: list[AlarmEvent] = []
    for minute in range(60):
        value = 24.1 if minute % 2 == 0 else 23.9
        active, found = evaluate_threshold(rule, active, value, B2_01, clock.advance(60))
        events.extend(found)
    assert [e.transition for e in events] == [Transition.RAISE]
    assert active is True

    # Back inside the band, but not by the 0.5 °C margin yet: still one active alarm.
    for value in (24.0, 23.8, 23.6, 23.51):
        active, found = evaluate_threshold(rule, active, value, B2_01, clock.advance(60))
        assert (active, found) == (True, ())

    active, found = evaluate_threshold(rule, active, 23.5, B2_01, clock.advance(60))
    assert active is False
    (cleared,) = found
    assert cleared.transition is Transition.CLEAR
    assert cleared.key == events[0].key
    assert cleared.at == clock.now()
    assert cleared.message_en == "Back to normal in B2-01"


def test_a_low_alarm_clears_only_above_the_lower_limit_plus_margin(
    facility: Facility, clock: FakeClock
) -> None:
    rule = threshold(facility, "b201-th1", "humidity")
    active, _ = evaluate_threshold(rule, False, 44.0, B2_01, clock.now())
    assert evaluate_threshold(rule, active, 46.9, B2_01, clock.now()) == (True, ())
    active, (cleared,) = evaluate_threshold(rule, active, 47.0, B2_01, clock.now())
    assert active is False
    assert cleared.transition is Transition.CLEAR


def test_four_hours_of_flapping_end_to_end_leave_one_alarm_record(
    facility: Facility, clock: FakeClock, service: AlarmService
) -> None:
    line = Timeline(facility, clock, service)
    line.start()
    line.heartbeat()
    line.run(
        minutes=240,
        script=lambda m: {"b201-th1": {"temperature": 24.1 if m % 2 else 23.9, "humidity": 52.5}},
    )
    assert service.stats.changes == 1  # one RAISED, no repeats, no clear-and-raise-again
    store = service._store
    (alarm,) = store.list()
    assert alarm.key == "temperature_limits:yunxi:b201-th1"
    assert alarm.state is AlarmState.ACTIVE
    assert alarm.count == 1
    assert alarm.raised_at == line.origin + timedelta(minutes=1)


# --- smoke ----------------------------------------------------------------------------------


def test_one_smoke_detector_raises_one_critical_fire_alarm_at_once(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.run(minutes=5)
    clock.advance(timedelta(seconds=3))  # between two ticks: no sweep needed to raise
    smoke_at = clock.now()
    timeline.send("b201-smoke1", smoke=True)

    (fire,) = sink.events
    assert fire.transition is Transition.RAISE
    assert fire.key == "fire:yunxi:B2-01"
    assert (fire.category, fire.severity) == (Category.FIRE, Severity.CRITICAL)
    assert fire.at == smoke_at
    assert (fire.room, fire.sensor) == ("B2-01", "b201-smoke1")
    assert "B2-01" in fire.message_zh
    assert "火警" in fire.message_zh
    assert "b201-smoke1" in fire.message_en


def test_a_second_detector_in_the_room_adds_no_alarm_and_both_must_clear(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.send("b201-smoke1", smoke=True)
    clock.advance(20)
    timeline.send("b201-smoke2", smoke=True)  # the smoke spreads to the second detector
    clock.advance(20)
    timeline.send("b201-smoke1", smoke=True)  # a repeat from the first: still one alarm
    assert [e.transition for e in sink.events] == [Transition.RAISE]

    clock.advance(timedelta(minutes=10))
    timeline.send("b201-smoke1", smoke=False)
    assert len(sink.events) == 1, "one detector still sees smoke: the alarm must stay"

    clock.advance(timedelta(minutes=2))
    cleared_at = clock.now()
    timeline.send("b201-smoke2", smoke=False)
    raised, cleared = sink.events
    assert cleared.transition is Transition.CLEAR
    assert cleared.key == raised.key == "fire:yunxi:B2-01"
    assert cleared.at == cleared_at


def test_smoke_in_two_rooms_raises_one_alarm_per_room(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.send("b201-smoke1", smoke=True)
    timeline.send("b201-smoke2", smoke=True)
    timeline.send("b203-smoke2", smoke=True)
    assert [e.key for e in sink.events] == ["fire:yunxi:B2-01", "fire:yunxi:B2-03"]


def test_a_detector_reporting_no_smoke_raises_nothing(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.send("b201-smoke1", smoke=False)
    timeline.send("b201-smoke2", smoke=False)
    assert sink.events == []


# --- silent sensors -------------------------------------------------------------------------


def test_a_climate_sensor_silent_past_three_minutes_raises_one_trouble_alarm(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.heartbeat()  # 00:00 everyone reports
    timeline.run(minutes=3, quiet={"b201-th1"})  # 00:03:00: silent exactly 3 min
    assert sink.events == []

    timeline.step()  # 00:03:10
    (silent,) = sink.events
    assert silent.transition is Transition.RAISE
    assert silent.key == "sensor_silent:yunxi:b201-th1"
    assert silent.rule == "sensor_silent"
    assert (silent.category, silent.severity) == (Category.TROUBLE, Severity.LOW)
    assert silent.at == timeline.origin + timedelta(minutes=3) + TICK
    assert "b201-th1" in silent.message_zh
    assert "B2-01" in silent.message_en

    timeline.run(minutes=30, quiet={"b201-th1"})  # a long silence is still one alarm
    assert len(sink.events) == 1

    timeline.send("b201-th1", temperature=19.0, humidity=52.5)
    raised, cleared = sink.events
    assert cleared.transition is Transition.CLEAR
    assert cleared.key == raised.key
    assert cleared.at == clock.now()


def test_a_sensor_is_given_one_silence_period_of_grace_from_start(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # Nobody has reported since start(): climate and heat sensors (1 min) raise after 3 min,
    # the heartbeat sensors (5 min) only after 15.
    timeline.run(minutes=3, reporting=False)
    assert sink.events == []
    timeline.step()
    one_minute_kinds = {SensorKind.CLIMATE, SensorKind.HEAT}
    expected = {
        s.id
        for s in timeline.facility.all_sensors()
        if s.kind in one_minute_kinds and s.site == SITE
    }
    assert {e.sensor for e in sink.events} == expected
    assert all(e.transition is Transition.RAISE for e in sink.events)


def test_a_last_will_offline_raises_at_once_and_a_reading_clears_it(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.heartbeat()
    clock.advance(7)
    offline_at = clock.now()
    timeline.presence("b202-door", online=False)
    (offline,) = sink.events
    assert offline.transition is Transition.RAISE
    assert offline.key == "sensor_silent:yunxi:b202-door"
    assert offline.severity is Severity.LOW
    assert offline.at == offline_at
    assert offline.value == "offline"

    # The silence timer must not raise the same condition a second time.
    timeline.run(minutes=20, quiet={"b202-door"})
    assert len(sink.events) == 1

    timeline.presence("b202-door", online=True)
    assert [e.transition for e in sink.events] == [Transition.RAISE, Transition.CLEAR]


def test_a_broker_outage_raises_no_silence_alarms_and_then_grants_fresh_grace(
    facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    # peers.md pain point 2: one data-source outage must not set off every rule.
    healthy = True
    line = Timeline(facility, clock, sink, input_healthy=lambda: healthy)
    line.start()
    line.run(minutes=10)
    assert len(line.sensors) == 41
    assert sink.events == []

    healthy = False  # the broker goes down: nothing arrives for 20 minutes
    line.run(minutes=20, reporting=False)
    assert sink.events == [], "an outage of the input must not look like 41 silent sensors"

    healthy = True  # back: the climate sensor b201-th1 and the dust sensor stay dead
    line.step()  # the first sweep after the outage notices the input is healthy again
    recovered = clock.now()
    dead = {"b201-th1", "b203-dust"}
    line.run(minutes=3, quiet=dead)
    assert sink.events == [], "every sensor gets a fresh grace period after the outage"

    line.step()
    (th1,) = sink.events
    assert th1.key == "sensor_silent:yunxi:b201-th1"
    assert th1.at == recovered + timedelta(minutes=3) + TICK

    line.run(minutes=11, quiet=dead)
    for _ in range(5):
        line.step()
    assert clock.now() == recovered + timedelta(minutes=15)  # the dust sensor's 3 × 5 min
    assert [e.sensor for e in sink.events] == ["b201-th1"]
    line.step()
    assert [e.sensor for e in sink.events] == ["b201-th1", "b203-dust"]


# --- the engine -----------------------------------------------------------------------------


def test_readings_for_unknown_sensors_are_ignored(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    facility = timeline.facility
    strangers = [
        reading(facility, "b201-th9", clock.now(), {"temperature": 40.0, "humidity": 90.0}),
        reading(facility, "b201-smoke1", clock.now(), {"smoke": True}, site="elsewhere"),
    ]
    timeline.engine.on_readings(strangers, [])
    assert sink.events == []
    assert timeline.engine.stats.events == 0


def test_a_night_of_hvac_failure_raises_one_humidity_alarm_per_sensor_at_the_crossing(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # B2-01, paper stack (45-60 %RH): the HVAC fails at midnight and RH climbs 1 % every
    # 10 minutes from 52 % for three hours, i.e. 0.1 % per one-minute reading.
    def night(minute: int) -> dict[str, dict[str, object]]:
        rh = round(52 + minute / 10, 1)
        return {
            "b201-th1": {"temperature": 20.0, "humidity": rh},
            "b201-th2": {"temperature": 20.2, "humidity": rh},
        }

    timeline.run(minutes=180, script=night)
    crossing = timeline.origin + timedelta(minutes=81)  # the first reading above 60: 60.1
    th1 = sink.about("humidity_limits:yunxi:b201-th1")
    assert len(th1) == 1
    assert th1[0].transition is Transition.RAISE
    assert th1[0].at == crossing
    assert th1[0].value == 60.1
    assert "60.1%RH" in th1[0].message_en
    assert "above the limit of 60%RH" in th1[0].message_en
    # Nothing else in the whole site: no repeats while RH kept climbing to 70 %, no silence.
    # Climate alarms are per sensor, so the room's second sensor raises its own.
    assert [(e.key, e.at) for e in sink.events] == [
        ("humidity_limits:yunxi:b201-th1", crossing),
        ("humidity_limits:yunxi:b201-th2", crossing),
    ]


def test_a_reading_carrying_temperature_and_humidity_is_judged_on_both(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.send("b204-th1", temperature=21.0, humidity=58.0)  # special: 14-20 °C, 45-55 %
    assert [e.key for e in sink.events] == [
        "temperature_limits:yunxi:b204-th1",
        "humidity_limits:yunxi:b204-th1",
    ]


def race(work: Callable[[], None], background: Callable[[], None]) -> None:
    """Run ``work`` once while another thread repeats ``background``; re-raise any error."""
    errors: list[BaseException] = []
    done = threading.Event()

    def main() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def loop() -> None:
        try:
            while not done.is_set():
                background()
        except BaseException as exc:
            errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # make the two threads interleave as often as possible
    try:
        threads = [threading.Thread(target=main), threading.Thread(target=loop)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        sys.setswitchinterval(switch)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    if errors:
        raise errors[0]


def test_the_engine_is_safe_from_a_reading_thread_and_a_tick_thread(
    facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    # No start(): the reading thread adds sensors to the timers while the tick thread
    # sweeps them. The clock stands still, so the sweep itself finds no silent sensor.
    engine = RulesEngine(facility, sink, clock)
    sensors = sorted((s for s in facility.all_sensors() if s.site == SITE), key=lambda s: s.id)
    rounds = 200

    def values(sensor: SensorInfo, i: int) -> dict[str, object]:
        normal = normal_values(facility, sensor)
        if i % 2 and sensor.kind is SensorKind.CLIMATE:  # hot on odd rounds
            limit = facility.rooms[(SITE, sensor.room)].limits.temperature.max
            return normal | {"temperature": limit + 1}
        return normal

    batches = [
        [reading(facility, s.id, clock.now(), values(s, i)) for s in sensors] for i in range(rounds)
    ]
    door = facility.sensors[(SITE, "b301-door")]

    def readings() -> None:
        for i, batch in enumerate(batches):
            engine.on_readings(batch, [])
            if i % 10 in (5, 6):  # the door's gateway drops off and comes back
                update = PresenceUpdate(SITE, door.room, door.id, i % 10 == 6, clock.now())
                engine.on_readings([], [update])

    race(readings, engine.tick)

    assert engine.stats.readings == rounds * len(sensors)
    assert engine.stats.sweeps > 0
    assert engine.stats.events == len(sink.events)
    climate = [s.id for s in sensors if s.kind is SensorKind.CLIMATE]
    for sensor in climate:
        temps = [e.transition for e in sink.about(f"temperature_limits:yunxi:{sensor}")]
        assert temps == [Transition.RAISE, Transition.CLEAR] * (rounds // 2 - 1) + [
            Transition.RAISE
        ], sensor
    offline = [e.transition for e in sink.about("sensor_silent:yunxi:b301-door")]
    assert offline == [Transition.RAISE, Transition.CLEAR] * (rounds // 10)
    assert len(sink.events) == len(climate) * (rounds - 1) + 2 * (rounds // 10)


def test_sensors_first_heard_during_a_recovery_sweep_do_not_break_the_tick(
    clock: FakeClock, sink: RecordingSink
) -> None:
    # After an input outage the sweep walks every silence timer while the reading thread
    # keeps adding timers for sensors heard for the first time (no start() here).
    facility = large_facility(rooms=100, climate_sensors_per_room=40)
    states = iter([True, False] * 1_000_000)  # the input flaps: every other sweep recovers
    engine = RulesEngine(facility, sink, clock, input_healthy=lambda: next(states))
    first_readings = [
        reading(facility, s.id, clock.now(), normal_values(facility, s))
        for s in facility.all_sensors()
    ]

    def readings() -> None:
        for r in first_readings:
            engine.on_readings([r], [])

    race(readings, engine.tick)
    assert engine.stats.readings == len(first_readings) == 4000
    assert sink.events == []


class _GateSink:
    """Holds the tick thread's publish until the reading thread has published its own."""

    def __init__(self, inner: AlarmSink) -> None:
        self.inner = inner
        self.raise_computed = threading.Event()
        self.reading_done = threading.Event()

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        if any(e.transition is Transition.RAISE for e in events):
            self.raise_computed.set()
            self.reading_done.wait(timeout=2)
        self.inner.publish(events)


def test_a_reading_racing_the_silence_sweep_does_not_leave_a_stuck_alarm(
    facility: Facility, clock: FakeClock, service: AlarmService
) -> None:
    gate = _GateSink(service)
    engine = RulesEngine(facility, gate, clock)
    engine.start()
    clock.advance(timedelta(minutes=3) + TICK)

    sweeper = threading.Thread(target=engine.tick)
    sweeper.start()
    assert gate.raise_computed.wait(timeout=5)
    # The sweep has decided b201-th1 is silent; its SQLite write is slow. A reading arrives.
    late = reading(facility, "b201-th1", clock.now(), {"temperature": 19.0, "humidity": 52.5})
    engine.on_readings([late], [])
    gate.reading_done.set()
    sweeper.join(timeout=5)

    active = service._store.active_keys()
    assert "sensor_silent:yunxi:b201-th1" not in active, "the sensor reports, yet alarms as silent"


def test_the_reading_helper_keeps_the_raw_message(facility: Facility, clock: FakeClock) -> None:
    r = reading(facility, "b201-th1", clock.now(), {"temperature": 20.5, "note": "x"})
    assert r.room == "B2-01"
    assert r.raw == b'{"temperature": 20.5, "note": "x"}'
    assert r.payload == ReadingPayload.model_validate({"temperature": 20.5, "note": "x"})
    assert r.ts == r.received_at == clock.now()
