"""The rules engine as incident timelines on a fake clock: what it compiles, what it raises.

Every test asserts the exact alarm events (keys and transitions, in order), not "at least".
The rule families themselves are tested one by one in tests/test_rule_*.py; here they run
together, fed and swept by the engine, with the defaults of rules/defaults.py.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.models import AlarmState
from alerts.service import AlarmService
from alerts.store import AlarmStore, create_state_engine
from rules.compile import compile_rules
from rules.config import RuleFile
from rules.engine import RulesEngine
from rules.persistence import MemoryStateStore
from rules.threshold import ThresholdRule
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, AlarmSink, Category, Severity, Transition
from sensors.facility import Facility, FacilityConfig, SensorKind
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

RAISE, CLEAR = Transition.RAISE, Transition.CLEAR


def compiled(facility: Facility, sensor: str, rules: RuleFile | None = None) -> dict[str, Any]:
    """Rule id → compiled rule, in evaluation order, for one sensor."""
    slot = compile_rules(facility, rules).slots[(SITE, sensor)]
    return {cell.key.partition(":")[0]: rule for rule, _, cell, _ in slot.evaluators}


def threshold(facility: Facility, sensor: str, rule_id: str) -> ThresholdRule:
    rule = compiled(facility, sensor)[rule_id]
    assert isinstance(rule, ThresholdRule)
    return rule


def only(sensor: str, values: dict[str, object]) -> Callable[[int], dict[str, dict[str, object]]]:
    """A script: ``sensor`` reports ``values`` every minute, everyone else normal values."""
    return lambda _minute: {sensor: values}


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def timeline(facility: Facility, clock: FakeClock, sink: RecordingSink) -> Timeline:
    line = Timeline(facility, clock, sink)
    line.start()
    return line


@pytest.fixture
def service(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[AlarmService]:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    alarms = AlarmService(AlarmStore(engine), facility, clock)  # console only: no routing
    alarms.start(deliver=False)
    yield alarms
    engine.dispose()


# --- compiled rules -------------------------------------------------------------------------


def test_paper_stack_limits_come_from_its_room_class_with_clear_margins_and_delays(
    facility: Facility,
) -> None:
    t = threshold(facility, "b201-th1", "temperature_limits")
    rh = threshold(facility, "b201-th1", "humidity_limits")
    assert (t.raise_below, t.clear_above, t.clear_below, t.raise_above) == (14, 14.5, 23.5, 24)
    assert (t.raise_for, t.clear_for) == (timedelta(minutes=5), timedelta(0))
    assert (rh.raise_below, rh.clear_above, rh.clear_below, rh.raise_above) == (45, 47, 58, 60)
    assert (rh.raise_for, rh.clear_for) == (timedelta(minutes=10), timedelta(0))
    # B2-02 overrides its class's RH band in the facility file (an outside wall): 45-55.
    tighter = threshold(facility, "b202-th1", "humidity_limits")
    assert (tighter.raise_below, tighter.clear_above, tighter.clear_below) == (45, 47, 53)
    assert tighter.raise_above == 55


def test_each_sensor_kind_gets_its_default_rules_in_order(facility: Facility) -> None:
    assert list(compiled(facility, "b201-th1")) == [
        "clock_skew",
        "battery_low",
        "temperature_limits",
        "humidity_limits",
        "temperature_swing",
        "humidity_swing",
        "humidity_rise",
        "humidity_task",
        "stuck_value",
        "spike",
        "preservation",
        "condensation",
        "fire",
    ]
    assert list(compiled(facility, "b201-smoke1")) == ["clock_skew", "battery_low", "fire"]
    assert list(compiled(facility, "b203-heat")) == [
        "clock_skew",
        "battery_low",
        "spike",
        "condensation",
        "fire",
    ]
    door = ["clock_skew", "battery_low", "door_forced", "door_held_open", "after_hours_entry"]
    # 双人进库 is on by default only for special collections and film masters.
    assert list(compiled(facility, "b201-door")) == [*door, "denied_badges"]
    assert list(compiled(facility, "b204-door")) == [*door, "two_person", "denied_badges"]
    assert list(compiled(facility, "b303-door")) == [*door, "two_person", "denied_badges"]


def test_silence_is_three_intervals_of_each_sensor(facility: Facility) -> None:
    slots = compile_rules(facility).slots
    assert slots[(SITE, "b201-th1")].silence_after == timedelta(minutes=3)
    assert slots[(SITE, "b203-heat")].silence_after == timedelta(minutes=3)
    assert slots[(SITE, "b201-smoke1")].silence_after == timedelta(minutes=15)
    assert slots[(SITE, "b201-door")].silence_after == timedelta(minutes=15)


def test_room_level_rules_share_one_state_per_room(facility: Facility) -> None:
    rules = compile_rules(facility)
    smoke1 = {c.key: c for _, _, c, _ in rules.slots[(SITE, "b201-smoke1")].evaluators}
    th1 = {c.key: c for _, _, c, _ in rules.slots[(SITE, "b201-th1")].evaluators}
    assert smoke1["fire:yunxi:B2-01"] is th1["fire:yunxi:B2-01"]
    assert "temperature_limits:yunxi:b201-th1" in th1


# --- climate thresholds ---------------------------------------------------------------------


def test_a_temperature_above_the_limit_for_five_minutes_raises_with_value_and_limit(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # b201-th1's first reading (00:01) is already hot, so neither spike nor swing apply.
    timeline.run(minutes=5, script=only("b201-th1", {"temperature": 24.6}))
    assert sink.events == [], "00:01-00:05: the 5-minute delay runs"
    timeline.run(minutes=1, script=only("b201-th1", {"temperature": 24.6}))
    (event,) = sink.events
    assert event.transition is RAISE
    assert event.key == "temperature_limits:yunxi:b201-th1"
    assert (event.category, event.severity) == (Category.CLIMATE, Severity.MEDIUM)
    assert (event.site, event.room, event.sensor) == ("yunxi", "B2-01", "b201-th1")
    assert event.at == timeline.origin + timedelta(minutes=6)
    assert event.value == 24.6
    assert event.message_zh == "B2-01 温度 24.6 °C，高于上限 24 °C，已持续 5 分钟"
    assert event.message_en == "Temperature 24.6 °C in B2-01, above the limit of 24 °C for 5 min"


def test_a_humidity_below_the_limit_for_ten_minutes_raises_with_the_lower_limit(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.run(minutes=10, script=only("b201-th1", {"humidity": 41.5}))
    assert sink.events == []
    timeline.run(minutes=1, script=only("b201-th1", {"humidity": 41.5}))
    (event,) = sink.events
    assert (event.key, event.transition) == ("humidity_limits:yunxi:b201-th1", RAISE)
    assert event.at == timeline.origin + timedelta(minutes=11)
    assert event.message_zh == "B2-01 相对湿度 41.5 %RH，低于下限 45 %RH，已持续 10 分钟"
    assert event.message_en == (
        "Relative humidity 41.5 %RH in B2-01, below the limit of 45 %RH for 10 min"
    )


@pytest.mark.parametrize("value", [14.0, 19.0, 24.0])
def test_values_inside_the_band_limits_included_raise_nothing(
    timeline: Timeline, sink: RecordingSink, value: float
) -> None:
    timeline.run(minutes=20, script=only("b201-th1", {"temperature": value}))
    assert sink.events == []


def test_a_hot_room_flapping_at_the_limit_keeps_one_alarm_and_clears_at_the_margin(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # peers.md pain point 1: a value hovering at the limit sent "~60 alerts in 4 hours".
    timeline.run(minutes=6, script=only("b201-th1", {"temperature": 24.5}))  # raised 00:06
    timeline.run(  # 00:07-01:06 flapping 24.1 / 23.9 around the 24 °C limit
        minutes=60,
        script=lambda m: {"b201-th1": {"temperature": 24.1 if m % 2 else 23.9}},
    )
    # Inside the band, but not by the 0.5 °C margin: the alarm stands.
    for value in (24.0, 23.8, 23.6, 23.51):
        timeline.run(minutes=1, script=only("b201-th1", {"temperature": value}))
    assert sink.transitions() == [("temperature_limits:yunxi:b201-th1", RAISE)]

    timeline.run(minutes=1, script=only("b201-th1", {"temperature": 23.5}))  # 01:11
    raised, cleared = sink.events
    assert (cleared.key, cleared.transition) == (raised.key, CLEAR)
    assert raised.at == timeline.origin + timedelta(minutes=6)
    assert cleared.at == timeline.origin + timedelta(minutes=71)
    assert cleared.message_en == "Back to normal in B2-01"


def test_a_low_humidity_alarm_clears_only_above_the_lower_limit_plus_margin(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.run(minutes=11, script=only("b201-th1", {"humidity": 44.0}))  # raised at 00:11
    timeline.run(minutes=5, script=only("b201-th1", {"humidity": 46.9}))
    assert sink.transitions() == [("humidity_limits:yunxi:b201-th1", RAISE)]
    timeline.run(minutes=1, script=only("b201-th1", {"humidity": 47.0}))
    assert sink.transitions() == [
        ("humidity_limits:yunxi:b201-th1", RAISE),
        ("humidity_limits:yunxi:b201-th1", CLEAR),
    ]


def test_four_hours_of_flapping_end_to_end_leave_one_alarm_record(
    facility: Facility, clock: FakeClock, service: AlarmService
) -> None:
    line = Timeline(facility, clock, service)
    line.start()
    line.run(minutes=6, script=only("b201-th1", {"temperature": 24.6}))  # raised at 00:06
    line.run(
        minutes=240,
        script=lambda m: {"b201-th1": {"temperature": 24.1 if m % 2 else 23.9}},
    )
    assert service.stats.changes == 1  # one RAISED, no repeats, no clear-and-raise-again
    (alarm,) = service._store.list()
    assert alarm.key == "temperature_limits:yunxi:b201-th1"
    assert alarm.state is AlarmState.UNACKED
    assert alarm.count == 1
    assert alarm.raised_at == line.origin + timedelta(minutes=6)


def test_a_heartbeat_to_limit_jump_also_trips_spike_and_swing_but_not_the_limit(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # 19.0 °C (normal) at 00:00, then 24.1 / 23.9 every minute: a 5.1 °C jump in a minute
    # is a spike (> 5 °C), and 19.0 → 24.1 a day–night swing over 4 °C peak to peak. The
    # limit itself never raises: the value never stays above 24 °C for 5 minutes.
    timeline.heartbeat()
    timeline.run(
        minutes=30, script=lambda m: {"b201-th1": {"temperature": 24.1 if m % 2 else 23.9}}
    )
    assert sink.transitions() == [
        ("temperature_swing:yunxi:b201-th1", RAISE),
        ("spike:yunxi:b201-th1", RAISE),
        ("spike:yunxi:b201-th1", CLEAR),  # 00:02: 23.9 after 24.1 is a plausible step
    ]
    assert [e.at - timeline.origin for e in sink.events] == [
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=2),
    ]


def test_a_reading_carrying_temperature_and_humidity_is_judged_on_both(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # B2-04, special collections: 14-20 °C, 45-55 %RH.
    timeline.run(minutes=11, script=only("b204-th1", {"temperature": 21.0, "humidity": 58.0}))
    assert [(e.key, e.transition, e.at - timeline.origin) for e in sink.events] == [
        ("temperature_limits:yunxi:b204-th1", RAISE, timedelta(minutes=6)),
        ("humidity_limits:yunxi:b204-th1", RAISE, timedelta(minutes=11)),
    ]


def test_a_delay_that_runs_out_between_readings_raises_on_the_sweep(
    facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    # The dust sensor in B2-03 reports every 4 minutes; its 30-minute PM2.5 delay runs out
    # at 00:30, between the readings of 00:28 and 00:32: the sweep raises it on time.
    line = Timeline(facility, clock, sink)
    line.start()
    line.send("b203-dust", pm25=90.0)  # 00:00
    for k in range(1, 8):  # 00:04 ... 00:28
        line.run(minutes=4, quiet={"b203-dust"})
        line.send("b203-dust", pm25=90.0 + k)
    line.run(minutes=2, quiet={"b203-dust"})  # 00:30:00, the sweep after the heartbeat
    (event,) = sink.events
    assert (event.key, event.transition) == ("pm25_limit:yunxi:b203-dust", RAISE)
    assert event.at == line.origin + timedelta(minutes=30)
    assert event.value == 97.0  # the latest reading behind the running delay
    assert event.severity is Severity.LOW
    assert event.message_en == ("PM2.5 97 µg/m³ in B2-03, above the limit of 75 µg/m³ for 30 min")


# --- smoke ----------------------------------------------------------------------------------


def test_one_smoke_detector_raises_one_critical_fire_alarm_at_once(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.run(minutes=5)
    clock.advance(timedelta(seconds=3))  # between two sweeps: no sweep needed to raise
    smoke_at = clock.now()
    timeline.send("b201-smoke1", smoke=True)

    (fire,) = sink.events
    assert fire.transition is RAISE
    assert fire.key == "fire:yunxi:B2-01"
    assert fire.rule == "fire"
    assert (fire.category, fire.severity) == (Category.FIRE, Severity.CRITICAL)
    assert fire.at == smoke_at
    assert (fire.room, fire.sensor) == ("B2-01", "b201-smoke1")
    assert fire.message_zh == "B2-01 火警：烟感探测器 b201-smoke1 报警"
    assert fire.message_en == "Fire alarm in B2-01: smoke detector b201-smoke1"


def test_a_second_detector_confirms_the_fire_and_both_must_clear(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.send("b201-smoke1", smoke=True)
    clock.advance(20)
    timeline.send("b201-smoke2", smoke=True)  # the smoke reaches the second detector
    clock.advance(20)
    timeline.send("b201-smoke1", smoke=True)  # a repeat from the first: nothing new
    assert sink.transitions() == [
        ("fire:yunxi:B2-01", RAISE),
        ("fire_confirmed:yunxi:B2-01", RAISE),  # two independent detectors (GB 50116)
    ]

    clock.advance(timedelta(minutes=10))
    timeline.send("b201-smoke1", smoke=False)
    assert len(sink.events) == 2, "one detector still sees smoke: the alarms must stay"

    clock.advance(timedelta(minutes=2))
    cleared_at = clock.now()
    timeline.send("b201-smoke2", smoke=False)
    assert sink.transitions()[2:] == [
        ("fire_confirmed:yunxi:B2-01", CLEAR),
        ("fire:yunxi:B2-01", CLEAR),
    ]
    assert [e.at for e in sink.events[2:]] == [cleared_at, cleared_at]


def test_smoke_in_three_rooms_raises_one_alarm_per_room(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.send("b201-smoke1", smoke=True)
    timeline.send("b203-smoke2", smoke=True)
    timeline.send("b302-smoke", smoke=True)
    timeline.send("b201-smoke1", smoke=True)
    assert sink.transitions() == [
        ("fire:yunxi:B2-01", RAISE),
        ("fire:yunxi:B2-03", RAISE),
        ("fire:yunxi:B3-02", RAISE),
    ]


def test_a_detector_reporting_no_smoke_raises_nothing(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.send("b201-smoke1", smoke=False)
    timeline.send("b201-smoke2", smoke=False)
    timeline.run(minutes=10)
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
    assert silent.transition is RAISE
    assert silent.key == "sensor_silent:yunxi:b201-th1"
    assert silent.rule == "sensor_silent"
    assert (silent.category, silent.severity) == (Category.TROUBLE, Severity.LOW)
    assert silent.at == timeline.origin + timedelta(minutes=3) + TICK
    assert silent.message_zh == "B2-01 传感器 b201-th1 已 3 分钟无数据"
    assert silent.message_en == "Sensor b201-th1 in B2-01 silent for 3 min"

    timeline.run(minutes=30, quiet={"b201-th1"})  # a long silence is still one alarm
    assert len(sink.events) == 1

    timeline.send("b201-th1", temperature=19.0, humidity=52.5)
    assert sink.transitions() == [
        ("sensor_silent:yunxi:b201-th1", RAISE),
        ("sensor_silent:yunxi:b201-th1", CLEAR),
    ]
    assert sink.events[1].at == clock.now()


def test_a_sensor_is_given_one_silence_period_of_grace_from_start(
    timeline: Timeline, sink: RecordingSink
) -> None:
    # Nobody has reported since start(): climate and heat sensors (1 min) raise after 3 min,
    # the heartbeat sensors (5 min) only after 15.
    timeline.run(minutes=3, reporting=False)
    assert sink.events == []
    timeline.step()
    one_minute = [  # in the facility's order, as the sweep walks them
        s.id
        for s in timeline.facility.all_sensors()
        if s.kind in {SensorKind.CLIMATE, SensorKind.HEAT}
    ]
    assert sink.transitions() == [(f"sensor_silent:yunxi:{s}", RAISE) for s in one_minute]
    timeline.run(until=timeline.origin + timedelta(minutes=15), reporting=False)
    assert len(sink.events) == len(one_minute)
    timeline.step()  # 00:15:10
    assert len(sink.events) == len(timeline.sensors)
    assert {e.sensor for e in sink.events} == set(timeline.sensors)


def test_a_last_will_offline_raises_at_once_and_online_clears_it(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    timeline.heartbeat()
    clock.advance(7)
    offline_at = clock.now()
    timeline.presence("b202-door", online=False)
    (offline,) = sink.events
    assert offline.transition is RAISE
    assert offline.key == "sensor_silent:yunxi:b202-door"
    assert offline.severity is Severity.LOW
    assert offline.at == offline_at
    assert offline.value == "offline"
    assert offline.message_en == "Sensor b202-door in B2-02 reported offline"

    # The silence timer must not raise the same condition a second time.
    timeline.run(minutes=20, quiet={"b202-door"})
    assert len(sink.events) == 1

    timeline.presence("b202-door", online=True)
    assert sink.transitions() == [
        ("sensor_silent:yunxi:b202-door", RAISE),
        ("sensor_silent:yunxi:b202-door", CLEAR),
    ]


def test_a_broker_outage_raises_one_degraded_alarm_and_no_silence_alarms(
    facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    # peers.md pain point 2: one data-source outage must not set off every rule.
    line = Timeline(facility, clock, sink)
    line.start()
    line.run(minutes=10)
    assert len(line.sensors) == 41
    assert sink.events == []

    line.healthy = False  # 00:10 the broker goes down: nothing arrives for 20 minutes
    line.run(minutes=20, reporting=False)
    # The first sweep to find the input deaf is 00:10:10; 30 s later (strictly) it is
    # 00:10:50. One meta alarm for the site, not 41 silent sensors.
    (degraded,) = sink.events
    assert (degraded.key, degraded.transition) == ("monitoring_degraded:yunxi", RAISE)
    assert (degraded.category, degraded.severity) == (Category.SYSTEM, Severity.HIGH)
    assert (degraded.room, degraded.sensor) == (None, None)
    assert degraded.at == line.origin + timedelta(minutes=10, seconds=50)

    line.healthy = True  # back: the climate sensor b201-th1 and the dust sensor stay dead
    line.step()  # the first sweep after the outage notices the input is healthy again
    recovered = clock.now()
    assert sink.transitions()[1:] == [("monitoring_degraded:yunxi", CLEAR)]
    assert sink.events[1].at == recovered
    # Both last reported at 00:10:00, 10 s before the first deaf sweep; only time Lantai
    # listened counts: b201-th1's 3 minutes are up at 00:33:00 (10 s + 2 min 50 s).
    dead = {"b201-th1", "b203-dust"}
    line.run(until=recovered + timedelta(minutes=3) - TICK, quiet=dead)  # 00:33:00
    assert len(sink.events) == 2, "the outage is not counted as silence"

    line.step()  # 00:33:10, silent for more than 3 minutes of listening
    assert sink.transitions()[2:] == [("sensor_silent:yunxi:b201-th1", RAISE)]
    assert sink.events[2].at == recovered + timedelta(minutes=3)

    # The dust sensor reports every 5 minutes: 15 minutes of listening are up at 00:45:00.
    line.run(until=recovered + timedelta(minutes=15) - TICK, quiet=dead)
    assert len(sink.events) == 3
    line.step()  # 00:45:10
    assert sink.transitions()[3:] == [("sensor_silent:yunxi:b203-dust", RAISE)]


def _two_sites() -> Facility:
    def site(name: str) -> dict[str, object]:
        room = {
            "id": "R1",
            "name": {"zh": "库房", "en": "Stack"},
            "class": "paper",
            "sensors": [{"id": "th1", "kind": "climate"}],
        }
        floor = {"id": "F1", "name": {"zh": "一层", "en": "F1"}, "rooms": [room]}
        building = {"id": "main", "name": {"zh": "主馆", "en": "Main"}, "floors": [floor]}
        return {"id": name, "name": {"zh": name, "en": name}, "buildings": [building]}

    return Facility.compile(FacilityConfig.model_validate({"sites": [site("a"), site("b")]}))


def test_one_degraded_alarm_per_site_and_one_clear(clock: FakeClock, sink: RecordingSink) -> None:
    healthy = False
    engine = RulesEngine(_two_sites(), sink, clock, input_healthy=lambda: healthy)
    engine.start()
    for _ in range(12):  # two minutes of sweeps without input
        clock.advance(TICK)
        engine.tick()
    healthy = True
    clock.advance(TICK)
    engine.tick()
    assert sink.transitions() == [
        ("monitoring_degraded:a", RAISE),
        ("monitoring_degraded:b", RAISE),
        ("monitoring_degraded:a", CLEAR),
        ("monitoring_degraded:b", CLEAR),
    ]


def test_a_short_outage_raises_no_degraded_alarm(
    facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    # A reconnect takes a few seconds: three sweeps (00:05:10 - 00:05:30) find the input
    # deaf, the fourth finds it back. Under 30 s of deafness is not worth a page.
    line = Timeline(facility, clock, sink)
    line.start()
    line.run(minutes=5)
    line.healthy = False
    for _ in range(4):  # 00:05:10, :20, :30, :40 (30 s after the first: not "after 30 s")
        line.step()
    line.healthy = True
    line.run(minutes=10)
    assert sink.events == []


# --- the engine -----------------------------------------------------------------------------


def test_readings_for_unknown_sensors_are_ignored(
    timeline: Timeline, sink: RecordingSink, clock: FakeClock
) -> None:
    facility = timeline.facility
    strangers = [
        reading(facility, "b201-th9", clock.now(), {"temperature": 40.0, "humidity": 90.0}),
        reading(facility, "b201-smoke1", clock.now(), {"smoke": True}, site="elsewhere"),
    ]
    update = PresenceUpdate("elsewhere", "B2-01", "b201-smoke1", False, clock.now())
    timeline.engine.on_readings(strangers, [update])
    assert sink.events == []
    assert timeline.engine.stats.evaluations == 0
    assert timeline.engine.stats.alarm_events == 0
    assert timeline.engine.subject_of("elsewhere", "b201-smoke1") is None


def test_preservation_metrics_go_to_the_metric_sink_once_a_minute_per_room(
    timeline: Timeline, sink: RecordingSink
) -> None:
    timeline.heartbeat()  # 00:00 starts each room's accumulator
    timeline.run(minutes=3)
    rooms = sorted(r for (_, r) in timeline.facility.rooms)
    samples = sink.metrics
    assert len(samples) == 3 * len(rooms)  # two climate sensors in a room: still one sample
    assert sorted({s.room for s in samples}) == rooms
    b201 = next(s for s in samples if s.room == "B2-01")
    assert dict(b201.values)["temperature"] == 19.0
    assert dict(b201.values)["humidity"] == 52.5
    assert timeline.engine.stats.metrics == len(samples)
    assert sink.events == []
    assert sink.tasks == []


def test_the_engine_state_is_inspectable_by_cell_key(timeline: Timeline, clock: FakeClock) -> None:
    timeline.send("b201-th1", temperature=24.6, humidity=52.5)
    state = timeline.engine.state_of("temperature_limits:yunxi:b201-th1")
    assert (state.active, state.side, state.pending_since) == (False, "high", clock.now())
    assert timeline.engine.state_of("fire:yunxi:B2-01").raised is False
    with pytest.raises(KeyError):
        timeline.engine.state_of("temperature_limits:yunxi:b201-th9")


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
    # The clock stands still, so the sweeps find no silent sensor and no delay running
    # out; what they race with is the readings' RAISE/CLEAR of every sensor's battery.
    engine = RulesEngine(facility, sink, clock, state_store=MemoryStateStore())
    engine.start()
    sensors = sorted((s for s in facility.all_sensors() if s.site == SITE), key=lambda s: s.id)
    rounds = 200

    def values(i: int, normal: dict[str, object]) -> dict[str, object]:
        return normal | {"battery": 10.0 if i % 2 else 100.0}  # flat on odd rounds

    batches = [
        [
            reading(facility, s.id, clock.now(), values(i, normal_values(facility, s)))
            for s in sensors
        ]
        for i in range(rounds)
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
    assert engine.stats.alarm_events == len(sink.events)
    for sensor in sensors:
        battery = [e.transition for e in sink.about(f"battery_low:yunxi:{sensor.id}")]
        assert battery == [RAISE, CLEAR] * (rounds // 2 - 1) + [RAISE], sensor.id
    # Offline at round 5, heard again by its reading of round 6, and so on.
    offline = [e.transition for e in sink.about("sensor_silent:yunxi:b301-door")]
    assert offline == [RAISE, CLEAR] * (rounds // 10)
    assert len(sink.events) == len(sensors) * (rounds - 1) + 2 * (rounds // 10)


def test_readings_during_flapping_recovery_sweeps_do_not_break_the_tick(
    clock: FakeClock, sink: RecordingSink
) -> None:
    # After an input outage the sweep walks every silence timer while the reading thread
    # keeps updating them; the input flaps, so every other sweep is a recovery.
    facility = large_facility(rooms=50, climate_sensors_per_room=40)
    states = iter([True, False] * 1_000_000)
    engine = RulesEngine(facility, sink, clock, input_healthy=lambda: next(states))
    engine.start()
    first_readings = [
        reading(facility, s.id, clock.now(), normal_values(facility, s))
        for s in facility.all_sensors()
    ]

    def readings() -> None:
        for r in first_readings:
            engine.on_readings([r], [])

    race(readings, engine.tick)
    assert engine.stats.readings == len(first_readings) == 2000
    assert sink.events == []


class _GateSink:
    """Holds the sweep's publish of its RAISE until the test opens the gate."""

    def __init__(self, inner: AlarmSink) -> None:
        self.inner = inner
        self.raise_computed = threading.Event()
        self.gate = threading.Event()

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        if any(e.transition is RAISE for e in events):
            self.raise_computed.set()
            self.gate.wait(timeout=5)
        self.inner.publish(events)


