"""Sensor silence and the meta alarm for Lantai's own input.

Silence is judged on a server-side timer per sensor (peers.md pain point 3): no message
for ``factor`` × the sensor's expected interval raises a trouble alarm, whether or not its
Last Will arrived (archive-standards.md §6 suggests max(3 × interval, 1.5 × keep-alive)).
When Lantai itself cannot hear (broker down, store failing, a restart), one "monitoring
degraded" alarm is raised instead of one silence alarm per sensor (pain point 2), and
time Lantai could not listen does not count as a sensor's silence.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import Field

from rules.base import NO_EVENTS, Subject, Verdict, clear_event, raise_event
from rules.kinds import RuleConfig, Target
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import SensorKind

SILENCE = Verdict("sensor_silent", Category.TROUBLE, Severity.LOW)
DEGRADED_RULE = "monitoring_degraded"


class SilenceConfig(RuleConfig):
    """``type: silence`` — how many intervals of silence make a sensor 'silent'."""

    type: Literal["silence"]
    factor: float = Field(default=3.0, ge=1.5, le=100)
    applies_to: ClassVar[frozenset[SensorKind]] = frozenset(SensorKind)

    def compile(self, target: Target) -> timedelta:
        return target.sensor.interval * self.factor


def evaluate_silence(
    after: timedelta, last_seen: datetime, raised: bool, subject: Subject, now: datetime
) -> tuple[bool, tuple[AlarmEvent, ...]]:
    """Timer sweep: raise once the sensor has been silent for longer than ``after``."""
    if raised or now - last_seen <= after:
        return raised, NO_EVENTS
    minutes = (now - last_seen).total_seconds() / 60
    return True, (
        raise_event(
            SILENCE,
            subject,
            now,
            f"{subject.room} 传感器 {subject.sensor} 已 {minutes:.0f} 分钟无数据",
            f"Sensor {subject.sensor} in {subject.room} silent for {minutes:.0f} min",
            round(minutes, 1),
        ),
    )


def heard(raised: bool, subject: Subject, now: datetime) -> tuple[bool, tuple[AlarmEvent, ...]]:
    """A message arrived: a silence alarm, if any, clears."""
    if not raised:
        return False, NO_EVENTS
    return False, (clear_event(SILENCE, subject, now),)


def last_will(subject: Subject, now: datetime) -> AlarmEvent:
    """The device's Last Will said offline: do not wait out the timer."""
    return raise_event(
        SILENCE,
        subject,
        now,
        f"{subject.room} 传感器 {subject.sensor} 报告离线",
        f"Sensor {subject.sensor} in {subject.room} reported offline",
        "offline",
    )


def degraded(site: str, now: datetime, transition: Transition) -> AlarmEvent:
    """Raise or clear the site's "monitoring degraded" alarm."""
    down = transition is Transition.RAISE
    return AlarmEvent(
        key=f"{DEGRADED_RULE}:{site}",
        transition=transition,
        rule=DEGRADED_RULE,
        category=Category.SYSTEM,
        severity=Severity.HIGH,
        site=site,
        room=None,
        sensor=None,
        at=now,
        message_zh="监控降级：无法接收传感器数据（消息代理或存储故障），传感器离线告警暂停"
        if down
        else "监控已恢复",
        message_en="Monitoring degraded: sensor data is not arriving (broker or store down); "
        "sensor-silence alarms are held"
        if down
        else "Monitoring restored",
    )
