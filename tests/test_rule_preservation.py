"""The preservation rule over days of stack climate: TWPI, the mold index and their alarms."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pydantic
import pytest

from rules.base import Subject
from rules.kinds import Level, Outputs, Target
from rules.preservation import dew_point, emc, preservation_index
from rules.preservation_rule import (
    PRESERVATION_INITIAL,
    PRESERVATION_KIND,
    PreservationConfig,
    PreservationRule,
    PreservationState,
    evaluate_preservation,
)
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, MetricSample, Severity, Transition
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

SITE, ROOM = "yunxi", "B2-03"
START = datetime(2026, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def target(facility: Facility) -> Target:
    return rule_target(facility, "b203-th1")


class Stack:
    """B2-03's climate sensors feeding one room-level preservation rule."""

    def __init__(self, clock: FakeClock, rule: PreservationRule) -> None:
        self.clock, self.rule, self.state = clock, rule, PRESERVATION_INITIAL
        self.alarms: list[AlarmEvent] = []
        self.samples: list[MetricSample] = []

    def send(self, t: float, rh: float, sensor: str = "b203-th1") -> Outputs:
        now = self.clock.now()
        values = {"temperature": t, "humidity": rh}
        payload = ReadingPayload.model_validate(values)
        reading = Reading(SITE, ROOM, sensor, now, now, payload, raw=json.dumps(values).encode())
        self.state, outputs = evaluate_preservation(
            self.rule, self.state, reading, Subject(SITE, ROOM, sensor), now
        )
        self.alarms += [o for o in outputs if isinstance(o, AlarmEvent)]
        self.samples += [o for o in outputs if isinstance(o, MetricSample)]
        return outputs

    def hold(self, t: float, rh: float, duration: timedelta, every: timedelta) -> None:
        """Readings every ``every`` for ``duration``, the first at the current time."""
        end = self.clock.now() + duration
        while self.clock.now() < end:
            self.send(t, rh)
            self.clock.advance(every)


@pytest.fixture
def stack(clock: FakeClock, facility: Facility) -> Stack:
    clock.set(START)
    config = PreservationConfig.model_validate({"id": "preservation", "type": "preservation"})
    return Stack(clock, config.compile(target(facility)))


def test_compiles_from_a_rule_entry_and_registers(facility: Facility) -> None:
    config = PreservationConfig.model_validate(
        {"id": "preservation", "type": "preservation", "step": "5m", "twpi_window": "14d"}
    )
    compiled = config.compile(target(facility))
    assert (compiled.step, compiled.twpi_window) == (timedelta(minutes=5), timedelta(days=14))
    assert (compiled.max_step, compiled.twpi_min_span) == (3600, 7 * 86_400)
    assert (compiled.twpi_below, compiled.mold_raise, compiled.mold_clear) == (45, 0.5, 0.25)
    assert (compiled.mold.rule_id, compiled.mold.severity) == ("mold_risk", Severity.MEDIUM)
    assert (compiled.twpi.rule_id, compiled.twpi.severity) == ("twpi_low", Severity.LOW)
    assert PreservationConfig.level is Level.ROOM
    assert PreservationConfig.applies_to == {SensorKind.CLIMATE}
    kind = PRESERVATION_KIND
    assert (kind.type, kind.config, kind.state) == (
        "preservation",
        PreservationConfig,
        PreservationState,
    )
    assert kind.initial is PRESERVATION_INITIAL
    assert kind.evaluate is evaluate_preservation
    assert kind.tick is None
    with pytest.raises(pydantic.ValidationError):
        PreservationConfig.model_validate(
            {"id": "preservation", "type": "preservation", "mold_clear": 0.6}
        )


def test_the_state_round_trips(stack: Stack) -> None:
    stack.hold(20.0, 80.0, 2 * DAY, timedelta(hours=1))
    assert len(stack.state.days) == 2
    adapter = pydantic.TypeAdapter(PreservationState)
    for state in (PRESERVATION_INITIAL, stack.state):
        dumped = adapter.dump_python(state, mode="json")
        assert json.loads(json.dumps(dumped)) == dumped
        assert adapter.validate_python(dumped) == state
    assert stack.state.days[0][0] == date(2026, 5, 1)


