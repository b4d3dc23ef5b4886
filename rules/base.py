"""What every rule evaluator shares: the subject of an alarm and how events are built.

Every rule type follows one contract (style-anchors.md, principle 3):

    evaluate(rule, state, reading, now) -> (state, events)   # on each reading
    tick(rule, state, now) -> (state, events)                # on the timer, if it has timers

Both are pure: no clock, no I/O, no globals. ``rule`` is a frozen compiled rule, ``state``
a small frozen value the engine keeps (and persists); when nothing changes the same
state object comes back and ``NO_EVENTS``, because this runs for every reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sensors.events import AlarmEvent, Category, Severity, Transition

NO_EVENTS: tuple[AlarmEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alarm is about: a sensor, or a whole room when ``sensor`` is empty."""

    site: str
    room: str
    sensor: str = ""

    def key(self, rule_id: str) -> str:
        """The alarm key: one active alarm per (rule, sensor or room)."""
        return f"{rule_id}:{self.site}:{self.sensor or self.room}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a rule describes its alarm: who, what, how bad."""

    rule_id: str
    category: Category
    severity: Severity


def raise_event(
    verdict: Verdict,
    subject: Subject,
    now: datetime,
    message_zh: str,
    message_en: str,
    value: float | str | None = None,
    *,
    key: str | None = None,
) -> AlarmEvent:
    """The verdict's condition started (or goes on) for ``subject``."""
    return _event(Transition.RAISE, verdict, subject, now, message_zh, message_en, value, key)


def clear_event(
    verdict: Verdict,
    subject: Subject,
    now: datetime,
    value: float | str | None = None,
    *,
    key: str | None = None,
) -> AlarmEvent:
    """The verdict's condition ended for ``subject``."""
    return _event(
        Transition.CLEAR,
        verdict,
        subject,
        now,
        f"{subject.room} 已恢复正常",
        f"Back to normal in {subject.room}",
        value,
        key,
    )


def _event(
    transition: Transition,
    verdict: Verdict,
    subject: Subject,
    now: datetime,
    message_zh: str,
    message_en: str,
    value: float | str | None,
    key: str | None,
) -> AlarmEvent:
    return AlarmEvent(
        key=key or subject.key(verdict.rule_id),
        transition=transition,
        rule=verdict.rule_id,
        category=verdict.category,
        severity=verdict.severity,
        site=subject.site,
        room=subject.room,
        sensor=subject.sensor or None,
        at=now,
        message_zh=message_zh,
        message_en=message_en,
        value=value,
    )
