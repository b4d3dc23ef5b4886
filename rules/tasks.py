"""Inspection tasks: a condition that lasts asks a person to go and look, once.

An alarm says "something is wrong now"; a task says "this has been so for hours, check the
equipment". RH above the room class maximum (archive-standards.md §1.1, JGJ 25-2010 Table
5.2.1) for two hours is a dehumidifier that is off, full or losing the fight; the guard
on the round is the one to check it. Objects take up moisture over days, not minutes
(§4.6), so the task can wait hours where the climate alarm cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from rules.base import Subject
from rules.kinds import NO_OUTPUTS, Outputs, RuleConfig, RuleKind, Target
from sensors.duration import PositiveDuration
from sensors.events import TaskRequest
from sensors.facility import SensorKind
from sensors.reading import Reading

# What to check, by field and direction, when the config names no title.
_DEFAULT_TITLES: dict[tuple[str, str], tuple[str, str]] = {
    ("humidity", "above"): ("检查 {room} 除湿机", "Check the dehumidifier in {room}"),
    ("humidity", "below"): ("检查 {room} 加湿机", "Check the humidifier in {room}"),
    ("temperature", "above"): ("检查 {room} 空调制冷", "Check the air conditioning in {room}"),
    ("temperature", "below"): ("检查 {room} 空调制热", "Check the heating in {room}"),
}
_BOTH_TITLES = ("检查 {room} 温湿度控制设备", "Check the climate control in {room}")


class TaskConfig(RuleConfig):
    type: Literal["task"]
    field: Literal["temperature", "humidity"]
    above: float | None = None
    below: float | None = None
    # With neither bound given, ``above`` is the room class maximum for ``field`` (§1.1).
    use_class_limit: bool = True
    # Two hours: long enough that a door left open or a busy reading room does not send a
    # guard upstairs, short enough to catch a stopped dehumidifier the same shift.
    for_: PositiveDuration = Field(default=timedelta(hours=2), alias="for")
    title_zh: str | None = Field(default=None, min_length=1, max_length=200)
    title_en: str | None = Field(default=None, min_length=1, max_length=200)
    role: str = Field(default="guard", pattern=r"^[a-z][a-z0-9_]{0,31}$")

    applies_to: ClassVar[frozenset[SensorKind]] = frozenset({SensorKind.CLIMATE})

    @field_validator("title_zh", "title_en")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(room="B2-03")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"a title may use only {{room}}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.above is None and self.below is None and not self.use_class_limit:
            raise ValueError("give above or below, or use_class_limit: true")
        if self.above is not None and self.below is not None and self.below >= self.above:
            raise ValueError("below must be under above: the two conditions would overlap")
        return self

    def compile(self, target: Target) -> TaskRule:
        above, below = self.above, self.below
        if above is None and below is None:
            above = getattr(target.room.limits, self.field).max
        if above is not None and below is not None:
            default_zh, default_en = _BOTH_TITLES
        else:
            default_zh, default_en = _DEFAULT_TITLES[
                self.field, "below" if above is None else "above"
            ]
        return TaskRule(
            id=self.id,
            field=self.field,
            above=above,
            below=below,
            hold=self.for_,
            title_zh=self.title_zh or default_zh,
            title_en=self.title_en or default_en,
            role=self.role,
        )


@dataclass(frozen=True, slots=True)
class TaskRule:
    id: str
    field: Literal["temperature", "humidity"]
    above: float | None
    below: float | None
    hold: timedelta
    title_zh: str  # templates with {room}
    title_en: str
    role: str


@dataclass(frozen=True, slots=True)
class TaskState:
    """When the condition started (None: it does not hold), and whether it asked already."""

    since: datetime | None = None
    asked: bool = False


TASK_INITIAL = TaskState()


def evaluate_task(
    rule: TaskRule, state: TaskState, reading: Reading, subject: Subject, now: datetime
) -> tuple[TaskState, Outputs]:
    value = getattr(reading.payload, rule.field)
    if value is None:
        return state, NO_OUTPUTS
    above, below = rule.above, rule.below
    holds = (above is not None and value > above) or (below is not None and value < below)
    if not holds:
        # The episode is over: the next excursion may ask again.
        return (TASK_INITIAL if state.since is not None else state), NO_OUTPUTS
    if state.since is None:
        return TaskState(since=now), NO_OUTPUTS
    return tick_task(rule, state, subject, now)


def tick_task(
    rule: TaskRule, state: TaskState, subject: Subject, now: datetime
) -> tuple[TaskState, Outputs]:
    """Ask once the condition has held for ``hold``; the timer catches a sensor gone quiet."""
    since = state.since
    if state.asked or since is None or now - since < rule.hold:
        return state, NO_OUTPUTS
    room = subject.room
    task = TaskRequest(
        # Per room, not per sensor: two climate sensors in one stack ask for one visit.
        key=f"task:{rule.id}:{subject.site}:{room}",
        rule=rule.id,
        site=subject.site,
        room=room,
        at=now,
        title_zh=rule.title_zh.format(room=room),
        title_en=rule.title_en.format(room=room),
        role=rule.role,
    )
    return TaskState(since=since, asked=True), (task,)


TASK_KIND = RuleKind(
    type="task",
    config=TaskConfig,
    state=TaskState,
    initial=TASK_INITIAL,
    evaluate=evaluate_task,
    tick=tick_task,
)
KINDS = (TASK_KIND,)
