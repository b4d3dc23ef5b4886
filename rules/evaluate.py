"""Pure rule evaluation: (rule, state, input, now) → (new state, events).

No clock, no I/O, no shared state: the engine passes everything in and keeps what comes
back. When nothing changes the same state object is returned and no event list is built,
because this runs for every reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.model import SilenceRule, SmokeRule, ThresholdRule
from sensors.events import AlarmEvent, Category, Severity, Transition

NO_EVENTS: tuple[AlarmEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alarm is about."""

    site: str
    room: str
    sensor: str


def threshold_key(rule: ThresholdRule, s: Subject) -> str:
    return f"{rule.id}:{s.site}:{s.sensor}"


def evaluate_threshold(
    rule: ThresholdRule, active: bool, value: float, subject: Subject, now: datetime
) -> tuple[bool, tuple[AlarmEvent, ...]]:
    """Hysteresis: raise outside [low, high], clear only inside [low+margin, high-margin]."""
    if not active:
        if rule.low <= value <= rule.high:
            return False, NO_EVENTS
        side_zh, side_en, limit = (
            ("高于上限", "above the limit of", rule.high)
            if value > rule.high
            else ("低于下限", "below the limit of", rule.low)
        )
        return True, (
            AlarmEvent(
                key=threshold_key(rule, subject),
                transition=Transition.RAISE,
                rule=rule.id,
                category=rule.category,
                severity=rule.severity,
                site=subject.site,
                room=subject.room,
                sensor=subject.sensor,
                at=now,
                message_zh=(
                    f"{subject.room} {rule.label_zh} {value:g}{rule.unit}，"
                    f"{side_zh} {limit:g}{rule.unit}"
                ),
                message_en=(
                    f"{rule.label_en} {value:g}{rule.unit} in {subject.room}, "
                    f"{side_en} {limit:g}{rule.unit}"
                ),
                value=value,
            ),
        )
    if rule.low + rule.margin <= value <= rule.high - rule.margin:
        return False, (
            _clear(
                threshold_key(rule, subject),
                rule.id,
                rule.category,
                rule.severity,
                subject,
                now,
                value,
            ),
        )
    return True, NO_EVENTS


def fire_key(s: Subject) -> str:
    return f"fire:{s.site}:{s.room}"


def evaluate_smoke(
    rule: SmokeRule, smoking: frozenset[str], smoke: bool, subject: Subject, now: datetime
) -> tuple[frozenset[str], tuple[AlarmEvent, ...]]:
    """State: the room's detectors now reporting smoke. One fire alarm per room."""
    before = bool(smoking)
    if smoke == (subject.sensor in smoking):
        return smoking, NO_EVENTS
    after = smoking | {subject.sensor} if smoke else smoking - {subject.sensor}
    if smoke and not before:
        return after, (
            AlarmEvent(
                key=fire_key(subject),
                transition=Transition.RAISE,
                rule=rule.id,
                category=Category.FIRE,
                severity=Severity.CRITICAL,
                site=subject.site,
                room=subject.room,
                sensor=subject.sensor,
                at=now,
                message_zh=f"{subject.room} 火警：感烟探测器 {subject.sensor} 报警",
                message_en=f"Fire alarm in {subject.room}: smoke detector {subject.sensor}",
                value="smoke",
            ),
        )
    if before and not after:
        return after, (
            _clear(
                fire_key(subject), rule.id, Category.FIRE, Severity.CRITICAL, subject, now, "clear"
            ),
        )
    return after, NO_EVENTS


def silence_key(s: Subject) -> str:
    return f"sensor_silent:{s.site}:{s.sensor}"


def evaluate_silence(
    rule: SilenceRule, last_seen: datetime, raised: bool, subject: Subject, now: datetime
) -> tuple[bool, tuple[AlarmEvent, ...]]:
    """Called by the timer sweep: raise once the sensor has been silent for ``rule.after``."""
    if raised or now - last_seen <= rule.after:
        return raised, NO_EVENTS
    minutes = (now - last_seen).total_seconds() / 60
    return True, (
        AlarmEvent(
            key=silence_key(subject),
            transition=Transition.RAISE,
            rule=rule.id,
            category=Category.TROUBLE,
            severity=Severity.LOW,
            site=subject.site,
            room=subject.room,
            sensor=subject.sensor,
            at=now,
            message_zh=f"{subject.room} 传感器 {subject.sensor} 已 {minutes:.0f} 分钟无数据",
            message_en=f"Sensor {subject.sensor} in {subject.room} silent for {minutes:.0f} min",
            value=round(minutes, 1),
        ),
    )


def evaluate_heard(
    rule: SilenceRule, *, raised: bool, subject: Subject, now: datetime
) -> tuple[bool, tuple[AlarmEvent, ...]]:
    """A message arrived: a silence alarm, if any, clears."""
    if not raised:
        return False, NO_EVENTS
    return False, (
        _clear(silence_key(subject), rule.id, Category.TROUBLE, Severity.LOW, subject, now, None),
    )


def _clear(
    key: str,
    rule_id: str,
    category: Category,
    severity: Severity,
    s: Subject,
    now: datetime,
    value: float | str | None,
) -> AlarmEvent:
    return AlarmEvent(
        key=key,
        transition=Transition.CLEAR,
        rule=rule_id,
        category=category,
        severity=severity,
        site=s.site,
        room=s.room,
        sensor=s.sensor,
        at=now,
        message_zh=f"{s.room} 已恢复正常",
        message_en=f"Back to normal in {s.room}",
        value=value,
    )