def _wait_for(condition: Callable[[], bool]) -> None:
    """Wait (for another thread, not for simulated time) until ``condition`` holds."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def test_a_reading_racing_the_silence_sweep_does_not_leave_a_stuck_alarm(
    facility: Facility, clock: FakeClock, service: AlarmService
) -> None:
    record = RecordingSink()

    class _Both:
        def publish(self, events: Sequence[AlarmEvent]) -> None:
            record.publish(events)
            service.publish(events)

    gate = _GateSink(_Both())
    engine = RulesEngine(facility, gate, clock)
    engine.start()
    clock.advance(timedelta(minutes=3) + TICK)

    sweeper = threading.Thread(target=engine.tick)
    sweeper.start()
    assert gate.raise_computed.wait(timeout=5)
    # The sweep has decided every climate sensor is silent; its SQLite writes are slow.
    # b201-th1's reading arrives and is judged meanwhile: its CLEAR must not overtake.
    late = reading(facility, "b201-th1", clock.now(), {"temperature": 19.0, "humidity": 52.5})
    reader = threading.Thread(target=engine.on_readings, args=([late], []))
    reader.start()
    _wait_for(lambda: engine.stats.readings == 1)
    gate.gate.set()
    sweeper.join(timeout=5)
    reader.join(timeout=5)
    assert not sweeper.is_alive()
    assert not reader.is_alive()

    th1 = record.about("sensor_silent:yunxi:b201-th1")
    assert [e.transition for e in th1] == [RAISE, CLEAR]
    active = service._store.active_keys()
    assert "sensor_silent:yunxi:b201-th1" not in active, "the sensor reports, yet alarms as silent"
    assert len(active) == 14  # the other one-minute sensors are silent indeed


class _SaveFirst:
    """The engine's state lock as the scheduler thread wins it: ``save()`` runs first.

    It reproduces one interleaving deterministically: the reading thread has entered
    ``on_readings`` and is about to take the lock when the scheduler's snapshot takes it.
    """

    def __init__(self, engine: RulesEngine) -> None:
        self.real = engine._lock
        self.engine = engine
        self.armed = True

    def __enter__(self) -> None:
        if self.armed:
            self.armed = False
            self.engine.save()
        self.real.acquire()

    def __exit__(self, *exc: object) -> None:
        self.real.release()


def test_a_state_changed_while_a_snapshot_is_taken_is_still_persisted(
    facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    store = MemoryStateStore()
    engine = RulesEngine(facility, sink, clock, state_store=store)
    engine.start()
    engine._lock = _SaveFirst(engine)  # type: ignore[assignment]
    wet = reading(facility, "b201-leak", clock.now(), {"water_leak": True})
    engine.on_readings([wet], [])
    engine.stop()

    clock.advance(TICK)
    restarted = RulesEngine(facility, sink, clock, state_store=store)
    restarted.start()
    dry = reading(facility, "b201-leak", clock.now(), {"water_leak": False})
    restarted.on_readings([dry], [])
    assert sink.transitions() == [
        ("water_leak:yunxi:b201-leak", RAISE),
        ("water_leak:yunxi:b201-leak", CLEAR),
    ]


def test_the_reading_helper_keeps_the_raw_message(facility: Facility, clock: FakeClock) -> None:
    r = reading(facility, "b201-th1", clock.now(), {"temperature": 20.5, "note": "x"})
    assert r.room == "B2-01"
    assert r.raw == b'{"temperature": 20.5, "note": "x"}'
    assert r.payload == ReadingPayload.model_validate({"temperature": 20.5, "note": "x"})
    assert r.ts == r.received_at == clock.now()
