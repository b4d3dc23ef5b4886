"""Alarms of a period by category and severity, with the time they waited for a person.

Time to acknowledge is ``acked_at − raised_at`` of each alarm (alerts/service.py stamps
``acked_at`` when somebody acknowledges it, or its incident, whichever way it came in).
Alarms raised inside a maintenance window are counted but kept out of the times: nobody
was called for them, so their wait says nothing about the desk. The inspections' own
reminders ("the patrol window closes soon", inspections/alarms.py) are alarms only to
reach the guard on duty; they clear on sign-off and are seldom acknowledged, so they are
left out here and only counted: the inspection section reports on the patrols.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from alerts.models import Alarm
from console.reports.model import AckTimesOut, AlarmGroupOut, AlarmsOut
from inspections.alarms import DUE_RULE
from sensors.events import Category, Severity

_CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}


def alarm_summary(alarms: Sequence[Alarm]) -> AlarmsOut:
    """Counts and acknowledgement times, overall and per (category, severity)."""
    reminders = [alarm for alarm in alarms if alarm.rule == DUE_RULE]
    alarms = [alarm for alarm in alarms if alarm.rule != DUE_RULE]
    groups: dict[tuple[Category, Severity], list[Alarm]] = {}
    for alarm in alarms:
        groups.setdefault((alarm.category, alarm.severity), []).append(alarm)
    order = sorted(groups, key=lambda k: (k[1].rank, _CATEGORY_ORDER[k[0]]))
    return AlarmsOut(
        total=_times(alarms),
        groups=[
            AlarmGroupOut(
                category=category,
                severity=severity,
                **_times(groups[category, severity]).model_dump(),
            )
            for category, severity in order
        ],
        reminders=len(reminders),
    )


def _times(alarms: Sequence[Alarm]) -> AckTimesOut:
    waits = [
        (alarm.acked_at - alarm.raised_at).total_seconds()
        for alarm in alarms
        if alarm.acked_at is not None and alarm.suppressed_by is None
    ]
    acknowledged = sum(1 for alarm in alarms if alarm.acked_at is not None)
    return AckTimesOut(
        count=len(alarms),
        acknowledged=acknowledged,
        unacknowledged=len(alarms) - acknowledged,
        suppressed=sum(1 for alarm in alarms if alarm.suppressed_by is not None),
        median_ack_s=median(waits) if waits else None,
        max_ack_s=max(waits) if waits else None,
    )
