"""Inspection tasks: a damp paper stack (B2-03, class max 60 % RH) asks the guard to check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from rules.base import Subject
from rules.kinds import Level, Outputs, Target
from rules.tasks import (
    TASK_INITIAL,
    TASK_KIND,
    TaskConfig,
    TaskRule,
    TaskState,
    evaluate_task,
    tick_task,
)
from sensors.clock import FakeClock
from sensors.events import TaskRequest
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.conftest import rule_target

SITE, ROOM, SENSOR = "yunxi", "B2-03", "b203-th1"
SUBJECT = Subject(SITE, ROOM, SENSOR)
START = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: plum-rain season
ENTRY = {"id": "humidity_task", "type": "task", "field": "humidity"}


def target(facility: Facility) -> Target:
    return rule_target(facility, SENSOR)


def tasks(outputs: Outputs) -> list[TaskRequest]:
    assert all(isinstance(o, TaskRequest) for o in outputs)
    return [o for o in outputs if isinstance(o, TaskRequest)]


class Sensor:
    def __init__(self, clock: FakeClock, rule: TaskRule) -> None:
        self.clock, self.rule, self.state = clock, rule, TASK_INITIAL
        self.tasks: list[TaskRequest] = []

    def send(self, **values: object) -> list[TaskRequest]:
        now = self.clock.now()
        payload = ReadingPayload.model_validate(values)
        reading = Reading(SITE, ROOM, SENSOR, now, now, payload, raw=json.dumps(values).encode())
        self.state, outputs = evaluate_task(self.rule, self.state, reading, SUBJECT, now)
        found = tasks(outputs)
        self.tasks.extend(found)
        return found

    def tick(self) -> list[TaskRequest]:
        self.state, outputs = tick_task(self.rule, self.state, SUBJECT, self.clock.now())
        found = tasks(outputs)
        self.tasks.extend(found)
        return found

    def humid_for(self, duration: timedelta, rh: float = 62.0) -> None:
        """A reading every 10 minutes covering ``duration`` (its last one at the end)."""
        steps = int(duration / timedelta(minutes=10))
        for i in range(steps + 1):
            if i:
                self.clock.advance(timedelta(minutes=10))
            self.send(temperature=21.0, humidity=rh)


@pytest.fixture
def sensor(clock: FakeClock, facility: Facility) -> Sensor:
    clock.set(START)
    return Sensor(clock, TaskConfig.model_validate(ENTRY).compile(target(facility)))


def test_compiles_from_a_rule_entry_with_the_class_limit(facility: Facility) -> None:
    compiled = TaskConfig.model_validate(ENTRY).compile(target(facility))
    assert (compiled.field, compiled.above, compiled.below) == ("humidity", 60, None)
    assert compiled.hold == timedelta(hours=2)
    assert compiled.role == "guard"
    assert compiled.title_en.format(room=ROOM) == "Check the dehumidifier in B2-03"
    assert TaskConfig.level is Level.SENSOR
    assert TaskConfig.applies_to == {SensorKind.CLIMATE}
    assert (TASK_KIND.type, TASK_KIND.config, TASK_KIND.state) == ("task", TaskConfig, TaskState)
    assert TASK_KIND.initial is TASK_INITIAL
    assert TASK_KIND.evaluate is evaluate_task
    assert TASK_KIND.tick is tick_task

    explicit = TaskConfig.model_validate(
        {
            **ENTRY,
            "field": "temperature",
            "below": 12,
            "for": "30m",
            "title_zh": "检查 {room} 供暖",
            "title_en": "Check the heating of {room}",
            "role": "stack_manager",
        }
    ).compile(target(facility))
    assert (explicit.above, explicit.below, explicit.hold) == (None, 12, timedelta(minutes=30))
    assert (explicit.title_zh, explicit.role) == ("检查 {room} 供暖", "stack_manager")

    adapter = pydantic.TypeAdapter(TaskState)
    for state in (TASK_INITIAL, TaskState(since=START, asked=True)):
        dumped = adapter.dump_python(state, mode="json")
        assert json.loads(json.dumps(dumped)) == dumped
        assert adapter.validate_python(dumped) == state


@pytest.mark.parametrize(
    "entry",
    [
        {**ENTRY, "use_class_limit": False},
        {**ENTRY, "above": 50, "below": 55},
        {**ENTRY, "title_en": "Check {dehumidifier}"},
        {**ENTRY, "field": "lux"},
        {**ENTRY, "for": "0s"},
    ],
)
def test_bad_entries_are_refused(entry: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        TaskConfig.model_validate(entry)


def test_two_hours_of_damp_air_ask_the_guard_once(sensor: Sensor) -> None:
    sensor.humid_for(timedelta(hours=1, minutes=50))
    assert sensor.tasks == []
    sensor.clock.advance(timedelta(minutes=10))
    (task,) = sensor.send(temperature=21.0, humidity=62.5)
    assert task == TaskRequest(
        key="task:humidity_task:yunxi:B2-03",
        rule="humidity_task",
        site=SITE,
        room=ROOM,
        at=START + timedelta(hours=2),
        title_zh="检查 B2-03 除湿机",
        title_en="Check the dehumidifier in B2-03",
        role="guard",
    )
    sensor.humid_for(timedelta(hours=3))
    assert sensor.tick() == []
    assert len(sensor.tasks) == 1


def test_one_hour_fifty_is_not_enough(sensor: Sensor) -> None:
    sensor.humid_for(timedelta(hours=1, minutes=50))
    sensor.clock.advance(timedelta(minutes=10))
    assert sensor.send(temperature=21.0, humidity=58.0) == []  # the dehumidifier caught up
    sensor.clock.advance(timedelta(hours=1))
    assert sensor.tick() == []
    assert sensor.tasks == []
    assert sensor.state is TASK_INITIAL


def test_a_second_excursion_after_recovery_asks_again(sensor: Sensor) -> None:
    sensor.humid_for(timedelta(hours=2))
    assert len(sensor.tasks) == 1
    sensor.clock.advance(timedelta(minutes=10))
    sensor.send(temperature=21.0, humidity=55.0)
    sensor.clock.advance(timedelta(hours=5))
    sensor.humid_for(timedelta(hours=2), rh=64.0)
    assert [t.at for t in sensor.tasks] == [
        START + timedelta(hours=2),
        START + timedelta(hours=9, minutes=10),
    ]
    assert len({t.key for t in sensor.tasks}) == 1  # same condition, a new episode


def test_the_timer_asks_when_the_sensor_goes_quiet(sensor: Sensor) -> None:
    sensor.send(temperature=21.0, humidity=63.0)
    sensor.clock.advance(timedelta(hours=1))
    assert sensor.tick() == []
    sensor.clock.advance(timedelta(hours=1))
    (task,) = sensor.tick()
    assert task.at == START + timedelta(hours=2)
    assert sensor.tick() == []