def test_a_metric_sample_once_per_step(stack: Stack) -> None:
    assert stack.send(20.0, 50.0) == ()  # the first reading only starts the clock
    for _ in range(15):  # five minutes of readings every 20 s, from two sensors
        stack.clock.advance(10)
        stack.send(20.0, 50.0, "b203-th2")
        stack.clock.advance(10)
        stack.send(20.1, 50.0)
    assert [s.at for s in stack.samples] == [START + timedelta(minutes=m) for m in range(1, 6)]
    sample = stack.samples[0]
    assert (sample.site, sample.room) == (SITE, ROOM)
    values = dict(sample.values)
    assert list(values) == [
        "temperature",
        "humidity",
        "dew_point",
        "pi",
        "twpi",
        "emc",
        "mold_index",
    ]
    t, rh = values["temperature"], values["humidity"]
    assert values["dew_point"] == pytest.approx(dew_point(t, rh))
    assert values["pi"] == pytest.approx(preservation_index(t, rh))
    assert values["emc"] == pytest.approx(emc(t, rh))
    assert values["twpi"] == pytest.approx(values["pi"])  # one step so far
    assert values["mold_index"] == 0


def mold_alarms(stack: Stack) -> list[AlarmEvent]:
    """The mold alarms only: air this damp is also a poor TWPI (PI 20 at 20 °C / 80 %)."""
    return [a for a in stack.alarms if a.rule == "mold_risk"]


def test_ten_damp_days_raise_mold_risk(stack: Stack) -> None:
    # 20 °C / 80 %: germination in about 13.5 days (§4.4), so half the index by day ~6.8.
    stack.hold(20.0, 80.0, 10 * DAY, timedelta(minutes=10))
    (alarm,) = mold_alarms(stack)
    assert (alarm.key, alarm.rule, alarm.transition) == (
        "mold_risk:yunxi:B2-03",
        "mold_risk",
        Transition.RAISE,
    )
    assert (alarm.category, alarm.severity, alarm.sensor) == (
        Category.CLIMATE,
        Severity.MEDIUM,
        None,
    )
    assert START + timedelta(days=6.6) < alarm.at < START + timedelta(days=7)
    assert alarm.message_zh.startswith("B2-03 霉变风险：霉菌指数 0.50")
    assert alarm.message_en.startswith("Mold risk in B2-03: mold index 0.50")
    assert stack.state.mold_index == pytest.approx(10 / 13.53, rel=0.01)
    # The dehumidifier is repaired: the index decays at 1/30 a day and clears under 0.25.
    stack.hold(20.0, 50.0, 20 * DAY, timedelta(minutes=30))
    _, clear = mold_alarms(stack)
    assert (clear.key, clear.transition) == ("mold_risk:yunxi:B2-03", Transition.CLEAR)
    assert START + timedelta(days=24) < clear.at < START + timedelta(days=26)


def test_a_warm_humid_week_raises_twpi_low(stack: Stack) -> None:
    # 24 °C / 60 %, the JGJ upper corner: PI 21 years (§4.1), "poor" as a TWPI.
    stack.hold(24.0, 60.0, 8 * DAY, timedelta(minutes=10))
    (alarm,) = stack.alarms
    assert (alarm.key, alarm.rule, alarm.severity) == (
        "twpi_low:yunxi:B2-03",
        "twpi_low",
        Severity.LOW,
    )
    assert alarm.at == START + 7 * DAY  # once seven days of data exist
    assert alarm.value == pytest.approx(21.1, abs=0.1)
    assert alarm.message_en == (
        "Poor preservation climate in B2-03: TWPI 21 years over 7 days (below 45)"
    )
    # Cooler and drier again: TWPI climbs back over 47 only when the damp week ages out.
    stack.hold(14.0, 45.0, 30 * DAY, timedelta(hours=1))
    assert stack.alarms[-1].transition is Transition.CLEAR


def test_a_paper_stack_in_good_order_raises_nothing(stack: Stack) -> None:
    stack.hold(18.0, 50.0, 10 * DAY, timedelta(minutes=10))
    assert stack.alarms == []
    values = dict(stack.samples[-1].values)
    assert values["twpi"] == pytest.approx(57.3, abs=0.1)
    assert values["mold_index"] == 0
    assert len(stack.samples) == 10 * 24 * 6 - 1


def test_a_long_gap_weighs_one_hour_and_old_days_roll_out(stack: Stack) -> None:
    stack.send(18.0, 50.0)
    stack.clock.advance(3 * DAY)  # the gateway was down over a long weekend
    stack.send(30.0, 90.0)
    ((day, seconds, inverse),) = stack.state.days
    assert (day, seconds) == (date(2026, 5, 4), 3600.0)
    assert inverse == pytest.approx(3600.0 / preservation_index(30.0, 90.0))
    stack.hold(18.0, 50.0, 40 * DAY, timedelta(hours=2))
    assert len(stack.state.days) == 31
    last = stack.state.at
    assert last is not None
    assert stack.state.days[0][0] == (last - 30 * DAY).date()


def test_readings_within_a_step_keep_the_same_state(stack: Stack) -> None:
    stack.send(18.0, 50.0)
    state = stack.state
    for _ in range(5):
        stack.clock.advance(10)
        assert stack.send(18.0, 50.0) == ()
        assert stack.state is state
